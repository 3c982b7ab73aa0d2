"""No acknowledged push is lost when the timeline's primary dies: a fan-out job is
acknowledged (and its message never delivered again) once ``FeedStore.push`` returns,
so ``push`` returns only once a replica holds what it wrote, and the replica promoted
in the primary's place has the post. Otherwise the follower's timeline, built and in
use, would lack the post for good: nothing rebuilds a timeline that exists.

The race is made certain as in test_events.py: the replica is frozen and the primary
given more writes than the sockets between them hold, then the post pushed and the
primary killed. A push answered before its replica had it (a plain pipeline) is
acknowledged and lost with the primary: this test then fails."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import redis.asyncio as redis
from redis.exceptions import ConnectionError

from feed_svc.entries import Entry
from feed_svc.keys import feed_built_key, feed_key, last_seen_key
from feed_svc.store import FeedStore
from pictor.redis_client import PooledCluster
from pictor.snowflake import SnowflakeGenerator
from tests.cluster import redis_nodes
from tests.cluster.test_events import BACKLOG_MB
from tests.harness import wait_until

KEEP = 800


async def timeline(port: int, follower: int) -> set[bytes]:
    """The follower's timeline as one node holds it (a replica too)."""
    node = redis.Redis(port=port, single_connection_client=True)
    try:
        await node.readonly()
        members: Any = await node.zrange(feed_key(follower), 0, -1)
        return set(members)
    finally:
        await node.aclose()


async def test_an_acknowledged_push_survives_the_loss_of_its_timelines_primary(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    ids = SnowflakeGenerator(worker_id=7)
    follower, author = ids.next_id(), ids.next_id()
    store = FeedStore(cluster_client)
    now_ms = int(time.time() * 1000)
    before, during = Entry(ids.next_id(), author), Entry(ids.next_id(), author)
    # A timeline in use: built, its reader seen just now.
    await cluster_client.set(feed_built_key(follower), 1)
    await cluster_client.set(last_seen_key(follower), now_ms)
    await store.push(before, [follower], quiet_since=now_ms - 60_000, keep=KEEP)
    shard = await redis_nodes.shard_of(cluster_client, feed_key(follower))

    async def replica_has_the_timeline() -> bool:
        return before.member.encode() in await timeline(shard.replica, follower)

    await wait_until(replica_has_the_timeline, within=10, interval=0.01)

    with redis_nodes.frozen(shard.replica):
        for n in range(BACKLOG_MB):  # keys in the timeline's slot: the same link
            await cluster_client.set(f"{{{follower}}}:backlog:{n}", b"x" * 1_000_000)
        pushing = asyncio.create_task(
            store.push(during, [follower], quiet_since=now_ms - 60_000, keep=KEEP)
        )

        async def pushed() -> bool:
            return during.member.encode() in await timeline(shard.primary, follower)

        await wait_until(pushed, within=5, interval=0.005)
        redis_nodes.kill(shard.primary)
    acknowledged = {before.member.encode()}
    with contextlib.suppress(ConnectionError):  # refused: the job is delivered again
        await pushing
        acknowledged.add(during.member.encode())

    await wait_until(lambda: redis_nodes.is_primary(shard.replica), within=30, interval=0.2)
    assert acknowledged <= await timeline(shard.replica, follower)
    redis_nodes.bring_back(shard.primary)
