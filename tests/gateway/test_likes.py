"""Likes through GraphQL on the real stack: idempotent like and unlike, exact counts
for a hot post liked by 1,000 people at once, who liked it newest first, the refusals,
events delivered twice or out of order, and a feed page that reads counts and the
viewer's likes in the same call as its posts, warm from Redis alone."""

from __future__ import annotations

import asyncio

import httpx

from gateway import ids
from gateway.auth import issue_token
from gateway.config import GatewaySettings
from harness.accounts import unique_name
from harness.bulk import import_users
from harness.events import FEED_WORKER_STREAMS, settle
from infra.local import stack
from pictor import events
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from post_svc.engagement import counts_key, liked_key
from tests.feed_svc.test_hydration import coordinated_reads
from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    Person,
    data,
    error_codes,
    extra_part,
    free_port,
    one_off_part,
    sign_up,
)

# Every stream whose consumers settle what a like, a comment or a deletion changed.
ENGAGEMENT_STREAMS = (events.LIKE_CHANGED, events.COMMENT_CHANGED, events.POST_DELETED)
LIKE = "mutation($id: ID!) { likePost(postId: $id) { id viewerHasLiked } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { id viewerHasLiked } }"
SEEN = "query($id: ID!) { post(id: $id) { likeCount commentCount viewerHasLiked } }"
LIKERS = """
query($id: ID!, $first: Int, $after: String) {
  post(id: $id) { likes(first: $first, after: $after) {
    edges { cursor node { username } } pageInfo { hasNextPage endCursor } } }
}
"""


async def ready_post(clients: ServiceClients, author: Person) -> str:
    """A READY post by the author, as the media worker leaves it."""
    created = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(
            author_id=ids.decode("User", author.id), caption="liked", content_type="image/jpeg"
        )
    )
    await clients.post.UpdateMedia(
        post_pb2.UpdateMediaRequest(
            post_id=created.post.id,
            media=post_pb2.Media(status=post_pb2.MEDIA_STATUS_READY, width=1, height=1),
        )
    )
    return ids.encode("Post", created.post.id)


async def seen_by(client: GraphQLClient, post: str) -> tuple[int, int, bool]:
    """(likeCount, commentCount, viewerHasLiked) as ``client`` sees the post."""
    shown = data(await client.execute(SEEN, {"id": post}))["post"]
    return shown["likeCount"], shown["commentCount"], shown["viewerHasLiked"]


async def test_a_like_counts_once_however_often_it_is_sent_and_an_unlike_undoes_it(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    post = await ready_post(clients, author)
    assert await seen_by(ada.client, post) == (0, 0, False)

    for _ in range(3):
        liked = data(await ada.client.execute(LIKE, {"id": post}))["likePost"]
        assert liked == {"id": post, "viewerHasLiked": True}
    await settle(redis, ENGAGEMENT_STREAMS)
    assert await seen_by(ada.client, post) == (1, 0, True)
    assert await seen_by(bob.client, post) == (1, 0, False)
    assert await seen_by(GraphQLClient(http), post) == (1, 0, False)  # anonymous

    for _ in range(2):
        unliked = data(await ada.client.execute(UNLIKE, {"id": post}))["unlikePost"]
        assert unliked == {"id": post, "viewerHasLiked": False}
    await settle(redis, ENGAGEMENT_STREAMS)
    assert await seen_by(ada.client, post) == (0, 0, False)


async def test_who_liked_is_listed_newest_first_in_pages_that_neither_skip_nor_repeat(
    http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    author = await sign_up(http, "author")
    post = await ready_post(clients, author)
    fans = [await sign_up(http, "liker") for _ in range(5)]
    for fan in fans:
        data(await fan.client.execute(LIKE, {"id": post}))
    data(await fans[1].client.execute(UNLIKE, {"id": post}))
    data(await fans[1].client.execute(LIKE, {"id": post}))  # now the newest

    listed = await likers(author.client, post, 2)
    newest_first = [fans[1], fans[4], fans[3], fans[2], fans[0]]
    assert listed == [fan.username for fan in newest_first]


async def likers(client: GraphQLClient, post: str, first: int) -> list[str]:
    """Who liked the post, page by page (a paging that does not end fails)."""
    listed: list[str] = []
    after = None
    for _ in range(50):
        page = data(await client.execute(LIKERS, {"id": post, "first": first, "after": after}))
        likes = page["post"]["likes"]
        listed += [edge["node"]["username"] for edge in likes["edges"]]
        if not likes["pageInfo"]["hasNextPage"]:
            return listed
        after = likes["pageInfo"]["endCursor"]
    raise AssertionError(f"paging never ended: {listed}")


async def test_a_list_row_left_by_racing_likes_of_one_user_is_never_shown_nor_ends_paging(
    http: httpx.AsyncClient, clients: ServiceClients, cql: CqlSession
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    post = await ready_post(clients, author)
    for person in (ada, bob):
        data(await person.client.execute(LIKE, {"id": post}))
    # Two likes by ada at once both wrote a list row; likes_by_post kept the other one.
    (row,) = await cql.read(
        "SELECT like_id FROM likes_by_post WHERE post_id = ? AND user_id = ?",
        (ids.decode("Post", post), ids.decode("User", ada.id)),
    )
    await cql.write(
        "INSERT INTO likes_by_post_recent (post_id, like_id, user_id) VALUES (?, ?, ?)",
        (ids.decode("Post", post), row.like_id + 2**40, ids.decode("User", ada.id)),
    )
    for first in (1, 2, 3):
        assert await likers(author.client, post, first) == [bob.username, ada.username]


async def test_liking_needs_a_signed_in_viewer_and_a_post_others_can_see(
    http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    assert error_codes(await GraphQLClient(http).execute(LIKE, {"id": post})) == ["UNAUTHENTICATED"]
    pending = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(
            author_id=ids.decode("User", author.id), caption="", content_type="image/jpeg"
        )
    )
    deleted = await ready_post(clients, author)
    data(await author.client.execute("mutation($id: ID!) { deletePost(id: $id) }", {"id": deleted}))
    missing = ids.encode("Post", pending.post.id + 1)
    for refused in (ids.encode("Post", pending.post.id), deleted, missing):
        for mutation in (LIKE, UNLIKE):
            assert error_codes(await ada.client.execute(mutation, {"id": refused})) == ["NOT_FOUND"]


async def test_a_thousand_people_liking_one_post_at_once_count_exactly_and_unlike_to_zero(
    http: httpx.AsyncClient,
    test_stack: IsolatedStack,
    clients: ServiceClients,
    redis: RedisClient,
    settings: GatewaySettings,
) -> None:
    author = await sign_up(http, "hot")
    post = await ready_post(clients, author)
    people = await import_users(clients, [unique_name("fan") for _ in range(1000)])
    # All sent at once; a request may wait its turn for one of the pool's connections
    # (and the gateway's cores) for longer than the usual client timeout. A connection
    # idle for a while is not reused: the gateway closes idle ones after 5 s, and one
    # it closes as a request goes out fails that request at the transport (ReadError).
    limits = httpx.Limits(max_connections=100, keepalive_expiry=1.0)
    async with httpx.AsyncClient(
        base_url=test_stack.gateway_url, timeout=120, limits=limits
    ) as crowd:
        fans = [GraphQLClient(crowd, issue_token(fan, settings)) for fan in people]

        async def everyone(mutation: str) -> None:
            results = await asyncio.gather(*(fan.execute(mutation, {"id": post}) for fan in fans))
            assert [error_codes(result) for result in results] == [[]] * len(fans)

        await everyone(LIKE)
        await settle(redis, ENGAGEMENT_STREAMS, within=60)
        assert await seen_by(author.client, post) == (1000, 0, False)
        assert await seen_by(fans[0], post) == (1000, 0, True)

        await everyone(UNLIKE)
        await settle(redis, ENGAGEMENT_STREAMS, within=60)
        assert await seen_by(fans[-1], post) == (0, 0, False)


async def test_like_events_delivered_twice_or_out_of_order_change_nothing(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    post = await ready_post(clients, author)
    data(await ada.client.execute(LIKE, {"id": post}))
    await settle(redis, ENGAGEMENT_STREAMS)

    async def replay(liker: Person, liked: bool) -> None:
        await events.publish(
            redis,
            events.LIKE_CHANGED,
            {
                "post_id": ids.decode("Post", post),
                "post_author_id": ids.decode("User", author.id),
                "user_id": ids.decode("User", liker.id),
                "liked": int(liked),
                "at_ms": 1,
            },
        )

    await replay(ada, liked=True)  # delivered twice
    await replay(bob, liked=True)  # a like bob never made (or has undone) arrives
    await settle(redis, ENGAGEMENT_STREAMS)
    assert await seen_by(ada.client, post) == (1, 0, True)
    assert await seen_by(bob.client, post) == (1, 0, False)

    data(await ada.client.execute(UNLIKE, {"id": post}))
    await settle(redis, ENGAGEMENT_STREAMS)
    await replay(ada, liked=True)  # the like's event, late, after the unlike's
    await settle(redis, ENGAGEMENT_STREAMS)
    assert await seen_by(ada.client, post) == (0, 0, False)


async def test_a_cold_cache_shows_the_same_counts_and_likes_read_from_cassandra(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    posts = [await ready_post(clients, author) for _ in range(3)]
    for person, post in ((ada, posts[0]), (bob, posts[0]), (ada, posts[2])):
        data(await person.client.execute(LIKE, {"id": post}))
    data(
        await ada.client.execute(
            "mutation($id: ID!, $t: String!) { addComment(postId: $id, text: $t) { id } }",
            {"id": posts[1], "t": "hi"},
        )
    )
    await settle(redis, ENGAGEMENT_STREAMS)
    warm = [await seen_by(ada.client, post) for post in posts]
    assert warm == [(2, 0, True), (0, 1, False), (1, 0, True)]

    numbers = [ids.decode("Post", post) for post in posts]
    await redis.delete(
        *(counts_key(number) for number in numbers), liked_key(ids.decode("User", ada.id))
    )
    assert [await seen_by(ada.client, post) for post in posts] == warm


FEED = """
query { homeFeed(first: 12) { edges { node { id caption author { username }
  media { status renditions { name url } } %s } } } }
"""
ENGAGED = "likeCount commentCount viewerHasLiked"


async def test_a_feed_page_reads_counts_and_likes_with_its_posts_and_warm_from_redis_alone(
    http: httpx.AsyncClient,
    clients: ServiceClients,
    redis: RedisClient,
    cql: CqlSession,
    settings: GatewaySettings,
) -> None:
    reader, ada = await sign_up(http, "reader"), await sign_up(http, "ada")
    data(
        await reader.client.execute(
            "mutation($id: ID!) { follow(userId: $id) { id } }", {"id": ada.id}
        )
    )
    posts = [await ready_post(clients, ada) for _ in range(3)]
    data(await reader.client.execute(LIKE, {"id": posts[1]}))
    data(await ada.client.execute(LIKE, {"id": posts[1]}))
    await settle(redis, (*ENGAGEMENT_STREAMS, *FEED_WORKER_STREAMS))

    plain = await reader.client.execute(FEED % "")
    engaged = await reader.client.execute(FEED % ENGAGED)
    assert plain["extensions"]["backendCalls"] == engaged["extensions"]["backendCalls"]
    shown = [
        (edge["node"]["id"], edge["node"]["likeCount"], edge["node"]["viewerHasLiked"])
        for edge in data(engaged)["homeFeed"]["edges"]
    ]
    assert shown == [(posts[2], 0, False), (posts[1], 2, True), (posts[0], 0, False)]

    before = await coordinated_reads(cql, settings.cql_keyspace)
    again = await reader.client.execute(FEED % ENGAGED)
    after = await coordinated_reads(cql, settings.cql_keyspace)
    assert data(again) == data(engaged)
    read = {table: after[table] - before.get(table, 0) for table in after}
    assert {table: n for table, n in read.items() if n} == {}


async def test_likes_and_comments_past_a_viewers_limit_are_rate_limited(
    test_stack: IsolatedStack, http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    settings = test_stack.settings.model_copy(
        update={"gateway_port": free_port(), "like_rate_limit": 2, "comment_rate_limit": 1}
    )
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    comment = 'mutation($id: ID!) { addComment(postId: $id, text: "hi") { id } }'
    with extra_part(one_off_part(test_stack, "gateway-engagement-limits", settings)):
        async with httpx.AsyncClient(base_url=stack.gateway_url(settings), timeout=10) as limited:
            as_ada = GraphQLClient(limited, ada.client.token)
            # Likes and unlikes share one budget.
            for mutation in (LIKE, UNLIKE):
                data(await as_ada.execute(mutation, {"id": post}))
            assert error_codes(await as_ada.execute(LIKE, {"id": post})) == ["RATE_LIMITED"]
            data(await as_ada.execute(comment, {"id": post}))
            assert error_codes(await as_ada.execute(comment, {"id": post})) == ["RATE_LIMITED"]
            as_author = GraphQLClient(limited, author.client.token)
            data(await as_author.execute(LIKE, {"id": post}))  # others are not held back
