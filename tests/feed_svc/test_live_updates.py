"""homeFeedUpdates, watched over graphql-transport-ws: an open subscription means the
viewer is active, so every post that reaches their feed reaches them live, whether or
not their timeline has been built yet or was dropped while they were away."""

from __future__ import annotations

from collections.abc import Awaitable

import httpx

from feed_svc.entries import Entry
from feed_svc.keys import author_live_channel, feed_built_key, feed_key, last_seen_key
from feed_svc.timeline import now_ms
from gateway import ids
from harness.events import channel_subscribers
from tests.feed_svc.conftest import (
    ARRIVAL_SECONDS,
    Feeds,
    follow,
    next_post,
    unfollow,
    watching,
)
from tests.harness import IsolatedStack, sign_up, wait_until

EIGHT_DAYS_MS = 8 * 24 * 3600 * 1000


async def test_live_updates_bring_new_posts_to_a_subscribed_viewer(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    reader, author = await sign_up(http, "watcher"), await sign_up(http, "live")
    await follow(reader, author)
    await feeds.read_all(reader.client)
    await feeds.settle()

    async with watching(test_stack, feeds, reader) as arrived:
        post = await feeds.publish(author.id)
        assert await next_post(arrived) == post


async def test_a_new_account_hears_of_posts_before_its_first_feed_read(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    author, newcomer = await sign_up(http, "early"), await sign_up(http, "newcomer")
    await follow(newcomer, author)
    await feeds.settle()
    assert not await feeds.redis.exists(feed_built_key(ids.decode("User", newcomer.id)))

    async with watching(test_stack, feeds, newcomer) as arrived:
        post = await feeds.publish(author.id)
        assert await next_post(arrived) == post
    assert post in await feeds.read_all(newcomer.client)


async def test_a_reader_back_after_going_quiet_hears_of_posts_while_watching(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    author, reader = await sign_up(http, "steady"), await sign_up(http, "absent")
    await follow(reader, author)
    await feeds.read_all(reader.client)
    reader_id = ids.decode("User", reader.id)
    # Last seen eight days ago: the next push drops the timeline as quiet.
    await feeds.redis.set(last_seen_key(reader_id), now_ms() - EIGHT_DAYS_MS)
    missed = await feeds.publish(author.id)
    await feeds.settle()
    assert not await feeds.redis.exists(feed_built_key(reader_id))

    async with watching(test_stack, feeds, reader) as arrived:
        posts = [await feeds.publish(author.id) for _ in range(2)]
        assert [await next_post(arrived) for _ in posts] == posts
    assert await feeds.read_all(reader.client) == [*reversed(posts), missed]


async def test_a_watcher_is_never_dropped_as_quiet(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    author, reader = await sign_up(http, "chatty"), await sign_up(http, "lurker")
    await follow(reader, author)
    await feeds.read_all(reader.client)
    reader_id = ids.decode("User", reader.id)
    await feeds.redis.set(last_seen_key(reader_id), now_ms() - EIGHT_DAYS_MS)

    async with watching(test_stack, feeds, reader) as arrived:
        post = await feeds.publish(author.id)
        assert await next_post(arrived) == post
        await feeds.settle()
        # Watching is being active: the push kept the timeline and wrote the post in.
        assert await feeds.redis.exists(feed_built_key(reader_id))
        entry = Entry(ids.decode("Post", post), ids.decode("User", author.id))
        assert await feeds.redis.zscore(feed_key(reader_id), entry.member) is not None


async def test_a_celebrity_followed_while_watching_is_heard_and_unfollowed_is_not(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    # With the test threshold of 3 followers, four fans make a celebrity.
    star, viewer = await sign_up(http, "starlet"), await sign_up(http, "latecomer")
    for fan in [await sign_up(http, "fan") for _ in range(4)]:
        await follow(fan, star)
    await feeds.settle()
    assert await feeds.is_celebrity(star.id)
    channel = author_live_channel(ids.decode("User", star.id))

    async def listeners() -> int:
        return await channel_subscribers(feeds.redis, channel)

    async with watching(test_stack, feeds, viewer) as arrived:
        await follow(viewer, star)
        await feeds.settle()
        await wait_until(lambda: _equals(listeners(), 1), within=ARRIVAL_SECONDS)
        post = await feeds.publish(star.id)
        assert await next_post(arrived) == post

        await unfollow(viewer, star)
        await feeds.settle()
        await wait_until(lambda: _equals(listeners(), 0), within=ARRIVAL_SECONDS)


async def _equals(count: Awaitable[int], expected: int) -> bool:
    return await count == expected
