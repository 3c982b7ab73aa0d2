"""graph_svc under races and retries, over its gRPC API with the real Cassandra."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import grpc
import pytest
import redis.asyncio as redis

from gateway.config import GatewaySettings
from pictor import events
from pictor.clients import ServiceClients
from pictor.graph.v1 import graph_pb2
from tests.harness import unique_name


async def new_user(clients: ServiceClients, prefix: str) -> int:
    response = await clients.graph.CreateUser(
        graph_pb2.CreateUserRequest(username=unique_name(prefix), password="a fine password")
    )
    user_id: int = response.user.id
    return user_id


async def counts(clients: ServiceClients, user_id: int) -> tuple[int, int]:
    response = await clients.graph.BatchGetUsers(graph_pb2.BatchGetUsersRequest(user_ids=[user_id]))
    user = response.users[0]
    return user.follower_count, user.following_count


async def listed(clients: ServiceClients, user_id: int, followers: bool) -> list[int]:
    request_type = graph_pb2.ListFollowersRequest if followers else graph_pb2.ListFollowingRequest
    rpc = clients.graph.ListFollowers if followers else clients.graph.ListFollowing
    response = await rpc(request_type(user_id=user_id))
    return [edge.user_id for edge in response.edges]


async def test_racing_follows_and_unfollows_of_one_pair_stay_exact(
    clients: ServiceClients,
) -> None:
    """Whatever order racing calls land in, the counts equal the lists in both directions."""
    fan, star = await new_user(clients, "racer"), await new_user(clients, "target")
    rng = random.Random(7)
    for _round in range(4):
        calls = [
            clients.graph.Follow(graph_pb2.FollowRequest(follower_id=fan, followee_id=star))
            if rng.random() < 0.5
            else clients.graph.Unfollow(
                graph_pb2.UnfollowRequest(follower_id=fan, followee_id=star)
            )
            for _ in range(8)
        ]
        await asyncio.gather(*calls)
        followers_of_star = await listed(clients, star, followers=True)
        following_of_fan = await listed(clients, fan, followers=False)
        assert followers_of_star in ([], [fan])
        assert following_of_fan == ([star] if followers_of_star else [])
        assert await counts(clients, star) == (len(followers_of_star), 0)
        assert await counts(clients, fan) == (0, len(following_of_fan))


async def test_many_fans_following_at_once_are_all_counted(clients: ServiceClients) -> None:
    star = await new_user(clients, "crowded")
    fans = await asyncio.gather(*(new_user(clients, "crowd") for _ in range(12)))
    await asyncio.gather(
        *(
            clients.graph.Follow(graph_pb2.FollowRequest(follower_id=fan, followee_id=star))
            for fan in fans
        )
    )
    assert await counts(clients, star) == (12, 0)
    assert sorted(await listed(clients, star, followers=True)) == sorted(fans)


async def test_stream_followers_yields_every_follower_once_in_pages(
    clients: ServiceClients,
) -> None:
    star = await new_user(clients, "streamed")
    fans = await asyncio.gather(*(new_user(clients, "viewer") for _ in range(23)))
    for fan in fans:
        await clients.graph.Follow(graph_pb2.FollowRequest(follower_id=fan, followee_id=star))
    pages = [
        list(page.follower_ids)
        async for page in clients.graph.StreamFollowers(
            graph_pb2.StreamFollowersRequest(user_id=star, page_size=5)
        )
    ]
    assert [len(page) for page in pages] == [5, 5, 5, 5, 3]
    streamed = [fan for page in pages for fan in page]
    assert sorted(streamed) == sorted(fans)


async def test_batch_check_answers_in_the_order_asked(clients: ServiceClients) -> None:
    viewer = await new_user(clients, "checker")
    others = await asyncio.gather(*(new_user(clients, "other") for _ in range(4)))
    for followed in (others[0], others[2]):
        await clients.graph.Follow(
            graph_pb2.FollowRequest(follower_id=viewer, followee_id=followed)
        )
    response = await clients.graph.BatchCheckFollows(
        graph_pb2.BatchCheckFollowsRequest(viewer_id=viewer, target_ids=[*others, others[0]])
    )
    assert list(response.follows) == [True, False, True, False, True]


async def test_every_real_change_is_announced_once(
    clients: ServiceClients, settings: GatewaySettings
) -> None:
    fan, star = await new_user(clients, "announcer"), await new_user(clients, "announced")
    follow = graph_pb2.FollowRequest(follower_id=fan, followee_id=star)
    unfollow = graph_pb2.UnfollowRequest(follower_id=fan, followee_id=star)
    # One after the other: a grpc.aio call starts as soon as it is created.
    await clients.graph.Follow(follow)
    await clients.graph.Follow(follow)
    await clients.graph.Unfollow(unfollow)
    await clients.graph.Unfollow(unfollow)
    await clients.graph.Follow(follow)

    client = redis.from_url(settings.redis_url, decode_responses=True)
    try:
        entries = await client.xrange(events.FOLLOW_CHANGED)
    finally:
        await client.aclose()
    states = [
        fields["following"]
        for _, fields in entries or ()
        if fields and fields["follower_id"] == str(fan) and fields["followee_id"] == str(star)
    ]
    assert states == ["1", "0", "1"]


async def test_the_follower_must_exist_too(clients: ServiceClients) -> None:
    star = await new_user(clients, "real")
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await clients.graph.Follow(graph_pb2.FollowRequest(follower_id=123, followee_id=star))
    assert raised.value.code() == grpc.StatusCode.NOT_FOUND


async def test_the_newest_post_count_report_wins_whatever_the_order(
    clients: ServiceClients,
) -> None:
    author = await new_user(clients, "author")
    for count, version in ((3, 300), (5, 500), (5, 500), (4, 400)):
        await clients.graph.SetPostCount(
            graph_pb2.SetPostCountRequest(user_id=author, post_count=count, version=version)
        )
    response = await clients.graph.BatchGetUsers(graph_pb2.BatchGetUsersRequest(user_ids=[author]))
    assert response.users[0].post_count == 5


async def test_a_bulk_import_counts_exactly_and_skips_what_exists(clients: ServiceClients) -> None:
    fans = await asyncio.gather(*(new_user(clients, "bulkfan") for _ in range(6)))
    stars = await asyncio.gather(*(new_user(clients, "bulkstar") for _ in range(3)))
    # One edge exists already, one is repeated, one is a self-follow (ignored).
    await clients.graph.Follow(graph_pb2.FollowRequest(follower_id=fans[0], followee_id=stars[0]))

    async def requests() -> AsyncIterator[graph_pb2.ImportFollowsRequest]:
        for fan in fans:
            yield graph_pb2.ImportFollowsRequest(
                follower_id=fan, followee_ids=[*stars, stars[0], fan]
            )

    imported = await clients.graph.ImportFollows(requests())
    assert imported.added == 6 * 3 - 1
    for star in stars:
        assert await counts(clients, star) == (6, 0)
        assert sorted(await listed(clients, star, followers=True)) == sorted(fans)
    for fan in fans:
        assert await counts(clients, fan) == (0, 3)

    again = await clients.graph.ImportFollows(requests())
    assert again.added == 0
    assert await counts(clients, stars[1]) == (6, 0)


async def test_imported_accounts_log_in_with_their_hashed_password(clients: ServiceClients) -> None:
    from argon2 import PasswordHasher

    hashed = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("imported secret")
    names = [unique_name("imported") for _ in range(3)]

    async def requests() -> AsyncIterator[graph_pb2.ImportUsersRequest]:
        for name in [*names, names[0]]:
            yield graph_pb2.ImportUsersRequest(username=name, password_hash=hashed)

    first = [r async for r in clients.graph.ImportUsers(requests())]
    assert [r.created for r in first] == [True, True, True, False]
    assert first[3].user_id == first[0].user_id
    again = [r async for r in clients.graph.ImportUsers(requests())]
    assert [r.created for r in again] == [False] * 4
    assert [r.user_id for r in again] == [r.user_id for r in first]

    logged_in = await clients.graph.Authenticate(
        graph_pb2.AuthenticateRequest(username=names[1], password="imported secret")
    )
    assert logged_in.user.id == first[1].user_id
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await clients.graph.ImportUsers(
            iter([graph_pb2.ImportUsersRequest(username=unique_name("x"), password_hash="plain")])
        ).read()
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
