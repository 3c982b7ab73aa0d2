"""Demo data (`make seed`) on the test stack: a tiny graph seeded through the public
APIs gives every seeded user a home feed to scroll in GraphiQL, and seeding again
adds nothing."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import GatewaySettings
from pictor.clients import ServiceClients
from pictor.common.v1 import common_pb2
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2
from seed.plan import DemoPlan, plan
from seed.seeder import PASSWORD, celebrity_threshold, seed
from tests.harness import GraphQLClient, IsolatedStack, data

USERS = 12
# One page of the feed: enough to see, few photos to process.
FEED_TARGET = 6
PHOTOS = 4

LOG_IN = """
mutation($username: String!, $password: String!) {
  logIn(username: $username, password: $password) { token }
}
"""
HOME_FEED = """
{ viewer { username followingCount }
  homeFeed(first: 12) { edges { node { caption author { username } media { status } } } } }
"""


@pytest.fixture(scope="module")
def demo() -> DemoPlan:
    return plan(USERS, feed_target=FEED_TARGET)


@pytest.fixture(scope="module")
def threshold(test_stack: IsolatedStack) -> int:
    value, _ = celebrity_threshold(test_stack.parts["feed_worker"].pid())
    return value


async def seeded_state(clients: ServiceClients, demo: DemoPlan) -> dict[str, tuple[int, ...]]:
    """Per seeded username: its id, follower, following and post counts, and how many
    posts its profile grid holds."""
    state: dict[str, tuple[int, ...]] = {}
    for username in demo.usernames:
        user = (
            await clients.graph.GetUserByUsername(
                graph_pb2.GetUserByUsernameRequest(username=username)
            )
        ).user
        grid = await clients.post.ListUserPosts(
            post_pb2.ListUserPostsRequest(
                user_id=user.id, page=common_pb2.PageRequest(page_size=100)
            )
        )
        state[username] = (
            user.id,
            user.follower_count,
            user.following_count,
            user.post_count,
            len(grid.edges),
        )
    return state


async def test_a_seeded_user_logs_in_to_a_full_feed_and_a_second_seed_adds_nothing(
    test_stack: IsolatedStack,
    settings: GatewaySettings,
    clients: ServiceClients,
    demo: DemoPlan,
    threshold: int,
) -> None:
    assert threshold == 3  # the test stack's, read from the feed worker's environment

    first = await seed(
        settings, demo, test_stack.gateway_url, threshold, say=lambda _: None, photos=PHOTOS
    )

    assert first.users == first.users_created == USERS
    assert first.follow_edges == first.edges_added == demo.edges
    assert first.posts == first.posts_uploaded == sum(demo.posts)
    assert first.uploads_failed == 0
    assert first.full_feeds == USERS
    assert first.celebrities  # a few accounts have more than 3 followers
    assert first.login is not None
    username, first_page = first.login
    assert first_page

    async with httpx.AsyncClient(base_url=test_stack.gateway_url, timeout=30) as http:
        anonymous = GraphQLClient(http)
        token = data(await anonymous.execute(LOG_IN, {"username": username, "password": PASSWORD}))
        reader = GraphQLClient(http, token["logIn"]["token"])
        page = data(await reader.execute(HOME_FEED))
    index = demo.usernames.index(username)
    assert page["viewer"] == {
        "username": username,
        "followingCount": len(demo.following[index]),
    }
    posts = [edge["node"] for edge in page["homeFeed"]["edges"]]
    assert len(posts) >= FEED_TARGET
    followees = {demo.usernames[f] for f in demo.following[index]}
    assert {post["author"]["username"] for post in posts} <= followees
    assert {post["media"]["status"] for post in posts} == {"READY"}

    before = await seeded_state(clients, demo)
    assert sum(counts[4] for counts in before.values()) == sum(demo.posts)

    second = await seed(
        settings, demo, test_stack.gateway_url, threshold, say=lambda _: None, photos=PHOTOS
    )

    assert (second.users_created, second.edges_added, second.posts_uploaded) == (0, 0, 0)
    assert (second.users, second.follow_edges, second.posts) == (
        first.users,
        first.follow_edges,
        first.posts,
    )
    assert second.full_feeds == USERS
    assert await seeded_state(clients, demo) == before
