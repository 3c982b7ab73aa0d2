"""Following people, through GraphQL: counts, lists, idempotency, pagination, batching."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.harness import GraphQLClient, Person, data, error_codes, sign_up

FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id followerCount viewerFollows } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id followerCount viewerFollows } }"
PROFILE = """
query($u: String!) {
  user(username: $u) { followerCount followingCount viewerFollows }
}
"""
FOLLOWERS_PAGE = """
query($u: String!, $first: Int, $after: String) {
  user(username: $u) {
    followers(first: $first, after: $after) {
      edges { cursor node { id username viewerFollows followerCount } }
      pageInfo { hasNextPage endCursor }
    }
  }
}
"""


async def profile(client: GraphQLClient, person: Person) -> dict[str, Any]:
    user: dict[str, Any] = data(await client.execute(PROFILE, {"u": person.username}))["user"]
    return user


async def follower_names(client: GraphQLClient, person: Person, first: int = 100) -> list[str]:
    page = data(await client.execute(FOLLOWERS_PAGE, {"u": person.username, "first": first}))
    return [edge["node"]["username"] for edge in page["user"]["followers"]["edges"]]


async def test_follow_counts_lists_and_unfollow(http: httpx.AsyncClient) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]

    followed = data(await ada.client.execute(FOLLOW, {"id": bob.id}))["follow"]
    assert followed == {"id": bob.id, "followerCount": 1, "viewerFollows": True}
    data(await cy.client.execute(FOLLOW, {"id": bob.id}))
    data(await ada.client.execute(FOLLOW, {"id": cy.id}))

    assert await profile(ada.client, bob) == {
        "followerCount": 2,
        "followingCount": 0,
        "viewerFollows": True,
    }
    assert await profile(ada.client, ada) == {
        "followerCount": 0,
        "followingCount": 2,
        "viewerFollows": False,
    }
    assert sorted(await follower_names(ada.client, bob)) == sorted([ada.username, cy.username])
    following = data(
        await ada.client.execute("{ viewer { following { edges { node { username } } } } }")
    )["viewer"]["following"]["edges"]
    assert sorted(edge["node"]["username"] for edge in following) == sorted(
        [bob.username, cy.username]
    )

    unfollowed = data(await ada.client.execute(UNFOLLOW, {"id": bob.id}))["unfollow"]
    assert unfollowed == {"id": bob.id, "followerCount": 1, "viewerFollows": False}
    assert await follower_names(ada.client, bob) == [cy.username]
    assert (await profile(ada.client, ada))["followingCount"] == 1


async def test_following_twice_or_unfollowing_twice_changes_nothing(
    http: httpx.AsyncClient,
) -> None:
    fan, star = await sign_up(http, "fan"), await sign_up(http, "star")
    for _ in range(3):
        result = data(await fan.client.execute(FOLLOW, {"id": star.id}))["follow"]
        assert result["followerCount"] == 1
    assert (await profile(fan.client, fan))["followingCount"] == 1
    for _ in range(3):
        result = data(await fan.client.execute(UNFOLLOW, {"id": star.id}))["unfollow"]
        assert result["followerCount"] == 0
    assert (await profile(fan.client, fan))["followingCount"] == 0


async def test_retried_follows_in_flight_together_count_once(http: httpx.AsyncClient) -> None:
    fan, star = await sign_up(http, "eager"), await sign_up(http, "idol")
    await asyncio.gather(*(fan.client.execute(FOLLOW, {"id": star.id}) for _ in range(6)))
    assert await profile(fan.client, star) == {
        "followerCount": 1,
        "followingCount": 0,
        "viewerFollows": True,
    }
    assert await follower_names(fan.client, star) == [fan.username]


async def test_following_yourself_is_bad_input(http: httpx.AsyncClient) -> None:
    me = await sign_up(http, "narcissus")
    assert error_codes(await me.client.execute(FOLLOW, {"id": me.id})) == ["BAD_USER_INPUT"]


async def test_following_an_unknown_user_is_not_found(http: httpx.AsyncClient) -> None:
    me = await sign_up(http, "lonely")
    ghost = "VXNlcjo5OTk5OTk5OTk5"  # User:9999999999, never created
    assert error_codes(await me.client.execute(FOLLOW, {"id": ghost})) == ["NOT_FOUND"]


async def test_following_needs_a_signed_in_viewer(http: httpx.AsyncClient) -> None:
    star = await sign_up(http, "famous")
    result = await GraphQLClient(http).execute(FOLLOW, {"id": star.id})
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_pages_neither_repeat_nor_skip_while_followers_arrive(
    http: httpx.AsyncClient,
) -> None:
    star = await sign_up(http, "popular")
    first_fans = [await sign_up(http, "early") for _ in range(7)]
    for fan in first_fans:
        data(await fan.client.execute(FOLLOW, {"id": star.id}))

    seen: list[str] = []
    after = None
    while True:
        page = data(
            await star.client.execute(
                FOLLOWERS_PAGE, {"u": star.username, "first": 3, "after": after}
            )
        )["user"]["followers"]
        seen += [edge["node"]["username"] for edge in page["edges"]]
        # Someone new follows between every two pages.
        late = await sign_up(http, "late")
        data(await late.client.execute(FOLLOW, {"id": star.id}))
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]

    assert len(seen) == len(set(seen)), "a follower was listed twice"
    assert {fan.username for fan in first_fans} <= set(seen), "a follower was skipped"


async def test_first_is_between_one_and_a_hundred(http: httpx.AsyncClient) -> None:
    star = await sign_up(http, "capped")
    for first in (0, -1, 101):
        result = await star.client.execute(FOLLOWERS_PAGE, {"u": star.username, "first": first})
        assert error_codes(result) == ["BAD_USER_INPUT"], first


async def test_a_followers_page_costs_the_same_calls_whatever_its_size(
    http: httpx.AsyncClient,
) -> None:
    """DataLoaders batch users and relationships: 20 followers cost what 2 cost."""
    viewer = await sign_up(http, "viewer")

    async def calls_to_list(followers: int) -> tuple[int, dict[str, int]]:
        star = await sign_up(http, "listed")
        fans = await asyncio.gather(*(sign_up(http, "fan") for _ in range(followers)))
        for fan in fans:
            data(await fan.client.execute(FOLLOW, {"id": star.id}))
        # The viewer follows every other fan, so viewerFollows varies along the page.
        for fan in fans[::2]:
            data(await viewer.client.execute(FOLLOW, {"id": fan.id}))
        result = await viewer.client.execute(FOLLOWERS_PAGE, {"u": star.username, "first": 20})
        edges = data(result)["user"]["followers"]["edges"]
        assert len(edges) == followers
        follows = {edge["node"]["username"]: edge["node"]["viewerFollows"] for edge in edges}
        assert follows == {fan.username: index % 2 == 0 for index, fan in enumerate(fans)}
        report = result["extensions"]["backendCalls"]
        return report["total"], report["byMethod"]

    small_total, small = await calls_to_list(2)
    large_total, large = await calls_to_list(20)
    assert large_total == small_total
    assert large == small
    assert small == {
        "/pictor.graph.v1.GraphService/GetUserByUsername": 1,
        "/pictor.graph.v1.GraphService/ListFollowers": 1,
        "/pictor.graph.v1.GraphService/BatchGetUsers": 1,
        "/pictor.graph.v1.GraphService/BatchCheckFollows": 1,
    }
