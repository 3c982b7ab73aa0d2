"""A sign-up whose answer was lost (the client timed out, the connection dropped) may
have created the account; the client's retry must then get that account, not
CONFLICT. Only a repeat of the same sign-up, soon after, is recognised: another
password (or display name) for a taken name is still CONFLICT, and so is any sign-up
for an account older than the retry window."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    data,
    error_codes,
    one_off_graph_svc,
    unique_name,
)

SIGN_UP = """
mutation($username: String!, $password: String!, $displayName: String) {
  signUp(username: $username, password: $password, displayName: $displayName) {
    token user { id username displayName }
  }
}
"""
VIEWER = "{ viewer { id } }"


def sign_up_of(username: str, password: str = "a fine password", **more: str) -> dict[str, Any]:
    return {"username": username, "password": password, "displayName": "Ada", **more}


async def viewer_id(http: httpx.AsyncClient, token: str) -> str:
    viewer: str = data(await GraphQLClient(http, token).execute(VIEWER))["viewer"]["id"]
    return viewer


async def test_a_retried_sign_up_gets_the_account_its_first_attempt_made(
    graphql: GraphQLClient, http: httpx.AsyncClient
) -> None:
    username = unique_name("retrier")
    first = data(await graphql.execute(SIGN_UP, sign_up_of(username)))["signUp"]
    # The client never heard this answer, so it sends the same sign-up again.
    retried = data(await graphql.execute(SIGN_UP, sign_up_of(username)))["signUp"]

    assert retried["user"] == first["user"]
    assert await viewer_id(http, retried["token"]) == first["user"]["id"]


async def test_a_retry_sent_while_the_first_attempt_runs_gets_the_same_account(
    graphql: GraphQLClient,
) -> None:
    username = unique_name("impatient")
    answers = await asyncio.gather(
        *(graphql.execute(SIGN_UP, sign_up_of(username)) for _ in range(3))
    )
    users = [data(answer)["signUp"]["user"] for answer in answers]
    assert len({user["id"] for user in users}) == 1, users


async def test_another_password_or_display_name_for_a_taken_name_is_a_conflict(
    graphql: GraphQLClient,
) -> None:
    username = unique_name("claimed")
    data(await graphql.execute(SIGN_UP, sign_up_of(username)))

    other_password = await graphql.execute(
        SIGN_UP, sign_up_of(username, password="not the same password")
    )
    other_name = await graphql.execute(SIGN_UP, sign_up_of(username, displayName="Someone"))
    assert error_codes(other_password) == ["CONFLICT"]
    assert error_codes(other_name) == ["CONFLICT"]


@pytest.fixture(scope="module")
def no_retry_window(test_stack: IsolatedStack) -> Iterator[str]:
    """A gateway and graph_svc that recognise no repeated sign-up at all."""
    no_window = {"PICTOR_SIGN_UP_RETRY_WINDOW_SECONDS": "0"}
    with one_off_graph_svc(test_stack, "no-retry-window", no_window) as gateway_url:
        yield gateway_url


@pytest.fixture
async def windowless(no_retry_window: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=no_retry_window, timeout=10) as http:
        yield GraphQLClient(http)


async def test_a_repeat_after_the_retry_window_is_a_conflict(windowless: GraphQLClient) -> None:
    username = unique_name("late")
    data(await windowless.execute(SIGN_UP, sign_up_of(username)))
    again = await windowless.execute(SIGN_UP, sign_up_of(username))
    assert error_codes(again) == ["CONFLICT"]
