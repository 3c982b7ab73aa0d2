"""Live updates: one process's sharded pub/sub subscription, shared by every watcher
it serves (feed_svc's home feeds and notifications, media_svc's upload statuses).

A watcher hears the channels it names. A subscription per watcher would hold one
Redis connection each (one per node on a cluster) for as long as the watch lasts, so
a few dozen watchers would starve the process's commands. Instead each process keeps
one subscription (one connection; on a cluster, one per node holding a subscribed
channel), subscribes a channel while at least one watcher wants it, and one reader,
run beside the server, hands each message to the watchers of its channel.

Sharded pub/sub (SSUBSCRIBE, SPUBLISH) on both topologies: on a cluster a message
stays on its channel's shard instead of being broadcast to every node, and one
server (Redis 7) takes the same commands.

On a cluster, redis-py's ClusterPubSub reads its per-node connections in turn, each
for the timeout given, so the reader waits CLUSTER_POLL_SECONDS at a time; one
server's PubSub waits on its one connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import Any

from redis.asyncio.client import PubSub
from redis.asyncio.cluster import ClusterPubSub, RedisCluster
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import SlotNotCoveredError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pictor.redis_client import ClusterUnavailable, PooledCluster, RedisClient, text

log = logging.getLogger(__name__)

CLUSTER_POLL_SECONDS = 0.1
SERVER_POLL_SECONDS = 1.0
# How long a new watcher waits for Redis to confirm its subscription.
CONFIRM_SECONDS = 5.0
# Redis unreachable: the reader tries again after this long.
RECONNECT_SECONDS = 0.5


class LiveChannels:
    def __init__(self, client: RedisClient) -> None:
        self._client = client
        self._pubsub: PubSub | ClusterPubSub = client.pubsub()
        self._watchers: dict[str, set[asyncio.Queue[bytes]]] = {}
        self._confirmed: dict[str, asyncio.Event] = {}
        # Subscribing and unsubscribing one at a time keeps the counts and Redis agreed.
        self._lock = asyncio.Lock()
        self._wanted = asyncio.Event()
        self._closed = False

    async def add(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        """Hands ``channel``'s messages to ``queue`` from now on: returns once Redis
        has confirmed the subscription, so nothing published after is missed."""
        async with self._lock:
            if self._closed:
                raise RedisConnectionError("live updates have stopped")
            if channel not in self._watchers:
                await self._subscribe(channel)
            self._watchers[channel].add(queue)
            confirmed = self._confirmed[channel]
        try:
            async with asyncio.timeout(CONFIRM_SECONDS):
                await confirmed.wait()
        except TimeoutError:
            await self.remove(channel, queue)
            raise RedisConnectionError(
                f"no confirmation of the subscription to {channel}"
            ) from None

    async def _subscribe(self, channel: str) -> None:
        # Expected before it is asked for: the reader may see the confirmation first.
        self._confirmed[channel] = asyncio.Event()
        try:
            if isinstance(self._client, RedisCluster):
                # ClusterPubSub finds a channel's node in the slot map, but leaves
                # reading the map to the client's first command.
                await self._client.initialize()
            await self._pubsub.ssubscribe(channel)
        except BaseException as error:
            del self._confirmed[channel]
            if isinstance(error, SlotNotCoveredError):
                raise ClusterUnavailable(str(error)) from error
            raise
        self._watchers[channel] = set()
        self._wanted.set()

    async def remove(self, channel: str, queue: asyncio.Queue[bytes]) -> None:
        async with self._lock:
            queues = self._watchers.get(channel, set())
            queues.discard(queue)
            if queues or channel not in self._watchers:
                return
            del self._watchers[channel], self._confirmed[channel]
            if not self._watchers:
                self._wanted.clear()
            if not self._closed:  # a closed subscription has nothing left to undo
                await self._pubsub.sunsubscribe(channel)

    @contextlib.asynccontextmanager
    async def reading(self) -> AsyncIterator[LiveChannels]:
        """Runs the reader until the block ends. Entered with a service's connections,
        it outlives the server's drain on SIGTERM, so the calls still in flight (an
        upload followed to READY) keep hearing until they end."""
        stopping = asyncio.Event()
        reader = asyncio.create_task(self.run(stopping))
        # New watchers are refused from then on (add raises), but say why at once.
        reader.add_done_callback(_report_failure)
        try:
            yield self
        finally:
            stopping.set()
            await reader

    async def run(self, stopping: asyncio.Event) -> None:
        """Reads and hands out messages until ``stopping`` is set; then unsubscribes."""
        async with self._counted_connection():
            await self._read_until(stopping)

    def _counted_connection(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The subscription's connections, counted against the process's cap. One
        server's pool lends the subscription one of its connections. A cluster client's
        subscription takes one from each node it subscribes on, outside any command, so
        it holds one of the client's connection slots for as long as it runs: the
        commands in flight then always find a free connection on every node."""
        if isinstance(self._client, PooledCluster):
            return self._client.connection_slot()
        return contextlib.nullcontext()

    async def _read_until(self, stopping: asyncio.Event) -> None:
        stopped = asyncio.create_task(stopping.wait())
        try:
            while not stopping.is_set():
                wanted = asyncio.create_task(self._wanted.wait())
                await asyncio.wait({stopped, wanted}, return_when=asyncio.FIRST_COMPLETED)
                wanted.cancel()
                if not stopping.is_set():
                    await self._read_once(stopping)
        finally:
            stopped.cancel()
            async with self._lock:
                self._closed = True
                await self._pubsub.aclose()

    async def _read_once(self, stopping: asyncio.Event) -> None:
        try:
            message = await self._next_message()
        except (RedisConnectionError, RedisTimeoutError) as error:
            # The next read reconnects and subscribes again to every channel.
            log.warning("live updates: lost Redis (%s); reconnecting", error)
            # Backoff, not synchronisation: wakes early only to stop.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), RECONNECT_SECONDS)
            return
        if message is None:
            return
        channel = text(message["channel"])
        if message["type"] == "ssubscribe" and channel in self._confirmed:
            self._confirmed[channel].set()
        elif message["type"] == "smessage":
            for queue in self._watchers.get(channel, ()):
                queue.put_nowait(message["data"])

    async def _next_message(self) -> dict[str, Any] | None:
        if isinstance(self._pubsub, ClusterPubSub):
            return await self._pubsub.get_sharded_message(timeout=CLUSTER_POLL_SECONDS)
        message: dict[str, Any] | None = await self._pubsub.get_message(timeout=SERVER_POLL_SECONDS)
        return message


class LiveListener:
    """One watcher's channels on its process's shared subscription."""

    def __init__(self, channels: LiveChannels) -> None:
        self._shared = channels
        self._arrived: asyncio.Queue[bytes] = asyncio.Queue()
        self.channels: set[str] = set()

    async def listen(self, channels: Iterable[str]) -> None:
        for channel in sorted(set(channels) - self.channels):
            await self._shared.add(channel, self._arrived)
            self.channels.add(channel)

    async def stop_listening(self, channels: Iterable[str]) -> None:
        for channel in sorted(set(channels) & self.channels):
            self.channels.discard(channel)
            await self._shared.remove(channel, self._arrived)

    async def arrived(self) -> bytes:
        """The next message's data, waiting as long as it takes."""
        return await self._arrived.get()

    async def next(self, wait_seconds: float) -> bytes | None:
        """The next message's data, or None if none came within ``wait_seconds``."""
        try:
            async with asyncio.timeout(wait_seconds):
                return await self.arrived()
        except TimeoutError:
            return None

    async def aclose(self) -> None:
        await self.stop_listening(list(self.channels))


def _report_failure(reader: asyncio.Task[None]) -> None:
    if not reader.cancelled() and (error := reader.exception()) is not None:
        log.error("live updates stopped: %r", error)
