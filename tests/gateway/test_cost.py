"""Query cost: the nodes a query's connections can return (GitHub's method), computed
from the document before it runs, refused over ``max_query_cost``, reported in
``extensions.cost``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.http import Documents
from gateway.schema import build_schema, limit_rules

SETTINGS = GatewaySettings()
SCHEMA = build_schema(SETTINGS)

FOLLOWERS_OF_FOLLOWERS = """
query($outer: Int, $inner: Int) {
  user(username: "nobody") {
    followers(first: $outer) {
      edges { node { followers(first: $inner) { edges { node { id } } } } }
    }
  }
}
"""


async def followers_of_followers(
    http: httpx.AsyncClient, outer: int, inner: int, headers: dict[str, str] | None = None
) -> httpx.Response:
    """FOLLOWERS_OF_FOLLOWERS, asking ``outer`` followers with ``inner`` of theirs each."""
    variables = {"outer": outer, "inner": inner}
    return await http.post(
        "/graphql", json={"query": FOLLOWERS_OF_FOLLOWERS, "variables": variables}, headers=headers
    )


def cost(query: str, variables: dict[str, Any] | None = None) -> int:
    prepared = Documents(SCHEMA._schema, limit_rules(SETTINGS), SETTINGS.max_tokens).prepare(query)
    assert not prepared.errors, prepared.errors
    return prepared.operations[None].cost.requested(variables)


@pytest.mark.parametrize(
    ("query", "variables", "expected"),
    [
        ("{ __typename viewer { username } }", None, 1),
        # The connection's own default when `first` is absent, or null.
        ("{ homeFeed { edges { node { id author { username } } } } }", None, 1 + 12),
        ("{ homeFeed(first: null) { edges { cursor } } }", None, 1 + 12),
        ("{ viewer { following { edges { cursor } } } }", None, 1 + 20),
        # Side by side they add up; nested they multiply.
        (
            "{ viewer { posts(first: 5) { edges { cursor } } followers(first: 7) { edges { cursor } } } }",
            None,
            1 + 5 + 7,
        ),
        (FOLLOWERS_OF_FOLLOWERS, {"outer": 10, "inner": 3}, 1 + 10 + 10 * 3),
        (FOLLOWERS_OF_FOLLOWERS, {"outer": 100, "inner": 100}, 1 + 100 + 100 * 100),
        # Variables not given fall back to the connection's default.
        (FOLLOWERS_OF_FOLLOWERS, {}, 1 + 20 + 20 * 20),
        ("query($n: Int = 4) { homeFeed(first: $n) { edges { cursor } } }", {}, 1 + 4),
        # Fragments, named or inline, count where they are spread.
        (
            """{ homeFeed(first: 10) { edges { node { ...Author } } } }
            fragment Author on Post { author { posts(first: 3) { edges { cursor } } } }""",
            None,
            1 + 10 + 10 * 3,
        ),
        (
            '{ node(id: "1") { ... on User { followers(first: 6) { edges { cursor } } } } }',
            None,
            1 + 6,
        ),
    ],
)
def test_a_query_costs_the_nodes_its_connections_can_return(
    query: str, variables: dict[str, Any] | None, expected: int
) -> None:
    assert cost(query, variables) == expected


async def test_a_query_within_the_limit_runs_and_reports_its_cost(
    http: httpx.AsyncClient, settings: GatewaySettings
) -> None:
    body = (await followers_of_followers(http, 10, 3)).json()
    assert body["data"] == {"user": None}
    assert body["extensions"]["cost"] == {"requested": 41, "limit": settings.max_query_cost}


async def test_a_query_over_the_limit_is_refused_before_it_runs(
    http: httpx.AsyncClient, settings: GatewaySettings
) -> None:
    response = await followers_of_followers(http, 100, 100)
    assert response.status_code == 200  # application/json: GraphQL errors are 200s
    body = response.json()
    assert "data" not in body
    (error,) = body["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert f"10101, over the limit of {settings.max_query_cost}" in error["message"]
    assert body["extensions"]["cost"] == {"requested": 10101, "limit": settings.max_query_cost}
    assert "backendCalls" not in body["extensions"]  # nothing ran


async def test_the_same_document_is_priced_by_each_requests_variables(
    http: httpx.AsyncClient,
) -> None:
    """One document, parsed once: its cost still follows the page sizes asked for."""
    for outer, inner, refused in ((100, 100, True), (10, 10, False), (100, 100, True)):
        response = await followers_of_followers(
            http, outer, inner, headers={"accept": "application/graphql-response+json"}
        )
        assert response.status_code == (400 if refused else 200)
        assert response.json()["extensions"]["cost"]["requested"] == 1 + outer + outer * inner
