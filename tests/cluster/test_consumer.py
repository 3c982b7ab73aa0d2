"""A stream consumer keeps going when its stream's primary dies: it reconnects,
follows the slot to the promoted replica, and what it held unacknowledged when the
primary died is claimed again and settled; every event acknowledged to a publisher,
before or after the failover, is handled."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter

from redis.exceptions import ConnectionError

from pictor import events
from pictor.consumer import ConsumerSettings, Fields, StreamConsumer
from pictor.redis_client import PooledCluster
from tests.cluster import redis_nodes
from tests.harness import unique_name, wait_until

# Claims what a dead delivery left after half a second: the test waits for that.
QUICK = ConsumerSettings(batch=8, block_ms=100, claim_idle_ms=500, max_deliveries=5)


async def publish_until_acknowledged(client: PooledCluster, stream: str, n: str) -> str:
    """Publishes as a caller that retries while the cluster fails over would."""
    acknowledged: list[str] = []

    async def published() -> bool:
        with contextlib.suppress(ConnectionError):
            acknowledged.append(await events.publish(client, stream, {"n": n}))
        return bool(acknowledged)

    await wait_until(published, within=30, interval=0.2)
    return acknowledged[0]


async def test_a_consumer_carries_on_through_a_failover_of_its_stream(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    stream = unique_name("events:failover")
    shard = await redis_nodes.shard_of(cluster_client, stream)
    handled: Counter[str] = Counter()
    primary_killed = asyncio.Event()

    async def handle(message_id: str, fields: Fields) -> None:
        handled[fields["n"]] += 1
        if fields["n"] == "held" and handled["held"] == 1:
            await primary_killed.wait()  # dies in hand: its acknowledgement cannot land

    consumer = StreamConsumer(cluster_client, stream, "workers", handle, settings=QUICK)
    stopping = asyncio.Event()
    running = asyncio.create_task(consumer.run(stopping))
    try:
        await publish_until_acknowledged(cluster_client, stream, "before")
        await publish_until_acknowledged(cluster_client, stream, "held")

        async def in_hand() -> bool:
            return handled["held"] == 1 and handled["before"] == 1

        await wait_until(in_hand, within=10, interval=0.02)
        redis_nodes.kill(shard.primary)
        primary_killed.set()

        async def promoted() -> bool:
            return await redis_nodes.is_primary(shard.replica)

        await wait_until(promoted, within=30, interval=0.2)
        redis_nodes.bring_back(shard.primary)
        await publish_until_acknowledged(cluster_client, stream, "after")

        async def all_settled() -> bool:
            pending = await cluster_client.xpending(stream, "workers")
            return set(handled) == {"before", "held", "after"} and pending["pending"] == 0

        await wait_until(all_settled, within=30, interval=0.2)
        assert handled["held"] == 2  # once when the primary died, once reclaimed
        assert not running.done(), "the consumer gave up"
    finally:
        stopping.set()
        await running
