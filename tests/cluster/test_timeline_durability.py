"""No write of an acknowledged message is lost when its primary dies: a consumer
acknowledges a message only once a replica holds what its handler wrote, so a fan-out
job acknowledged has its post in the timeline of the replica promoted in the primary's
place. Otherwise the follower's timeline, built and in use, would lack the post for
good: the job is never delivered again, and nothing rebuilds a timeline that exists.

The race is made certain as in test_events.py: the timeline's replica is frozen and
its primary given more writes than the sockets between them hold, then the job
handled and the primary killed. A consumer that acknowledges as soon as its handler
returns acknowledges a push that is lost with the primary: this test then fails."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

from redis.exceptions import ConnectionError

from feed_svc.entries import Entry
from feed_svc.keys import feed_built_key, feed_key, last_seen_key
from feed_svc.store import FeedStore
from pictor import events
from pictor.consumer import ConsumerSettings, Fields, StreamConsumer
from pictor.redis_client import PooledCluster
from pictor.snowflake import SnowflakeGenerator
from tests.cluster import redis_nodes
from tests.cluster.test_events import BACKLOG_MB
from tests.harness import unique_name, wait_until

KEEP = 800
GROUP = "pushers"
ONE_AT_A_TIME = ConsumerSettings(batch=1, block_ms=100)


async def timeline(port: int, follower: int) -> set[bytes]:
    """The follower's timeline as one node holds it (a replica too)."""
    async with redis_nodes.asked_alone(port) as node:
        members: Any = await node.zrange(feed_key(follower), 0, -1)
    return set(members)


async def a_stream_elsewhere(client: PooledCluster, shard: redis_nodes.Shard) -> tuple[str, int]:
    """A stream whose primary is not ``shard``'s (its acknowledgements outlive the
    kill), and that primary's port."""
    while True:
        stream = unique_name("events:pushes")
        primary = (await redis_nodes.shard_of(client, stream)).primary
        if primary != shard.primary:
            return stream, primary


async def pending(port: int, stream: str) -> int:
    """How many messages of the stream the group holds unacknowledged, asked of the
    stream's primary alone (the cluster client may still be finding the promoted one)."""
    async with redis_nodes.asked_alone(port) as node:
        summary: Any = await node.xpending(stream, GROUP)
    return int(summary["pending"])


async def test_an_acknowledged_push_survives_the_loss_of_its_timelines_primary(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    ids = SnowflakeGenerator(worker_id=7)
    follower, author = ids.next_id(), ids.next_id()
    store = FeedStore(cluster_client)
    since = int(time.time() * 1000) - 60_000
    # A timeline in use: built, its reader seen just now.
    await cluster_client.set(feed_built_key(follower), 1)
    await cluster_client.set(last_seen_key(follower), since + 60_000)
    shard = await redis_nodes.shard_of(cluster_client, feed_key(follower))
    stream, stream_primary = await a_stream_elsewhere(cluster_client, shard)

    async def push(message_id: str, fields: Fields) -> None:
        await store.push(Entry(int(fields["post_id"]), author), [follower], since, KEEP)

    consumer = StreamConsumer(cluster_client, stream, GROUP, push, settings=ONE_AT_A_TIME)
    await consumer.ensure_group()
    before, during = Entry(ids.next_id(), author), Entry(ids.next_id(), author)
    await events.publish(cluster_client, stream, {"post_id": before.post_id})
    assert await consumer.run_once() == 1

    async def replica_has_the_timeline() -> bool:
        return before.member.encode() in await timeline(shard.replica, follower)

    await wait_until(replica_has_the_timeline, within=10, interval=0.01)

    await events.publish(cluster_client, stream, {"post_id": during.post_id})
    with redis_nodes.frozen(shard.replica):
        for n in range(BACKLOG_MB):  # keys in the timeline's slot: the same link
            await cluster_client.set(f"{{{follower}}}:backlog:{n}", b"x" * 1_000_000)
        handling = asyncio.create_task(consumer.run_once())

        async def pushed() -> bool:
            return during.member.encode() in await timeline(shard.primary, follower)

        await wait_until(pushed, within=5, interval=0.005)
        redis_nodes.kill(shard.primary)
    with contextlib.suppress(ConnectionError):
        await handling

    await wait_until(lambda: redis_nodes.is_primary(shard.replica), within=30, interval=0.2)
    if await pending(stream_primary, stream) == 0:  # acknowledged: the push must have survived
        assert during.member.encode() in await timeline(shard.replica, follower)
    assert before.member.encode() in await timeline(shard.replica, follower)
    redis_nodes.bring_back(shard.primary)


async def test_a_message_is_handled_again_when_its_primary_fails_over_while_it_runs(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    """A slow handler: it writes, then the primary it wrote to dies and its replica
    takes over before the handler returns. The promoted node has no replica of its own
    yet, so the replication barrier passes it, though the write may never have reached
    it: the failover since the handler began leaves the message to be handled again."""
    key = unique_name("slow-handler")
    shard = await redis_nodes.shard_of(cluster_client, key)
    stream, stream_primary = await a_stream_elsewhere(cluster_client, shard)

    async def client_follows_the_slot() -> bool:
        with contextlib.suppress(ConnectionError):
            await cluster_client.get(key)
        node = cluster_client.get_node_from_key(key)
        return node is not None and int(node.port) == shard.replica

    async def slow(message_id: str, fields: Fields) -> None:
        await cluster_client.set(key, message_id)
        redis_nodes.kill(shard.primary)
        await wait_until(lambda: redis_nodes.is_primary(shard.replica), within=30, interval=0.2)
        await wait_until(client_follows_the_slot, within=30, interval=0.2)

    consumer = StreamConsumer(cluster_client, stream, GROUP, slow, settings=ONE_AT_A_TIME)
    await consumer.ensure_group()
    await events.publish(cluster_client, stream, {"n": 1})
    await consumer.run_once()
    assert await pending(stream_primary, stream) == 1
    redis_nodes.bring_back(shard.primary)
