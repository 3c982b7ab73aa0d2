"""One fan-out push job, run in-process against the real Redis (test database): what
each kind of follower's timeline becomes, and what live watchers hear. The job needs
no other service. Redis is opened as the services open it, so under the cluster
topology this runs on the Redis Cluster."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from feed_svc.config import FeedSettings
from feed_svc.entries import Entry
from feed_svc.fanout import PUSH, FanOut
from feed_svc.keys import (
    announced_key,
    feed_built_key,
    feed_key,
    last_seen_key,
    live_channel,
    live_key,
)
from feed_svc.store import FeedStore
from feed_svc.timeline import HomeTimelines, now_ms
from gateway.config import GatewaySettings
from pictor.live import LiveListener
from pictor.redis_client import RedisClient
from tests.feed_svc.conftest import redis_of

KEEP = 3
AUTHOR = 7
# Far from any id the stack's Snowflakes give, so no other test's keys are touched.
ACTIVE, FULL, QUIET, UNBUILT, LIVE = (
    9_100_000_001,
    9_100_000_002,
    9_100_000_003,
    9_100_000_004,
    9_100_000_005,
)
FOLLOWERS = (ACTIVE, FULL, QUIET, UNBUILT, LIVE)
# Followers watching live whose timeline is not built, or was left quiet.
LIVE_UNBUILT, LIVE_QUIET = 9_100_000_101, 9_100_000_102
WATCHING = (LIVE_UNBUILT, LIVE_QUIET)
# More watchers than one process has Redis connections.
CROWD = tuple(9_100_000_201 + n for n in range(12))
DAY_MS = 24 * 3600 * 1000


@asynccontextmanager
async def connected(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    async with redis_of(settings) as client:
        try:
            yield client
        finally:
            await forget(client, FOLLOWERS + WATCHING + CROWD)


@pytest.fixture
async def client(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    async with connected(settings) as client:
        yield client


async def forget(client: RedisClient, followers: Sequence[int]) -> None:
    for follower in followers:
        await client.delete(
            feed_key(follower),
            feed_built_key(follower),
            last_seen_key(follower),
            live_key(follower),
            announced_key(follower),
        )


def fan_out(client: RedisClient) -> FanOut:
    # A push job reads and writes Redis only: no graph or author reads.
    none: Any = None
    settings = FeedSettings(feed_max=KEEP, inactive_days=7)
    return FanOut(client, none, HomeTimelines(FeedStore(client), none, none, settings), settings)


@asynccontextmanager
async def live(client: RedisClient) -> AsyncIterator[FeedStore]:
    """A store whose live reader runs, as it does beside feed_svc's server."""
    store = FeedStore(client)
    async with store.live.reading():
        yield store


async def listening(store: FeedStore, follower: int) -> LiveListener:
    listener = store.listener()
    await listener.listen([live_channel(follower)])
    return listener


async def heard(listener: LiveListener) -> str:
    """The next message on the listener's channels."""
    data = await listener.next(wait_seconds=2)
    assert data is not None, "nothing heard"
    return data.decode()


async def push(client: RedisClient, entry: Entry, followers: Sequence[int]) -> None:
    job = {"op": PUSH, "author_id": str(AUTHOR), "post_id": str(entry.post_id)}
    await fan_out(client).run_job("1-0", {**job, "followers": ",".join(map(str, followers))})


async def built(client: RedisClient, follower: int, members: dict[str, int], seen: int) -> None:
    if members:
        await client.zadd(feed_key(follower), members)
    await client.set(feed_built_key(follower), 1)
    await client.set(last_seen_key(follower), seen)


async def test_a_push_lands_only_where_a_reader_will_see_it(client: RedisClient) -> None:
    now = now_ms()
    await built(client, ACTIVE, {Entry(10, AUTHOR).member: 10}, now)
    await built(client, FULL, {Entry(n, AUTHOR).member: n for n in (11, 12, 13)}, now)
    await built(client, QUIET, {Entry(14, AUTHOR).member: 14}, now - 8 * DAY_MS)
    await client.set(last_seen_key(UNBUILT), now)
    await built(client, LIVE, {}, now)
    await client.set(live_key(LIVE), 1)
    async with live(client) as store:
        listener = await listening(store, LIVE)
        entry = Entry(20, AUTHOR)
        job = {"op": PUSH, "author_id": str(AUTHOR), "post_id": str(entry.post_id)}
        job["followers"] = ",".join(map(str, FOLLOWERS))
        for _ in range(2):  # a redelivered job changes nothing
            await fan_out(client).run_job("1-0", job)
        # Told once, though the job ran twice: what follows on the channel is the marker.
        await client.spublish(live_channel(LIVE), "marker")
        assert [await heard(listener), await heard(listener)] == [str(entry.post_id), "marker"]
        await listener.aclose()

    async def timeline(follower: int) -> list[str]:
        members = await client.zrange(feed_key(follower), 0, -1)
        return [m.decode() if isinstance(m, bytes) else str(m) for m in members]

    assert await timeline(ACTIVE) == [Entry(10, AUTHOR).member, entry.member]
    # The oldest goes when a timeline is full.
    assert await timeline(FULL) == [Entry(n, AUTHOR).member for n in (12, 13)] + [entry.member]
    # A reader gone quiet loses the timeline; the next read rebuilds it.
    assert not await client.exists(feed_key(QUIET), feed_built_key(QUIET))
    # A timeline never built is left to the next read, which builds it whole.
    assert not await client.exists(feed_key(UNBUILT), feed_built_key(UNBUILT))
    assert await timeline(LIVE) == [entry.member]


async def test_a_live_follower_hears_of_a_post_whatever_its_timeline(client: RedisClient) -> None:
    """An open subscription means an active reader: they hear of the post whether or
    not the push writes their timeline."""
    # A new reader: no timeline yet. A quiet one: last seen eight days ago.
    await client.set(last_seen_key(LIVE_QUIET), now_ms() - 8 * DAY_MS)
    await client.zadd(feed_key(LIVE_QUIET), {Entry(14, AUTHOR).member: 14})
    await client.set(feed_built_key(LIVE_QUIET), 1)
    entry = Entry(20, AUTHOR)
    async with live(client) as store:
        listeners = []
        for follower in WATCHING:
            await client.set(live_key(follower), 1)
            listeners.append(await listening(store, follower))
        await push(client, entry, WATCHING)
        assert [await heard(listener) for listener in listeners] == [str(entry.post_id)] * 2
        for listener in listeners:
            await listener.aclose()
    # Still left for the next read to build whole.
    assert not await client.exists(feed_key(LIVE_UNBUILT), feed_built_key(LIVE_UNBUILT))
    # Watching is being active: the timeline is kept, and the post goes in.
    assert await client.zrange(feed_key(LIVE_QUIET), 0, -1) == [
        Entry(14, AUTHOR).member.encode(),
        entry.member.encode(),
    ]


async def test_watchers_share_their_process_connection(settings: GatewaySettings) -> None:
    """A process with two Redis connections serves a dozen watchers: they share one
    subscription, and the process's commands still find a connection."""
    entry = Entry(20, AUTHOR)
    async with (
        connected(settings.model_copy(update={"redis_max_connections": 2})) as client,
        live(client) as store,
    ):
        listeners = []
        for follower in CROWD:
            await client.set(live_key(follower), 1)
            listeners.append(await listening(store, follower))
        await push(client, entry, CROWD)
        assert [await heard(listener) for listener in listeners] == [str(entry.post_id)] * 12
        for listener in listeners:
            await listener.aclose()
