"""A process's live subscription (pictor.live), on Redis opened as the services open
it: a Redis Cluster under the cluster topology."""

from __future__ import annotations

import asyncio

from gateway.config import GatewaySettings
from pictor.live import LiveChannels, LiveListener
from tests.feed_svc.conftest import redis_of

# A key and a channel on one slot, so on a cluster one node serves both.
KEY = "live-test:{shared}"
CHANNEL = "live-test-channel:{shared}"
BURST = 20


async def test_the_subscription_leaves_commands_their_connections(
    settings: GatewaySettings,
) -> None:
    """The subscription is one of the process's Redis connections: with two, and a
    channel watched where a key lives, a burst of commands on that key all get a
    connection (waiting their turn, never refused), and the watcher still hears."""
    few = settings.model_copy(update={"redis_max_connections": 2})
    async with redis_of(few) as client, LiveChannels(client).reading() as channels:
        listener = LiveListener(channels)
        await listener.listen([CHANNEL])
        try:
            await client.set(KEY, "kept", ex=60)

            read = await asyncio.gather(*(client.get(KEY) for _ in range(BURST)))

            assert read == [b"kept"] * BURST
            await client.spublish(CHANNEL, "still live")
            assert await listener.next(wait_seconds=5) == b"still live"
        finally:
            await listener.aclose()
            await client.delete(KEY)
