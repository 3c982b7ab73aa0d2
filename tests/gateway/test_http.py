"""GraphQL over HTTP on the gateway's own path (gateway.http): documents parsed and
validated once, requests that are not GraphQL refused with a contract code."""

from __future__ import annotations

import httpx
import pytest

from gateway.config import GatewaySettings
from gateway.http import Documents
from gateway.schema import build_schema, limit_rules

SETTINGS = GatewaySettings()
SCHEMA = build_schema(SETTINGS)


def documents() -> Documents:
    return Documents(SCHEMA._schema, limit_rules(SETTINGS), SETTINGS.max_tokens)


def test_a_known_query_is_parsed_and_validated_once() -> None:
    cache = documents()
    first = cache.prepare("{ viewer { id username } }")
    assert first.document is not None
    assert not first.errors
    assert cache.prepare("{ viewer { id username } }") is first


def test_an_invalid_query_is_remembered_with_its_errors() -> None:
    cache = documents()
    prepared = cache.prepare("{ viewer { nope } }")
    assert prepared.document is None
    assert [error.message for error in prepared.errors] == [
        "Cannot query field 'nope' on type 'User'."
    ]
    assert cache.prepare("{ viewer { nope } }") is prepared


def test_an_unknown_fragment_is_a_validation_error_not_a_crash_of_the_limits() -> None:
    prepared = documents().prepare("{ viewer { ...Nope } }")
    assert [error.message for error in prepared.errors] == ["Unknown fragment 'Nope'."]


def test_the_least_recently_used_documents_are_dropped() -> None:
    cache = Documents(SCHEMA._schema, limit_rules(SETTINGS), SETTINGS.max_tokens, capacity=2)
    kept = cache.prepare("{ viewer { id } }")
    cache.prepare("{ viewer { username } }")
    assert cache.prepare("{ viewer { id } }") is kept  # used again: now the most recent
    cache.prepare("{ viewer { bio } }")
    assert cache.prepare("{ viewer { id } }") is kept
    assert cache.prepare("{ viewer { username } }").document is not None


@pytest.mark.parametrize(
    "body",
    [b"null", b"123", b'"a string"', b"[]", b'{"query": 1}', b'{"variables": {}}', b"{not json"],
)
async def test_a_body_that_is_not_a_graphql_request_is_a_400(
    http: httpx.AsyncClient, body: bytes
) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_query_can_be_sent_with_get(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": "{ __typename }"})
    assert response.status_code == 200
    assert response.json()["data"] == {"__typename": "Query"}


async def test_a_mutation_cannot_be_sent_with_get(http: httpx.AsyncClient) -> None:
    query = 'mutation { logIn(username: "a", password: "b") { token } }'
    response = await http.get("/graphql", params={"query": query})
    assert response.status_code == 405
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_graphql_response_json_gets_a_400_without_data_for_an_invalid_query(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql",
        json={"query": "{ nope }"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/graphql-response+json")
    body = response.json()
    assert "data" not in body
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
