"""No acknowledged event is lost when the stream's primary dies: ``publish`` returns
only once a replica holds the event, so the replica promoted in the primary's place
has every event whose publishing was acknowledged.

Replication on one machine takes microseconds, so the race is made certain: the
replica is frozen (SIGSTOP) and the primary given more writes than the sockets
between them hold, so that the replication stream backs up in the primary, as it
does behind a replica that lags under load; then an event is appended and the
primary killed. A plain XADD is acknowledged at once and lost with the primary:
this test then fails (checked by replacing publish's WAIT with a plain XADD)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from redis.exceptions import ConnectionError

from pictor import events
from pictor.redis_client import NotReplicated, PooledCluster
from tests.cluster import redis_nodes
from tests.harness import unique_name, wait_until

# More than loopback's socket buffers hold (a few MB each way) on the replication link.
BACKLOG_MB = 32


async def stream_ids(port: int, stream: str) -> set[str]:
    """The ids a node holds in the stream, asked of that node alone (a replica too)."""
    async with redis_nodes.asked_alone(port) as node:
        found: Any = await node.xrange(stream)
    return {message_id.decode() for message_id, _ in found}


async def test_an_acknowledged_event_survives_the_loss_of_its_primary(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    stream = unique_name("events:durable")
    shard = await redis_nodes.shard_of(cluster_client, stream)
    acknowledged = {await events.publish(cluster_client, stream, {"n": "before"})}

    with redis_nodes.frozen(shard.replica):
        for n in range(BACKLOG_MB):  # keys in the stream's slot: the same link
            await cluster_client.set(f"{{{stream}}}:backlog:{n}", b"x" * 1_000_000)
        publishing = asyncio.create_task(events.publish(cluster_client, stream, {"n": "during"}))

        async def appended() -> bool:
            return len(await stream_ids(shard.primary, stream)) == 2

        await wait_until(appended, within=5, interval=0.005)
        redis_nodes.kill(shard.primary)
    with contextlib.suppress(ConnectionError):  # refused: its caller was told to retry
        acknowledged.add(await publishing)

    await wait_until(lambda: redis_nodes.is_primary(shard.replica), within=30, interval=0.2)
    assert acknowledged <= await stream_ids(shard.replica, stream)
    redis_nodes.bring_back(shard.primary)


async def test_publishing_works_again_once_the_shard_has_a_replica(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    stream = unique_name("events:durable")
    shard = await redis_nodes.shard_of(cluster_client, stream)
    redis_nodes.kill(shard.primary)
    await wait_until(lambda: redis_nodes.is_primary(shard.replica), within=30, interval=0.2)
    # The promoted replica has no replica of its own: nothing is acknowledged unsafely.
    with pytest.raises(NotReplicated):
        await events.publish(cluster_client, stream, {"n": "alone"})

    redis_nodes.bring_back(shard.primary)
    event_id = await events.publish(cluster_client, stream, {"n": "after"})
    assert event_id in await stream_ids(shard.replica, stream)
    assert event_id in await stream_ids(shard.primary, stream)
