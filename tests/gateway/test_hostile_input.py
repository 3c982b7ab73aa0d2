"""Input that is the client's fault gets the client's error: ids that do not fit 64
bits, cursors hundreds of digits long, lone surrogates, a token whose subject is not
an id. Never INTERNAL, never a 500."""

from __future__ import annotations

import base64

import httpx
import jwt
import pytest

from gateway.config import GatewaySettings
from tests.harness import GraphQLClient, error_codes, sign_up

HUGE = "9" * 25


def global_id(kind: str, number: str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ("query($id: ID!) { post(id: $id) { id } }", {"id": global_id("Post", HUGE)}),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": global_id("User", HUGE)}),
        ("mutation($id: ID!) { follow(userId: $id) { id } }", {"id": global_id("User", HUGE)}),
        ("mutation($id: ID!) { deletePost(id: $id) }", {"id": global_id("Post", HUGE)}),
        (
            "mutation($id: ID!) { confirmUpload(postId: $id) { id } }",
            {"id": global_id("Post", HUGE)},
        ),
    ],
)
async def test_an_id_beyond_64_bits_is_bad_user_input(
    http: httpx.AsyncClient, query: str, variables: dict[str, str]
) -> None:
    person = await sign_up(http, "huge")
    assert error_codes(await person.client.execute(query, variables)) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("connection", ["followers", "following", "posts"])
async def test_a_cursor_of_hundreds_of_digits_is_bad_user_input(
    http: httpx.AsyncClient, connection: str
) -> None:
    person = await sign_up(http, "cursor")
    query = f"""query($u: String!, $after: String) {{
      user(username: $u) {{ {connection}(first: 2, after: $after) {{ edges {{ cursor }} }} }}
    }}"""
    result = await person.client.execute(query, {"u": person.username, "after": "9" * 400})
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_a_home_feed_cursor_of_hundreds_of_digits_is_bad_user_input(
    http: httpx.AsyncClient,
) -> None:
    person = await sign_up(http, "feedcursor")
    query = "query($after: String) { homeFeed(first: 2, after: $after) { edges { cursor } } }"
    for cursor in ("9" * 400, f"{'9' * 400}:1", f"1:{'9' * 400}"):
        result = await person.client.execute(query, {"after": cursor})
        assert error_codes(result) == ["BAD_USER_INPUT"], cursor


async def test_a_lone_surrogate_in_a_string_literal_is_bad_user_input(
    graphql: GraphQLClient,
) -> None:
    result = await graphql.execute('{ user(username: "ada\\ud800") { id } }')
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_a_lone_surrogate_in_a_variable_is_bad_user_input(http: httpx.AsyncClient) -> None:
    body = b'{"query": "query($u: String!) { user(username: $u) { id } }", '
    body += b'"variables": {"u": "ada\\ud800"}}'
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code in (200, 400)
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize("subject", [HUGE, "-5", "0", "ada"])
async def test_a_token_whose_subject_is_not_a_user_id_is_unauthenticated(
    http: httpx.AsyncClient, settings: GatewaySettings, subject: str
) -> None:
    token = jwt.encode(
        {"sub": subject, "iss": "pictor", "exp": 4_102_444_800},
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    result = await GraphQLClient(http, token).execute("{ viewer { id } }")
    assert error_codes(result) == ["UNAUTHENTICATED"]
