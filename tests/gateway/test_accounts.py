"""Signing up and logging in, through GraphQL as a client app does it."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from gateway.ratelimit import attempts_key
from pictor.redis_client import open_redis
from tests.harness import (
    SIGN_UP,
    GraphQLClient,
    IsolatedStack,
    data,
    error_codes,
    one_off_gateway,
    sign_up,
    unique_name,
)

LOG_IN = """
mutation($username: String!, $password: String!) {
  logIn(username: $username, password: $password) { token user { id username } }
}
"""


async def test_sign_up_then_log_in_as_the_same_user(graphql: GraphQLClient) -> None:
    username = unique_name("story")
    signed_up = data(
        await graphql.execute(
            """mutation($u: String!) {
                 signUp(username: $u, password: "a fine password", displayName: "  Ada   L. ") {
                   token user { id username displayName followerCount followingCount postCount }
                 }
               }""",
            {"u": username.upper()},
        )
    )["signUp"]
    assert signed_up["user"] == {
        "id": signed_up["user"]["id"],
        "username": username,
        "displayName": "Ada L.",
        "followerCount": 0,
        "followingCount": 0,
        "postCount": 0,
    }

    logged_in = data(
        await graphql.execute(LOG_IN, {"username": username, "password": "a fine password"})
    )["logIn"]
    assert logged_in["user"]["id"] == signed_up["user"]["id"]

    graphql.token = logged_in["token"]
    viewer = data(await graphql.execute("{ viewer { id username } }"))["viewer"]
    assert viewer == {"id": signed_up["user"]["id"], "username": username}


@pytest.mark.parametrize(
    "username",
    ["", "has space", "UPPER-dash", "x" * 31, "emoji😀", "tab\tname", "semi;colon"],
)
async def test_bad_usernames_are_refused(graphql: GraphQLClient, username: str) -> None:
    result = await graphql.execute(SIGN_UP, {"username": username, "password": "a fine password"})
    assert error_codes(result) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("password", ["", "short", " " * 12, "x" * 257])
async def test_bad_passwords_are_refused(graphql: GraphQLClient, password: str) -> None:
    result = await graphql.execute(SIGN_UP, {"username": unique_name("pw"), "password": password})
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_a_taken_username_is_a_conflict_whatever_its_case(graphql: GraphQLClient) -> None:
    username = unique_name("taken")
    data(await graphql.execute(SIGN_UP, {"username": username, "password": "a fine password"}))
    again = await graphql.execute(
        SIGN_UP, {"username": username.upper(), "password": "another password"}
    )
    assert error_codes(again) == ["CONFLICT"]


async def test_concurrent_sign_ups_of_one_name_have_exactly_one_winner(
    graphql: GraphQLClient,
) -> None:
    username = unique_name("race")
    results = await asyncio.gather(
        *(
            graphql.execute(SIGN_UP, {"username": username, "password": f"password number {n}"})
            for n in range(8)
        )
    )
    winners = [result for result in results if "errors" not in result]
    assert len(winners) == 1
    assert sorted(code for result in results for code in error_codes(result)) == ["CONFLICT"] * 7

    # The name belongs to the winner: only the winner's password logs in.
    winner_id = winners[0]["data"]["signUp"]["user"]["id"]
    user = data(
        await graphql.execute("query($u: String!) { user(username: $u) { id } }", {"u": username})
    )
    assert user["user"]["id"] == winner_id


async def test_wrong_password_and_unknown_user_fail_alike(http: httpx.AsyncClient) -> None:
    person = await sign_up(http, "creds")
    anonymous = GraphQLClient(http)
    wrong = await anonymous.execute(
        LOG_IN, {"username": person.username, "password": "not it at all"}
    )
    unknown = await anonymous.execute(
        LOG_IN, {"username": unique_name("ghost"), "password": "not it at all"}
    )
    malformed = await anonymous.execute(LOG_IN, {"username": "No Such Name!", "password": "x"})
    for result in (wrong, unknown, malformed):
        assert error_codes(result) == ["UNAUTHENTICATED"]
        assert result["errors"][0]["message"] == "invalid username or password"


async def test_repeated_failed_log_ins_lock_the_username(http: httpx.AsyncClient) -> None:
    person = await sign_up(http, "guess")
    anonymous = GraphQLClient(http)
    for _ in range(10):
        result = await anonymous.execute(
            LOG_IN, {"username": person.username, "password": "a wrong guess"}
        )
        assert error_codes(result) == ["UNAUTHENTICATED"]
    # Even the right password is refused while the account is locked.
    locked = await anonymous.execute(
        LOG_IN, {"username": person.username, "password": "a fine password"}
    )
    assert error_codes(locked) == ["RATE_LIMITED"]


async def test_a_successful_log_in_clears_earlier_failures(http: httpx.AsyncClient) -> None:
    person = await sign_up(http, "typo")
    anonymous = GraphQLClient(http)
    for _ in range(9):
        await anonymous.execute(LOG_IN, {"username": person.username, "password": "a typo'd one"})
    data(
        await anonymous.execute(
            LOG_IN, {"username": person.username, "password": "a fine password"}
        )
    )
    for _ in range(9):
        await anonymous.execute(LOG_IN, {"username": person.username, "password": "a typo'd one"})
    data(
        await anonymous.execute(
            LOG_IN, {"username": person.username, "password": "a fine password"}
        )
    )


async def test_too_many_attempts_from_one_address_are_rate_limited(
    test_stack: IsolatedStack,
) -> None:
    """A gateway with PICTOR_AUTH_RATE_LIMIT=5 refuses the sixth attempt in a minute."""
    settings = test_stack.settings.model_copy(update={"auth_rate_limit": 5})
    # Other tests' attempts from this address count too: this minute's count starts over
    # (Redis opened as the gateway opens it, a Cluster on the cluster topology).
    counters = open_redis(settings)
    await counters.delete(attempts_key("127.0.0.1", time.time()))
    await counters.aclose()
    async with one_off_gateway(test_stack, "gateway-ratelimit", settings) as http:
        client = GraphQLClient(http)
        codes = []
        for _ in range(11):
            result = await client.execute(
                LOG_IN, {"username": unique_name("flood"), "password": "whatever it is"}
            )
            codes.append(error_codes(result)[0])
    # The loop takes well under a minute, so it spans at most two one-minute windows,
    # and one of them sees at least six attempts.
    assert codes[:5] == ["UNAUTHENTICATED"] * 5
    assert "RATE_LIMITED" in codes
