"""The home feed, read through GraphQL, kept right as people post, delete, follow,
unfollow, cross the celebrity threshold and go quiet."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator

import httpx

from feed_svc.keys import FANOUT_JOBS, feed_key, last_seen_key
from gateway import ids
from infra.local import stack
from tests import images
from tests.feed_svc.conftest import HOME_FEED, Feeds, follow, unfollow
from tests.gateway.test_posts import UPLOAD_STATUS, upload_one_shot
from tests.harness import IsolatedStack, data, error_codes, sign_up, subscribe, wait_until


async def test_a_post_reaches_an_active_follower_within_two_seconds_of_ready(
    http: httpx.AsyncClient, test_stack: IsolatedStack
) -> None:
    author, reader = await sign_up(http, "poster"), await sign_up(http, "reader")
    await follow(reader, author)
    data(await reader.client.execute(HOME_FEED, {"first": 1}))  # now an active reader

    post = data(await upload_one_shot(author, images.jpeg(400, 300)))["uploadPost"]
    statuses = await subscribe(
        test_stack.gateway_url, author.client.token, UPLOAD_STATUS, {"id": post["id"]}
    )
    assert statuses[-1]["data"]["uploadStatus"]["status"] == "READY"
    ready_at = time.monotonic()

    async def arrived() -> bool:
        page = data(await reader.client.execute(HOME_FEED, {"first": 12}))["homeFeed"]
        return any(edge["node"]["id"] == post["id"] for edge in page["edges"])

    await wait_until(arrived, within=2.0, interval=0.05)
    assert time.monotonic() - ready_at < 2.0


async def test_a_feed_is_everyone_followed_newest_first_without_own_posts(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    reader, ada, bob, stranger = [await sign_up(http, n) for n in ("me", "ada", "bob", "other")]
    await follow(reader, ada)
    await follow(reader, bob)
    await feeds.read_all(reader.client)
    posted = []
    for author in (ada, bob, stranger, reader, ada):
        posted.append(await feeds.publish(author.id))
    await feeds.settle()
    expected = [posted[4], posted[1], posted[0]]
    assert await feeds.read_all(reader.client, page_size=2) == expected


async def test_pages_neither_skip_nor_repeat_while_posts_arrive(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    reader, author = await sign_up(http, "scroller"), await sign_up(http, "busy")
    await follow(reader, author)
    await feeds.read_all(reader.client)
    older = [await feeds.publish(author.id) for _ in range(10)]
    await feeds.settle()

    seen: list[str] = []
    after = None
    while True:
        page = data(await reader.client.execute(HOME_FEED, {"first": 3, "after": after}))[
            "homeFeed"
        ]
        seen += [edge["node"]["id"] for edge in page["edges"]]
        # New posts land at the top while the reader scrolls down.
        await feeds.publish(author.id)
        await feeds.settle()
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == list(reversed(older))


async def test_follow_backfills_and_unfollow_removes(http: httpx.AsyncClient, feeds: Feeds) -> None:
    reader, author = await sign_up(http, "newfan"), await sign_up(http, "veteran")
    await feeds.read_all(reader.client)
    earlier = [await feeds.publish(author.id) for _ in range(3)]
    await feeds.settle()
    assert await feeds.read_all(reader.client) == []

    await follow(reader, author)
    await feeds.settle()
    assert await feeds.read_all(reader.client) == list(reversed(earlier))

    await unfollow(reader, author)
    await feeds.settle()
    assert await feeds.read_all(reader.client) == []


async def test_a_deleted_post_leaves_every_feed(http: httpx.AsyncClient, feeds: Feeds) -> None:
    author = await sign_up(http, "deleter")
    readers = [await sign_up(http, "witness") for _ in range(2)]
    for reader in readers:
        await follow(reader, author)
        await feeds.read_all(reader.client)
    kept, gone = await feeds.publish(author.id), await feeds.publish(author.id)
    await feeds.settle()
    await feeds.delete(author.id, gone)
    await feeds.settle()
    for reader in readers:
        assert await feeds.read_all(reader.client) == [kept]


async def test_a_post_deleted_before_its_photo_came_queues_no_feed_work(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    """It was never on any feed, so its deletion sends no removal job to the followers."""
    author = await sign_up(http, "gave.up")
    reader = await sign_up(http, "bystander")
    await follow(reader, author)
    await feeds.settle()
    jobs_before = await feeds.redis.xlen(FANOUT_JOBS)
    await feeds.delete(author.id, await feeds.create_pending(author.id))
    await feeds.settle()
    assert await feeds.redis.xlen(FANOUT_JOBS) == jobs_before


async def test_celebrities_are_merged_at_read_time_and_crossing_back_keeps_their_posts(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    """With the test threshold of 3 followers, a fourth follower makes a celebrity."""
    star = await sign_up(http, "celeb")
    fans = [await sign_up(http, "fan") for _ in range(4)]
    for fan in fans:
        await follow(fan, star)
        await feeds.read_all(fan.client)
    await feeds.settle()
    assert await feeds.is_celebrity(star.id)

    pulled = await feeds.publish(star.id)
    await feeds.settle()
    for fan in fans:
        assert await feeds.read_all(fan.client) == [pulled]

    # Back to three followers: pushed again, and the pulled post stays, once.
    await unfollow(fans[3], star)
    await feeds.settle()
    assert not await feeds.is_celebrity(star.id)
    pushed = await feeds.publish(star.id)
    await feeds.settle()
    for fan in fans[:3]:
        assert await feeds.read_all(fan.client) == [pushed, pulled]
    assert await feeds.read_all(fans[3].client) == []


async def test_a_reader_back_from_inactivity_gets_a_right_feed_on_the_first_read(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    reader, author = await sign_up(http, "sleeper"), await sign_up(http, "active")
    await follow(reader, author)
    first = await feeds.publish(author.id)
    await feeds.settle()
    assert await feeds.read_all(reader.client) == [first]

    # Two weeks pass without the reader opening the app.
    fortnight_ago = int(time.time() * 1000) - 14 * 24 * 3600 * 1000
    reader_id = ids.decode("User", reader.id)
    await feeds.redis.set(last_seen_key(reader_id), fortnight_ago)
    second = await feeds.publish(author.id)
    await feeds.settle()
    assert not await feeds.redis.exists(feed_key(reader_id))

    page = data(await reader.client.execute(HOME_FEED, {"first": 12}))["homeFeed"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [second, first]


async def test_a_feed_page_costs_the_same_calls_whatever_its_size(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    reader = await sign_up(http, "counter")
    authors = [await sign_up(http, "source") for _ in range(3)]
    for author in authors:
        await follow(reader, author)
    await feeds.read_all(reader.client)
    for _ in range(4):
        for author in authors:
            await feeds.publish(author.id)
    await feeds.settle()
    query = """query($first: Int) { homeFeed(first: $first) { edges { node {
        id caption author { username viewerFollows followerCount }
        media { status blurhash renditions { name url } } } } } }"""

    async def calls(first: int) -> dict[str, int]:
        result = await reader.client.execute(query, {"first": first})
        assert len(data(result)["homeFeed"]["edges"]) == first
        by_method: dict[str, int] = result["extensions"]["backendCalls"]["byMethod"]
        return by_method

    assert await calls(2) == await calls(12)


async def test_the_home_feed_needs_a_signed_in_viewer(http: httpx.AsyncClient) -> None:
    from tests.harness import GraphQLClient

    result = await GraphQLClient(http).execute(HOME_FEED, {"first": 3})
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_a_fanout_worker_killed_mid_burst_loses_and_doubles_nothing(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    # Each author keeps exactly 3 followers (the test threshold), so every post is pushed.
    authors = [await sign_up(http, "burster") for _ in range(4)]
    readers = [await sign_up(http, "audience") for _ in range(6)]
    # The six pairs of four authors: every author is in exactly three.
    pairs = [(0, 1), (2, 3), (0, 2), (1, 3), (0, 3), (1, 2)]
    followed = {
        reader.id: [authors[a], authors[b]] for reader, (a, b) in zip(readers, pairs, strict=True)
    }
    for reader in readers:
        for author in followed[reader.id]:
            await follow(reader, author)
        await feeds.read_all(reader.client)
    await feeds.settle()
    assert not [author for author in authors if await feeds.is_celebrity(author.id)]

    worker = test_stack.parts["feed_worker"]
    posting = asyncio.gather(*(feeds.publish(author.id) for author in authors for _ in range(6)))
    pid = worker.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    posted = await posting

    async def dead() -> bool:
        return stack.exit_code(worker) is not None

    await wait_until(dead, within=10)
    stack.stop(worker)
    stack.start(worker)
    await feeds.settle()

    by_author: dict[str, list[str]] = {}
    for index, post in enumerate(posted):
        by_author.setdefault(authors[index // 6].id, []).append(post)
    for reader in readers:
        mine = [post for author in followed[reader.id] for post in by_author[author.id]]
        expected = sorted(mine, key=lambda global_id: ids.decode("Post", global_id), reverse=True)
        assert await feeds.read_all(reader.client, page_size=5) == expected


async def test_follows_imported_in_bulk_show_up_on_the_next_read(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    from pictor.graph.v1 import graph_pb2

    reader = await sign_up(http, "importer")
    authors = [await sign_up(http, "imported") for _ in range(2)]
    await feeds.read_all(reader.client)  # an active reader with a built timeline
    posts = [await feeds.publish(author.id) for author in authors]
    await feeds.settle()
    assert await feeds.read_all(reader.client) == []

    async def edges() -> AsyncIterator[graph_pb2.ImportFollowsRequest]:
        yield graph_pb2.ImportFollowsRequest(
            follower_id=ids.decode("User", reader.id),
            followee_ids=[ids.decode("User", author.id) for author in authors],
        )

    await feeds.clients.graph.ImportFollows(edges())
    await feeds.settle()
    assert await feeds.read_all(reader.client) == list(reversed(posts))
