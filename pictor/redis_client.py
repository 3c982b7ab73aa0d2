"""The Redis connection every process uses, for events (streams, consumer groups), the
hydration caches, timelines and live updates: one server, or a Redis Cluster when
``redis_cluster`` is set. Both behave alike towards their callers:

- A caller waits for a free connection and gives up, as UNAVAILABLE (a redis
  ``ConnectionError``), only after ``redis_pool_timeout_seconds``. redis-py's pools
  raise at once when every connection is busy (the cluster client's per-node pools
  too), which would turn a burst into errors.
- A pooled connection that Redis dropped (a restart, a failover) fails its next
  command; that command is retried on a fresh connection, so the first call after
  Redis comes back succeeds. Retried commands are ones whose effect a repeat leaves
  alone, or events whose consumers are idempotent.

On a cluster, redis-py's client also follows MOVED and ASK itself and re-reads the
slot map after a broken connection, so once a dead primary's replica is promoted
(``cluster-node-timeout`` plus an election) commands reach it. Until then commands
for its slots fail; so that every boundary reports that as UNAVAILABLE (retry) and
not as an internal error, a cluster that cannot serve a slot (CLUSTERDOWN, TRYAGAIN,
redirections that never settle, an uncovered slot) raises :class:`ClusterUnavailable`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Sequence
from contextvars import ContextVar
from typing import Any, TypeAlias

import redis.asyncio as redis
from redis.asyncio.cluster import (
    ClusterNode,
    ClusterPipeline,
    PipelineCommand,
    RedisCluster,
    TransactionStrategy,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.event import EventDispatcherInterface
from redis.exceptions import (
    AskError,
    ClusterError,
    ConnectionError,
    RedisClusterException,
    TryAgainError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from pictor.coalescing import Coalesced
from pictor.config import Settings

# Tries of a command whose connection broke: on one server backing off 50 ms, 100 ms,
# 200 ms; on a cluster each after re-reading the slot map (redis-py 8.1's cluster
# client uses only the count of its Retry).
RETRIES = 3

RedisClient: TypeAlias = "redis.Redis | PooledCluster"

# On a cluster, replicas that must hold a write before it is acknowledged, where losing
# it with its primary would lose it for good (events, pushes), and how long to wait for
# them (a live replica answers within a millisecond on one network).
REPLICAS = 1
REPLICA_WAIT_MS = 500

# A cluster that cannot serve a slot right now (failing over, a redirection loop). A
# MOVED or ASK reaches a caller only once redis-py's own tries have followed it and
# met another each time: after a failover, a primary back as a replica answers MOVED,
# and for its first seconds it may also still hand out the old slot map.
_FAILING_OVER = (ClusterError, TryAgainError, AskError)
# What makes on_primary find the slot's owner again and send its commands again.
_RESEND = (AskError, TryAgainError, ConnectionError, RedisTimeoutError)


class ClusterUnavailable(ConnectionError):
    """The slot's primary is gone and no replica has taken over yet."""


class NotReplicated(ConnectionError):
    """Writes reached their primary but no replica confirmed them in time: they may or
    may not survive it, so the caller retries (UNAVAILABLE); what is written this way
    is idempotent."""


def open_redis(settings: Settings) -> RedisClient:
    if settings.redis_cluster:
        return PooledCluster(settings)
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
        retry_on_error=[ConnectionError, RedisTimeoutError],
    )
    # The client owns its pool: closing it closes every connection.
    return redis.Redis.from_pool(pool)


# Set while a task holds one of a PooledCluster's connection slots, so that redis-py
# calling back into the client (a pipeline following a MOVED) takes no second slot.
_holding: ContextVar[bool] = ContextVar("holding_a_redis_slot", default=False)


class PooledCluster(RedisCluster):
    """redis-py's cluster client whose callers wait for a free connection: at most
    ``redis_max_connections`` commands or pipelines are in flight, each using at most
    one connection per node, so no node's pool (of that size) is ever exhausted."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(
            startup_nodes=[ClusterNode(host, port) for host, port in settings.redis_nodes()],
            max_connections=settings.redis_max_connections,
            retry=Retry(NoBackoff(), RETRIES),
        )
        self._slots = asyncio.Semaphore(settings.redis_max_connections)
        self._slot_timeout = settings.redis_pool_timeout_seconds
        self._barrier: Coalesced[None, None] = Coalesced(self._barrier_once)
        # Per primary (by name), a key of a slot it serves: where its barrier writes.
        self._marks: dict[str, str] = {}

    @contextlib.asynccontextmanager
    async def connection_slot(self) -> AsyncIterator[None]:
        """Waits for a free connection (or fails as UNAVAILABLE), and makes what fails
        because the cluster is failing over fail as ClusterUnavailable."""
        if _holding.get():
            yield
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), self._slot_timeout)
        except TimeoutError as error:  # asyncio's, the builtin
            raise ConnectionError("No connection available.") from error
        token = _holding.set(True)
        try:
            yield
        except _FAILING_OVER as error:
            raise ClusterUnavailable(str(error)) from error
        except (AttributeError, RuntimeError) as error:
            # redis-py 8.1 closes every node's connections when a node reports
            # CLUSTERDOWN, under commands other tasks are sending on them; those fail
            # inside the connection (its writer gone, its transport closed): the
            # connection broke.
            if not _inside_a_connection(error):
                raise
            raise ClusterUnavailable(f"connection closed under the command: {error}") from error
        except RedisClusterException as error:
            # No node answered (the slot map could not be read), or the map has a hole.
            if isinstance(error.__cause__, (ConnectionError, RedisTimeoutError, OSError)) or (
                "not covered" in str(error)
            ):
                raise ClusterUnavailable(str(error)) from error
            raise
        finally:
            _holding.reset(token)
            self._slots.release()

    async def execute_command(self, *args: EncodableT, **kwargs: Any) -> Any:
        async with self.connection_slot():
            return await super().execute_command(*args, **kwargs)

    def pipeline(
        self, transaction: Any | None = None, shard_hint: Any | None = None
    ) -> ClusterPipeline:
        if shard_hint:
            return super().pipeline(transaction, shard_hint)  # refused by redis-py
        return _PooledPipeline(self, transaction)

    async def on_primary(self, key: str, *commands: Sequence[EncodableT]) -> list[Any]:
        """Sends ``commands`` back to back on one connection of the primary that serves
        ``key``'s slot, and returns their replies. For what needs that one connection
        (``WAIT`` counts only the writes of the connection it is sent on), so nothing
        is redirected or retried on another connection within a try: after a MOVED, a
        TRYAGAIN or a broken connection, the client finds the slot's owner again and
        the whole sequence is sent again, up to RETRIES times."""
        attempt = 0
        while True:
            replies, failed = await self._send_pinned(key, commands)
            if failed is None:
                return replies
            if attempt < RETRIES and isinstance(failed, _RESEND):
                attempt += 1
                # A keyed command through the client follows the redirection, or
                # re-reads the slot map after a broken connection: the next try goes
                # where the slot lives now.
                await self.exists(key)
                continue
            if isinstance(failed, (AskError, TryAgainError)):  # a slot still moving
                raise ClusterUnavailable(str(failed)) from failed
            raise failed

    async def replicated(self, key: str, *commands: Sequence[EncodableT]) -> list[Any]:
        """``commands`` sent as ``on_primary`` sends them, answered only once a replica
        holds them too (``WAIT``), so that a failover cannot lose what was answered;
        NotReplicated when no replica confirms within REPLICA_WAIT_MS (the primary has
        lost its replica, or is dying)."""
        *replies, replicas = await self.on_primary(
            key, *commands, ("WAIT", REPLICAS, REPLICA_WAIT_MS)
        )
        if replicas < REPLICAS:
            raise NotReplicated(f"no replica confirmed {len(commands)} writes near {key!r}")
        return replies

    def primaries(self) -> frozenset[str]:
        """The primaries the client knows of now, by name (host:port)."""
        return frozenset(node.name for node in self.get_primaries())

    async def writes_replicated(self, since: frozenset[str] = frozenset()) -> None:
        """Returns once every write a primary had answered before the call, on any of
        its connections, is held by its replica too; NotReplicated (or
        ClusterUnavailable) otherwise. Each primary is given one write and ``WAIT``:
        replication is one ordered stream per primary, so a replica that holds that
        write holds every earlier one. Calls that arrive while one is under way share
        the next, so a consumer settling many messages at once costs a round trip per
        primary, not one per message.

        A primary with no replica connected (its replica lost, until one is back) is
        not waited on: its writes are then as safe as the primary alone, and waiting
        would stop every consumer for as long as the replica stays away. Such is a
        replica just promoted in a failover, which may lack what its primary answered:
        so a primary of ``since`` (``primaries()`` when the writes began) that is one
        no longer makes the writes NotReplicated."""
        await self._barrier(None, None)
        failed_over = since - self.primaries()
        if failed_over:
            raise NotReplicated(f"{', '.join(sorted(failed_over))} failed over meanwhile")

    async def _barrier_once(self, _: None, __: None) -> None:
        await self.initialize()
        await asyncio.gather(*(self._settled_on(self._mark(p)) for p in self.get_primaries()))

    async def _settled_on(self, mark: str) -> None:
        """The barrier on the primary that serves ``mark``, if it has a replica."""
        ((kind, _, replicas),) = await self.on_primary(mark, ("ROLE",))
        if text(kind) == "master" and replicas:
            await self.replicated(mark, ("SET", mark, 1, "PX", 60_000))

    def _mark(self, primary: ClusterNode) -> str:
        """A key of a slot that ``primary`` serves, for a write there (found once, and
        again only after the slots moved)."""
        mark = self._marks.get(primary.name)
        if mark is not None and self._serves(primary, mark):
            return mark
        for number in range(100_000):
            mark = f"pictor:replicated:{{{number}}}"
            if self._serves(primary, mark):
                self._marks[primary.name] = mark
                return mark
        raise ClusterUnavailable(f"{primary.name} serves no slot")

    def _serves(self, primary: ClusterNode, key: str) -> bool:
        node = self.get_node_from_key(key)
        return node is not None and node.name == primary.name

    async def _send_pinned(
        self, key: str, commands: Sequence[Sequence[EncodableT]]
    ) -> tuple[list[Any], Exception | None]:
        async with self.connection_slot():
            await self.initialize()
            node = self.get_node_from_key(key)
            if node is None:
                raise ClusterUnavailable(f"no node serves {key!r}")
            sent = [PipelineCommand(i, *command) for i, command in enumerate(commands)]
            try:
                await node.execute_pipeline(sent)
            except (ConnectionError, RedisTimeoutError) as error:
                return [], error
            replies = [command.result for command in sent]
            return replies, next((r for r in replies if isinstance(r, Exception)), None)


def _inside_a_connection(error: BaseException) -> bool:
    """Whether the error was raised while a redis-py connection was sending or reading."""
    frame = error.__traceback__
    while frame is not None:
        if frame.tb_frame.f_code.co_filename.endswith(_CONNECTION_MODULE):
            return True
        frame = frame.tb_next
    return False


_CONNECTION_MODULE = os.path.join("redis", "asyncio", "connection.py")


class _PooledPipeline(ClusterPipeline):
    """A cluster pipeline that runs within one of its client's connection slots."""

    # Declared by redis-py's typing protocol, never set by ClusterPipeline itself.
    _event_dispatcher: EventDispatcherInterface

    def __init__(self, client: PooledCluster, transaction: Any | None) -> None:
        super().__init__(client, transaction)
        self._pool = client
        if transaction:
            self._execution_strategy = _FreshTransaction(self)

    async def execute(
        self, raise_on_error: bool = True, allow_redirections: bool = True
    ) -> list[Any]:
        async with self._pool.connection_slot():
            return await super().execute(raise_on_error, allow_redirections)


class _FreshTransaction(TransactionStrategy):
    """A transaction that, when its node closed its connection, lets go of every other
    pooled connection to that node too, as a command does (redis-py's client closes its
    connections on a connection error). Otherwise, after a node restarts, each try takes
    another connection the node had closed, and the transaction fails however many
    tries it has."""

    async def _reinitialize_on_error(self, error: Exception, failure_count: int) -> None:
        node = self._transaction_node
        if isinstance(error, (ConnectionError, OSError)) and node is not None:
            node.update_active_connections_for_reconnect()
            await node.disconnect_free_connections()
        await super()._reinitialize_on_error(error, failure_count)  # type: ignore[no-untyped-call]


def text(value: bytes | str) -> str:
    """A reply as text (clients may be opened with or without decoding)."""
    return value.decode() if isinstance(value, bytes) else value
