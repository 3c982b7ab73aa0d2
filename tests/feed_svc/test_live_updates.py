"""homeFeedUpdates, watched over graphql-transport-ws: an open subscription means the
viewer is active, so every post that reaches their feed reaches them live, whether or
not their timeline has been built yet or was dropped while they were away."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager

import httpx
import websockets

from feed_svc.entries import Entry
from feed_svc.keys import author_live_channel, feed_built_key, feed_key, last_seen_key, live_key
from feed_svc.timeline import now_ms
from gateway import ids
from tests.feed_svc.conftest import Feeds
from tests.feed_svc.test_home_feed import follow, unfollow
from tests.harness import IsolatedStack, Person, sign_up, wait_until

HOME_FEED_UPDATES = "subscription { homeFeedUpdates { id author { id } } }"
EIGHT_DAYS_MS = 8 * 24 * 3600 * 1000
# How long a post may take from READY to a live subscriber on the test stack.
ARRIVAL_SECONDS = 10


@asynccontextmanager
async def watching(
    test_stack: IsolatedStack, feeds: Feeds, viewer: Person
) -> AsyncIterator[asyncio.Queue[str]]:
    """The viewer's homeFeedUpdates, open until the block ends: post ids as they arrive.
    Yields once the subscription is live (feed_svc has marked the viewer watching)."""
    url = test_stack.gateway_url.replace("http://", "ws://") + "/graphql"
    arrived: asyncio.Queue[str] = asyncio.Queue()
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket_:
        init = {"authorization": f"Bearer {viewer.client.token}"}
        await socket_.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await socket_.recv())["type"] == "connection_ack"
        subscribe = {"query": HOME_FEED_UPDATES}
        await socket_.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))

        async def receive() -> None:
            async for raw in socket_:
                message = json.loads(raw)
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message["payload"]
                await arrived.put(message["payload"]["data"]["homeFeedUpdates"]["id"])

        receiving = asyncio.create_task(receive())
        viewer_id = ids.decode("User", viewer.id)

        async def live() -> bool:
            if receiving.done():
                receiving.result()  # the subscription failed: say how
            return bool(await feeds.redis.exists(live_key(viewer_id)))

        try:
            await wait_until(live, within=10)
            yield arrived
        finally:
            receiving.cancel()


async def next_post(arrived: asyncio.Queue[str]) -> str:
    async with asyncio.timeout(ARRIVAL_SECONDS):
        return await arrived.get()


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
        counts = dict(await feeds.redis.pubsub_shardnumsub(channel))
        return int(counts[channel.encode()])

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
