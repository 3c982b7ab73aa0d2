"""Automatic persisted queries as Apollo clients speak them, on the real test stack:
a hash the gateway has never seen, registering an operation with its text, running
it by hash alone (also with GET, cacheable when nobody is signed in), a hash that
lies about its text, and the production switch that runs registered operations only."""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

import httpx

from gateway.config import GatewaySettings
from gateway.http import Documents
from gateway.persisted import PersistedQueries
from gateway.schema import build_schema, limit_rules
from pictor.redis_client import open_redis
from tests.harness import (
    IsolatedStack,
    Person,
    one_off_gateway,
    sign_up,
)

SETTINGS = GatewaySettings()
SCHEMA = build_schema(SETTINGS)
_operations = itertools.count()


def fresh_operation() -> str:
    """A query text no other test has registered (the Redis database lives all session)."""
    return f"query Persisted{next(_operations)} {{ __typename viewer {{ username }} }}"


def sha256(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def persisted(query: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(query)}}


async def by_hash(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await http.post("/graphql", json={"extensions": persisted(query)}, headers=headers)


async def registering(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query, "extensions": persisted(query)}, headers=headers
    )


async def get_by_hash(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    params = {"extensions": json.dumps(persisted(query))}
    return await http.get("/graphql", params=params, headers=headers)


def only_error(response: httpx.Response) -> dict[str, Any]:
    (error,) = response.json()["errors"]
    assert isinstance(error, dict)
    return error


async def test_a_hash_the_gateway_has_never_seen_asks_the_client_for_its_text(
    http: httpx.AsyncClient,
) -> None:
    response = await by_hash(http, fresh_operation())
    # Exactly what Apollo clients look for before they resend with the text.
    assert response.status_code == 200
    assert only_error(response) == {
        "message": "PersistedQueryNotFound",
        "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
    }
    assert "data" not in response.json()


async def test_an_operation_sent_with_its_hash_is_registered_and_then_runs_by_hash_alone(
    http: httpx.AsyncClient, settings: GatewaySettings
) -> None:
    query = fresh_operation()
    registered = await registering(http, query)
    assert registered.json()["data"] == {"__typename": "Query", "viewer": None}

    again = await by_hash(http, query)
    assert again.status_code == 200
    assert again.json()["data"] == {"__typename": "Query", "viewer": None}

    # Shared by replicas: in Redis, under a Cluster-ready key, and expiring.
    client = open_redis(settings)  # as the gateway does: a Cluster on the cluster topology
    try:
        key = f"apq:{{{sha256(query)}}}"
        assert await client.get(key) == query.encode()
        assert 0 < await client.ttl(key) <= settings.persisted_query_ttl_seconds
    finally:
        await client.aclose()


async def test_a_hash_that_is_not_the_hash_of_its_query_is_refused_and_not_registered(
    http: httpx.AsyncClient,
) -> None:
    query, other = fresh_operation(), fresh_operation()
    response = await http.post("/graphql", json={"query": query, "extensions": persisted(other)})
    assert response.status_code == 400
    assert only_error(response) == {
        "message": "provided sha does not match query",
        "extensions": {"code": "BAD_USER_INPUT"},
    }
    for text in (query, other):
        assert only_error(await by_hash(http, text))["extensions"]["code"] == (
            "PERSISTED_QUERY_NOT_FOUND"
        )

    # Nor can a registered hash be borrowed for another text.
    await registering(http, other)
    response = await http.post("/graphql", json={"query": query, "extensions": persisted(other)})
    assert response.status_code == 400
    assert only_error(response)["message"] == "provided sha does not match query"


async def test_a_hash_registered_by_one_replica_leads_another_to_the_same_prepared_document(
    settings: GatewaySettings,
) -> None:
    """Running by hash skips parsing and validation: the text found by hash is the
    key of the document already prepared for it."""
    query = fresh_operation()
    documents = Documents(SCHEMA._schema, limit_rules(SETTINGS), SETTINGS.max_tokens)
    prepared = documents.prepare(query)
    client = open_redis(settings)
    try:
        one = PersistedQueries(ttl_seconds=60, persisted_only=False)
        text, new = await one.query(client, sha256(query), query)
        assert new
        await one.register(client, sha256(query), text)

        other = PersistedQueries(ttl_seconds=60, persisted_only=False)
        found, new = await other.query(client, sha256(query), None)
        assert not new
        assert documents.prepare(found) is prepared
        assert (await other.query(client, sha256(query), None))[0] is found  # now in memory
    finally:
        await client.aclose()


async def test_an_invalid_operation_is_not_registered(http: httpx.AsyncClient) -> None:
    query = "query NotAField { nope }"
    response = await registering(http, query)
    assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"
    assert only_error(await by_hash(http, query))["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


async def test_a_persisted_query_protocol_the_gateway_does_not_speak_is_a_400(
    http: httpx.AsyncClient,
) -> None:
    for extensions in (
        {"persistedQuery": {"version": 2, "sha256Hash": "0" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "not a hash"}},
        {"persistedQuery": "yes"},
    ):
        response = await http.post(
            "/graphql", json={"query": "{ __typename }", "extensions": extensions}
        )
        assert response.status_code == 400
        assert only_error(response)["extensions"]["code"] == "BAD_USER_INPUT"


async def test_an_anonymous_get_by_hash_may_be_kept_by_http_caches(
    http: httpx.AsyncClient, settings: GatewaySettings
) -> None:
    query = fresh_operation()
    missing = await get_by_hash(http, query)
    assert only_error(missing)["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    # The client registers it next: nobody may keep the miss.
    assert missing.headers["cache-control"] == "private, no-cache, must-revalidate"

    await registering(http, query)
    response = await get_by_hash(http, query)
    assert response.json()["data"] == {"__typename": "Query", "viewer": None}
    assert response.headers["cache-control"] == (
        f"public, max-age={settings.public_max_age_seconds}"
    )
    # A shared cache must not hand the anonymous answer to a signed-in request.
    assert {"accept", "authorization"} <= {
        name.strip().lower() for name in response.headers["vary"].split(",")
    }


async def test_a_signed_in_viewers_get_is_never_stored_by_http_caches(
    http: httpx.AsyncClient,
) -> None:
    person: Person = await sign_up(http, "apq")
    query = fresh_operation()
    await registering(http, query)
    response = await get_by_hash(http, query, authorization=f"Bearer {person.client.token}")
    assert response.json()["data"]["viewer"] == {"username": person.username}
    assert response.headers["cache-control"] == "private, no-store"


async def test_a_get_that_fails_is_not_stored_by_http_caches(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", params={"query": '{ post(id: "nope") { id } }'})
    assert "errors" in response.json()
    assert response.headers["cache-control"] == "no-store"


async def test_a_persisted_only_gateway_runs_what_another_replica_registered_and_nothing_else(
    http: httpx.AsyncClient, test_stack: IsolatedStack
) -> None:
    settings = test_stack.settings.model_copy(update={"persisted_only": True})
    registered, unregistered = fresh_operation(), fresh_operation()
    assert (await registering(http, registered)).json()["data"]["__typename"] == "Query"

    async with one_off_gateway(test_stack, "gateway-persisted-only", settings) as only:
        # Registered on the other replica: found in Redis, and runs.
        response = await by_hash(only, registered)
        assert response.json()["data"] == {"__typename": "Query", "viewer": None}
        assert (await registering(only, registered)).json()["data"] is not None

        raw = await only.post("/graphql", json={"query": unregistered})
        assert raw.status_code == 400
        assert only_error(raw)["extensions"]["code"] == "PERSISTED_QUERY_ID_REQUIRED"

        # Even a registered operation's text is refused without its hash.
        raw = await only.post("/graphql", json={"query": registered})
        assert only_error(raw)["extensions"]["code"] == "PERSISTED_QUERY_ID_REQUIRED"

        for attempt in (by_hash(only, unregistered), registering(only, unregistered)):
            refused = await attempt
            assert refused.status_code == 404
            assert only_error(refused)["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"

    # The refused registration left nothing behind for other replicas either.
    assert only_error(await by_hash(http, unregistered))["extensions"]["code"] == (
        "PERSISTED_QUERY_NOT_FOUND"
    )
