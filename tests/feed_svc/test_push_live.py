"""One fan-out push job, run in-process against the real Redis (test database), for
followers watching their home feed live: an open subscription means an active reader,
so they hear of the post whether or not the push writes their timeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from feed_svc.config import FeedSettings
from feed_svc.fanout import PUSH, FanOut
from feed_svc.store import Entry, feed_built_key, feed_key, last_seen_key, live_channel, live_key
from feed_svc.timeline import now_ms
from gateway.config import GatewaySettings

AUTHOR = 7
# Far from any id the stack's Snowflakes give (and from test_push's), so no other
# test's keys are touched.
UNBUILT, QUIET = 9_100_000_101, 9_100_000_102
FOLLOWERS = (UNBUILT, QUIET)
DAY_MS = 24 * 3600 * 1000


@pytest.fixture
async def client(settings: GatewaySettings) -> AsyncIterator[redis.Redis]:
    connected = redis.from_url(settings.redis_url, decode_responses=True)
    yield connected
    for follower in FOLLOWERS:
        await connected.delete(
            feed_key(follower),
            feed_built_key(follower),
            last_seen_key(follower),
            live_key(follower),
        )
    await connected.aclose()


async def test_a_live_follower_hears_of_a_post_whatever_its_timeline(client: redis.Redis) -> None:
    # A new reader: no timeline yet. A quiet one: last seen eight days ago.
    await client.set(last_seen_key(QUIET), now_ms() - 8 * DAY_MS)
    await client.zadd(feed_key(QUIET), {Entry(14, AUTHOR).member: 14})
    await client.set(feed_built_key(QUIET), 1)
    pubsub = client.pubsub()
    for follower in FOLLOWERS:
        await client.set(live_key(follower), 1)
        await pubsub.subscribe(live_channel(follower))
        await pubsub.get_message(timeout=1)  # the subscription's confirmation

    none: Any = None
    fan_out = FanOut(client, none, none, none, FeedSettings(feed_max=3, inactive_days=7))
    entry = Entry(20, AUTHOR)
    job = {"op": PUSH, "author_id": str(AUTHOR), "post_id": str(entry.post_id)}
    await fan_out.run_job("1-0", {**job, "followers": ",".join(map(str, FOLLOWERS))})

    heard = [await pubsub.get_message(ignore_subscribe_messages=True, timeout=2) for _ in FOLLOWERS]
    assert sorted((m["channel"], m["data"]) for m in heard if m) == sorted(
        (live_channel(follower), str(entry.post_id)) for follower in FOLLOWERS
    )
    # Still left for the next read to build whole.
    assert not await client.exists(feed_key(UNBUILT), feed_built_key(UNBUILT))
    # Watching is being active: the timeline is kept, and the post goes in.
    assert await client.zrange(feed_key(QUIET), 0, -1) == [Entry(14, AUTHOR).member, entry.member]
    await pubsub.aclose()
