"""Comments through GraphQL on the real stack: oldest first in pages, exact counts,
who may delete, the text's limits, events delivered twice or out of order, and a
deleted post that takes its comments and likes with it."""

from __future__ import annotations

import httpx

from gateway import ids
from harness.events import settle
from pictor import events
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from post_svc.engagement import counts_key
from tests.gateway.test_likes import ENGAGEMENT_STREAMS, LIKE, ready_post, seen_by
from tests.harness import GraphQLClient, Person, data, error_codes, sign_up

ADD = """
mutation($id: ID!, $text: String!) {
  addComment(postId: $id, text: $text) { id text author { username } post { id } }
}
"""
DELETE = "mutation($id: ID!) { deleteComment(id: $id) }"
COMMENTS = """
query($id: ID!, $first: Int, $after: String) {
  post(id: $id) { comments(first: $first, after: $after) {
    edges { cursor node { id text author { username } } } pageInfo { hasNextPage endCursor } } }
}
"""


async def comment(person: Person, post: str, text: str) -> str:
    return str(
        data(await person.client.execute(ADD, {"id": post, "text": text}))["addComment"]["id"]
    )


async def all_comments(client: GraphQLClient, post: str, first: int = 2) -> list[tuple[str, str]]:
    """(author, text) of every comment, page by page."""
    shown: list[tuple[str, str]] = []
    after = None
    while True:
        page = data(await client.execute(COMMENTS, {"id": post, "first": first, "after": after}))
        comments = page["post"]["comments"]
        shown += [(e["node"]["author"]["username"], e["node"]["text"]) for e in comments["edges"]]
        if not comments["pageInfo"]["hasNextPage"]:
            return shown
        after = comments["pageInfo"]["endCursor"]


async def test_comments_are_listed_oldest_first_in_pages_and_counted_exactly(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    post = await ready_post(clients, author)
    added = data(await ada.client.execute(ADD, {"id": post, "text": "  first!  "}))["addComment"]
    assert added["text"] == "first!"  # trimmed
    assert added["author"] == {"username": ada.username}
    assert added["post"] == {"id": post}
    written = [(bob, "second"), (ada, "third"), (author, "thanks")]
    for writer, text in written:
        await comment(writer, post, text)

    node = "query($id: ID!) { node(id: $id) { ... on Comment { text post { id } } } }"
    found = data(await bob.client.execute(node, {"id": added["id"]}))["node"]
    assert found == {"text": "first!", "post": {"id": post}}

    await settle(redis, ENGAGEMENT_STREAMS)
    assert await all_comments(GraphQLClient(http), post) == [
        (ada.username, "first!"),
        *((writer.username, text) for writer, text in written),
    ]
    assert await seen_by(bob.client, post) == (0, 4, False)


async def test_a_comment_is_one_to_2200_characters_after_trimming(
    http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    author = await sign_up(http, "author")
    post = await ready_post(clients, author)
    for text in ("", "   \n ", "x" * 2201, "bad\x00byte"):
        result = await author.client.execute(ADD, {"id": post, "text": text})
        assert error_codes(result) == ["BAD_USER_INPUT"], text
    await comment(author, post, "y" * 2200 + "   ")


async def test_the_comment_author_or_the_post_author_may_delete_and_no_one_else(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada, bob = [await sign_up(http, name) for name in ("author", "ada", "bob")]
    post = await ready_post(clients, author)
    by_ada, by_bob = await comment(ada, post, "mine"), await comment(bob, post, "rude")

    assert error_codes(await bob.client.execute(DELETE, {"id": by_ada})) == ["FORBIDDEN"]
    assert error_codes(await GraphQLClient(http).execute(DELETE, {"id": by_ada})) == [
        "UNAUTHENTICATED"
    ]
    assert data(await ada.client.execute(DELETE, {"id": by_ada})) == {"deleteComment": True}
    assert data(await author.client.execute(DELETE, {"id": by_bob})) == {"deleteComment": True}
    for gone in (by_ada, ids.encode("Comment", ids.decode("Comment", by_bob) + 1)):
        assert error_codes(await ada.client.execute(DELETE, {"id": gone})) == ["NOT_FOUND"]

    await settle(redis, ENGAGEMENT_STREAMS)
    assert await all_comments(author.client, post) == []
    assert await seen_by(author.client, post) == (0, 0, False)


async def test_commenting_needs_a_signed_in_viewer_and_a_post_others_can_see(
    http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    anonymous = GraphQLClient(http)
    assert error_codes(await anonymous.execute(ADD, {"id": post, "text": "hi"})) == [
        "UNAUTHENTICATED"
    ]
    pending = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(
            author_id=ids.decode("User", author.id), caption="", content_type="image/jpeg"
        )
    )
    for refused in (ids.encode("Post", pending.post.id), ids.encode("Post", pending.post.id + 1)):
        result = await ada.client.execute(ADD, {"id": refused, "text": "hi"})
        assert error_codes(result) == ["NOT_FOUND"]


async def test_comment_events_delivered_twice_or_out_of_order_change_nothing(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    kept, deleted = await comment(ada, post, "kept"), await comment(ada, post, "deleted")
    data(await ada.client.execute(DELETE, {"id": deleted}))
    await settle(redis, ENGAGEMENT_STREAMS)

    for comment_id, added in ((kept, True), (deleted, True), (deleted, False)):
        await events.publish(
            redis,
            events.COMMENT_CHANGED,
            {
                "comment_id": ids.decode("Comment", comment_id),
                "post_id": ids.decode("Post", post),
                "post_author_id": ids.decode("User", author.id),
                "author_id": ids.decode("User", ada.id),
                "added": int(added),
                "at_ms": 1,
            },
        )
    await settle(redis, ENGAGEMENT_STREAMS)
    assert await seen_by(author.client, post) == (0, 1, False)
    assert await all_comments(author.client, post) == [(ada.username, "kept")]


async def test_a_deleted_post_takes_its_comments_likes_and_counts_with_it(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient, cql: CqlSession
) -> None:
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    data(await ada.client.execute(LIKE, {"id": post}))
    said = [await comment(person, post, "hello") for person in (ada, author)]
    await settle(redis, ENGAGEMENT_STREAMS)
    number = ids.decode("Post", post)
    assert await redis.exists(counts_key(number))

    data(await author.client.execute("mutation($id: ID!) { deletePost(id: $id) }", {"id": post}))
    await settle(redis, ENGAGEMENT_STREAMS)

    for table in ("likes_by_post", "likes_by_post_recent", "comments_by_post"):
        rows = await cql.read(f"SELECT * FROM {table} WHERE post_id = ?", (number,), fresh=True)
        assert rows == [], table
    liker = await cql.read(
        "SELECT * FROM likes_by_user WHERE user_id = ? AND post_id = ?",
        (ids.decode("User", ada.id), number),
        fresh=True,
    )
    assert liker == []
    comment_ids = [ids.decode("Comment", c) for c in said]
    found = await clients.post.BatchGetComments(
        post_pb2.BatchGetCommentsRequest(comment_ids=comment_ids)
    )
    assert list(found.comments) == []
    assert not await redis.exists(counts_key(number))
    assert error_codes(await ada.client.execute(LIKE, {"id": post})) == ["NOT_FOUND"]
