"""At-least-once consumption of a Redis Stream through a consumer group.

Every handler must be idempotent: a message is acknowledged only after its handler
returns, so a consumer that dies mid-message leaves it pending, and after
``claim_idle_ms`` any consumer of the group claims it (XAUTOCLAIM) and runs it again.
A message whose handler keeps failing is moved, with its last error, to the
dead-letter stream ``{<stream>}.dead`` after ``max_deliveries`` tries: nothing is lost
silently and nothing blocks the messages behind it forever. A failure because a part
the handler needs is down (:mod:`pictor.outages`) is not the message's: such a
message is tried again for as long as the outage lasts and never dead-lettered.

On a Redis Cluster a message is acknowledged only once what its handler wrote to Redis
is held by a replica too (``PooledCluster.writes_replicated``): replication is
asynchronous, and a primary killed between answering a handler's writes and copying
them would take them with it after the message was acknowledged, so that no
redelivery would write them again (a post missing from a timeline, or from its
author's recent posts, for good). A handler whose writes no replica confirms is an
outage: the message is handled again, as it is when a primary failed over while the
handler ran (the promoted replica may lack what the handler wrote there).

Losing Redis, or on a Redis Cluster the stream's primary, does not stop a consumer:
it waits for the stream to be served again (by the promoted replica: the client
follows the redirection), makes its group again if the failover lost it, and what
it held unacknowledged is claimed again from the pending list once idle.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT, FieldT

from pictor.config import Settings
from pictor.outages import is_outage
from pictor.redis_client import PooledCluster, RedisClient, text

log = logging.getLogger(__name__)

# Redis unreachable: wait this long before trying again, doubling up to the cap.
RECONNECT_FIRST_SECONDS = 0.1
RECONNECT_MAX_SECONDS = 2.0
_LOST = (RedisConnectionError, RedisTimeoutError)

T = TypeVar("T")

Fields = Mapping[str, str]
Handler = Callable[[str, Fields], Awaitable[None]]
GiveUp = Callable[[str, Fields, Exception], Awaitable[None]]


@dataclass(frozen=True)
class ConsumerSettings:
    batch: int = 16
    block_ms: int = 1000
    # A pending message untouched this long is presumed orphaned by a dead consumer.
    claim_idle_ms: int = 30_000
    max_deliveries: int = 5
    # Messages of one batch handled at once (the media worker overlaps two photos).
    concurrency: int = 1

    @classmethod
    def of(cls, settings: Settings, concurrency: int = 1) -> ConsumerSettings:
        return cls(
            claim_idle_ms=settings.worker_claim_idle_ms,
            max_deliveries=settings.worker_max_deliveries,
            concurrency=concurrency,
        )


def consumer_name() -> str:
    """Unique per process, so a restarted worker claims its predecessor's messages."""
    return f"{socket.gethostname()}-{os.getpid()}"


def dead_letter_stream(stream: str) -> str:
    """The stream's name as the hash tag: on a Redis Cluster both live in one slot, so
    burying or replaying a message moves it in one transaction."""
    return f"{{{stream}}}.dead"


# Fields the dead-letter stream adds to a message's own.
_BURIAL_FIELDS = (b"original_id", b"error")


async def replay_dead(
    client: RedisClient, stream: str, message_ids: Sequence[str] = ()
) -> list[str]:
    """Moves dead-lettered messages (all, or those named by their dead-letter id) back
    onto ``stream`` with their own fields, once its handler is fixed; returns the new
    ids. Each moves in one transaction: never lost, never twice."""
    dead = dead_letter_stream(stream)
    entries = (
        [
            entry
            for message_id in message_ids
            for entry in _entries(await client.xrange(dead, message_id, message_id))
        ]
        if message_ids
        else _entries(await client.xrange(dead))
    )
    replayed = []
    for dead_id, fields in entries:
        original: dict[FieldT, EncodableT] = {
            k: v for k, v in fields.items() if k not in _BURIAL_FIELDS
        }
        async with client.pipeline(transaction=True) as pipe:
            pipe.xadd(stream, original)
            pipe.xdel(dead, dead_id)
            new_id, _ = await pipe.execute()
        replayed.append(text(new_id))
    return replayed


class StreamConsumer:
    def __init__(
        self,
        client: RedisClient,
        stream: str,
        group: str,
        handle: Handler,
        *,
        give_up: GiveUp | None = None,
        settings: ConsumerSettings = ConsumerSettings(),
        name: str | None = None,
    ) -> None:
        self._redis = client
        self._stream = stream
        self._group = group
        self._handle = handle
        self._give_up = give_up
        self._settings = settings
        self.name = name or consumer_name()

    async def ensure_group(self) -> None:
        try:
            await self._redis.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def run(self, stopping: asyncio.Event) -> None:
        """Consumes until ``stopping`` is set, keeping up to ``concurrency`` messages in
        hand (a slot is refilled as soon as it frees); those are always finished.

        Losing Redis does not end it: it waits for Redis to come back, makes the group
        again if Redis came back without it, and carries on; what it held unacknowledged
        is still pending there (or, if Redis lost it, was lost with the stream)."""
        await self._until_connected(stopping, self.ensure_group)
        log.info("consuming %s as %s/%s", self._stream, self._group, self.name)
        in_hand: set[asyncio.Task[None]] = set()
        try:
            while not stopping.is_set():
                free = self._settings.concurrency - len(in_hand)
                if free <= 0:
                    _, in_hand = await asyncio.wait(in_hand, return_when=asyncio.FIRST_COMPLETED)
                    continue
                # Backs off while reads fail, even when making the group again succeeds.
                entries = await self._until_connected(stopping, functools.partial(self._read, free))
                for message_id, fields in entries or ():
                    in_hand.add(asyncio.create_task(self._deliver(message_id, fields)))
        finally:
            if in_hand:
                await asyncio.wait(in_hand)

    async def _until_connected(
        self, stopping: asyncio.Event, attempt: Callable[[], Awaitable[T]]
    ) -> T | None:
        """Runs ``attempt`` until Redis answers it, backing off; returns its result (None
        if stopping first)."""
        pause = RECONNECT_FIRST_SECONDS
        while not stopping.is_set():
            try:
                return await attempt()
            except _LOST as error:
                log.warning(
                    "%s: Redis unreachable (%s); retrying in %.1fs", self._stream, error, pause
                )
            # Backoff, not synchronisation: wakes early only to stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), pause)
            pause = min(pause * 2, RECONNECT_MAX_SECONDS)
        return None

    async def _read(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """``_next``, or nothing after making the group again if Redis lost it."""
        try:
            return await self._next(count)
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            log.warning("%s: lost group %s (%s); making it again", self._stream, self._group, error)
            await self.ensure_group()
            return []

    async def run_once(self) -> int:
        """Reclaims orphaned messages or reads new ones, and handles them; returns how
        many it handled."""
        entries = await self._next(self._settings.batch)
        for message_id, fields in entries:
            await self._deliver(message_id, fields)
        return len(entries)

    async def _next(self, count: int) -> list[tuple[str, dict[str, str]]]:
        """Up to ``count`` messages: orphans first, else new ones (waits up to block_ms)."""
        entries = await self._claim_orphans(count)
        if not entries:
            response: Any = await self._redis.xreadgroup(
                self._group,
                self.name,
                {self._stream: ">"},
                count=count,
                block=self._settings.block_ms,
            )
            entries = [
                entry for _, stream_entries in response or () for entry in _entries(stream_entries)
            ]
        return [
            (text(message_id), {text(k): text(v) for k, v in fields.items()})
            for message_id, fields in entries
        ]

    async def _claim_orphans(self, count: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        _, claimed, _deleted = await self._redis.xautoclaim(
            self._stream,
            self._group,
            self.name,
            min_idle_time=self._settings.claim_idle_ms,
            start_id="0-0",
            count=count,
        )
        return _entries(claimed)

    async def _deliver(self, message_id: str, fields: Fields) -> None:
        try:
            await self._settle(message_id, fields)
        except (*_LOST, ResponseError) as error:
            if isinstance(error, ResponseError) and "NOGROUP" not in str(error):
                raise
            # Not acknowledged: still pending, it is handled again once Redis is back
            # (or, if the group was lost in a failover, read again from the stream).
            log.warning("%s %s: lost Redis while settling it (%s)", self._stream, message_id, error)

    async def _settle(self, message_id: str, fields: Fields) -> None:
        cluster = self._redis if isinstance(self._redis, PooledCluster) else None
        began = cluster.primaries() if cluster else frozenset()
        try:
            await self._handle(message_id, fields)
            if cluster:
                # Acknowledged, the message is never delivered again: what its handler
                # wrote to Redis must first be safe from a failover.
                await cluster.writes_replicated(since=began)
        except Exception as error:
            if is_outage(error):
                # Not the message's fault: kept pending for as long as the part is down
                # (claimed again once idle), whatever its count of deliveries says.
                log.warning(
                    "%s %s: a part it needs is down (%s); it will be retried",
                    self._stream,
                    message_id,
                    error,
                )
                return
            deliveries = await self._deliveries(message_id)
            if deliveries < self._settings.max_deliveries:
                log.warning(
                    "%s %s failed (delivery %d of %d); it will be retried",
                    self._stream,
                    message_id,
                    deliveries,
                    self._settings.max_deliveries,
                    exc_info=error,
                )
                return
            await self._bury(message_id, fields, error)
            return
        await self._redis.xack(self._stream, self._group, message_id)

    async def _deliveries(self, message_id: str) -> int:
        pending = await self._redis.xpending_range(
            self._stream, self._group, min=message_id, max=message_id, count=1
        )
        return int(pending[0]["times_delivered"]) if pending else 1

    async def _bury(self, message_id: str, fields: Fields, error: Exception) -> None:
        log.error("%s %s failed for good; dead-lettered", self._stream, message_id, exc_info=error)
        if self._give_up is not None:
            await self._give_up(message_id, fields, error)
        burial: dict[FieldT, EncodableT] = {k: v for k, v in fields.items()}
        burial["original_id"] = message_id
        burial["error"] = f"{type(error).__name__}: {error}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xadd(dead_letter_stream(self._stream), burial)
            pipe.xack(self._stream, self._group, message_id)
            await pipe.execute()


def _entries(response: Any) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """Stream entries as redis-py returns them (its types allow None everywhere).
    Entries trimmed from the stream while pending come back without fields: dropped."""
    return [(message_id, fields) for message_id, fields in response or () if fields]
