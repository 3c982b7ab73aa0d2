"""Alt text through GraphQL on the real stack: null until the author sets it, seen at
once everywhere the post is shown (the cached record is replaced), and refused to
anyone else or outside its limits."""

from __future__ import annotations

import httpx

from gateway import ids
from harness.events import FEED_WORKER_STREAMS, settle
from pictor.clients import ServiceClients
from pictor.redis_client import RedisClient
from tests.gateway.test_likes import ready_post
from tests.harness import GraphQLClient, data, error_codes, sign_up

SET = """
mutation($id: ID!, $text: String!) { setAltText(postId: $id, altText: $text) { id altText } }
"""
SHOWN = """
query($id: ID!, $username: String!) {
  post(id: $id) { altText }
  user(username: $username) { posts(first: 1) { edges { node { altText } } } }
  homeFeed(first: 1) { edges { node { altText } } }
}
"""


async def test_alt_text_is_null_until_the_author_sets_it_and_then_shown_everywhere_at_once(
    http: httpx.AsyncClient, clients: ServiceClients, redis: RedisClient
) -> None:
    author, reader = await sign_up(http, "author"), await sign_up(http, "reader")
    data(
        await reader.client.execute(
            "mutation($id: ID!) { follow(userId: $id) { id } }", {"id": author.id}
        )
    )
    post = await ready_post(clients, author)
    await settle(redis, FEED_WORKER_STREAMS)

    async def shown() -> list[str | None]:
        seen = data(await reader.client.execute(SHOWN, {"id": post, "username": author.username}))
        return [
            seen["post"]["altText"],
            seen["user"]["posts"]["edges"][0]["node"]["altText"],
            seen["homeFeed"]["edges"][0]["node"]["altText"],
        ]

    assert await shown() == [None, None, None]  # and the post is cached now
    for text in ("A dog on a beach", "  A black dog running on a beach at dusk \n"):
        changed = data(await author.client.execute(SET, {"id": post, "text": text}))["setAltText"]
        assert changed == {"id": post, "altText": text.strip()}
        assert await shown() == [text.strip()] * 3


async def test_only_the_author_sets_alt_text_of_one_to_a_thousand_characters(
    http: httpx.AsyncClient, clients: ServiceClients
) -> None:
    author, ada = await sign_up(http, "author"), await sign_up(http, "ada")
    post = await ready_post(clients, author)
    missing = ids.encode("Post", ids.decode("Post", post) + 1)
    refused = [
        (GraphQLClient(http), post, "mine", "UNAUTHENTICATED"),
        (ada.client, post, "mine", "FORBIDDEN"),
        (author.client, missing, "mine", "NOT_FOUND"),
        (author.client, post, "   ", "BAD_USER_INPUT"),
        (author.client, post, "x" * 1001, "BAD_USER_INPUT"),
    ]
    for client, target, text, code in refused:
        assert error_codes(await client.execute(SET, {"id": target, "text": text})) == [code]
    data(await author.client.execute(SET, {"id": post, "text": "x" * 1000}))
