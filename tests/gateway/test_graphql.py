"""The GraphQL edge as a client app sees it: the contract, limits and error codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import jwt
from graphql import build_client_schema, build_schema, get_introspection_query
from graphql.utilities import find_breaking_changes

from gateway.auth import issue_token
from gateway.config import GatewaySettings
from tests.harness import GraphQLClient, contract_sdl, error_codes


async def test_the_served_schema_keeps_the_contract(graphql: GraphQLClient) -> None:
    result = await graphql.execute(get_introspection_query())
    served = build_client_schema(result["data"])
    contract = build_schema(contract_sdl())
    assert find_breaking_changes(contract, served) == []


async def test_an_unknown_field_is_a_validation_error(graphql: GraphQLClient) -> None:
    result = await graphql.execute("{ viewer { username favouriteColour } }")
    assert result.get("data") is None
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "favouriteColour" in result["errors"][0]["message"]


async def test_a_query_deeper_than_the_limit_is_rejected(graphql: GraphQLClient) -> None:
    nested = "id"
    for _ in range(6):
        nested = f"followers {{ edges {{ node {{ {nested} }} }} }}"
    result = await graphql.execute(f'{{ user(username: "deep") {{ {nested} }} }}')
    assert result.get("data") is None
    assert "BAD_USER_INPUT" in error_codes(result)
    assert "depth" in result["errors"][0]["message"]


async def test_too_many_aliases_are_rejected(graphql: GraphQLClient) -> None:
    aliases = " ".join(f'u{n}: user(username: "a{n}") {{ id }}' for n in range(40))
    result = await graphql.execute(f"{{ {aliases} }}")
    assert result.get("data") is None
    assert "BAD_USER_INPUT" in error_codes(result)


async def test_aliases_hidden_in_fragments_are_counted(graphql: GraphQLClient) -> None:
    aliases = " ".join(f'u{n}: user(username: "a{n}") {{ id }}' for n in range(40))
    result = await graphql.execute(f"{{ ...Many }} fragment Many on Query {{ {aliases} }}")
    assert result.get("data") is None
    assert "BAD_USER_INPUT" in error_codes(result)


async def test_a_service_error_arrives_with_its_mapped_code(graphql: GraphQLClient) -> None:
    """graph_svc refuses a malformed username with INVALID_ARGUMENT."""
    result = await graphql.execute('{ user(username: "no spaces allowed!") { id } }')
    assert result["data"] == {"user": None}
    assert error_codes(result) == ["BAD_USER_INPUT"]
    assert "username" in result["errors"][0]["message"]
    assert result["errors"][0]["path"] == ["user"]


async def test_an_unknown_username_is_null_not_an_error(graphql: GraphQLClient) -> None:
    result = await graphql.execute('{ user(username: "nobody.here") { id } }')
    assert result["data"] == {"user": None}
    assert "errors" not in result


async def test_a_malformed_id_is_bad_user_input(graphql: GraphQLClient) -> None:
    for bad in ("not-an-id", base64.urlsafe_b64encode(b"User:12").decode()):
        result = await graphql.execute("query($id: ID!) { post(id: $id) { id } }", {"id": bad})
        assert error_codes(result) == ["BAD_USER_INPUT"], bad


async def test_the_home_feed_needs_a_signed_in_viewer(graphql: GraphQLClient) -> None:
    result = await graphql.execute("{ homeFeed { edges { cursor } } }")
    assert error_codes(result) == ["UNAUTHENTICATED"]


async def test_anonymous_viewer_is_null(graphql: GraphQLClient) -> None:
    result = await graphql.execute("{ viewer { id } }")
    assert result["data"] == {"viewer": None}
    assert "errors" not in result


async def test_forged_and_expired_tokens_are_unauthenticated(
    graphql: GraphQLClient, settings: GatewaySettings
) -> None:
    forged = jwt.encode(
        {"sub": "1", "iss": "pictor", "exp": datetime.now(UTC) + timedelta(hours=1)},
        "an-attacker-guess-of-thirty-two-bytes-or-more",
        algorithm="HS256",
    )
    expired = jwt.encode(
        {"sub": "1", "iss": "pictor", "exp": datetime.now(UTC) - timedelta(seconds=5)},
        settings.jwt_secret.get_secret_value(),
        algorithm="HS256",
    )
    unsigned = jwt.encode({"sub": "1", "iss": "pictor"}, key=None, algorithm="none")
    for token in (forged, expired, unsigned, "garbage"):
        graphql.token = token
        result = await graphql.execute("{ viewer { id } }")
        assert error_codes(result) == ["UNAUTHENTICATED"], token


def test_issued_tokens_name_the_user_and_expire(settings: GatewaySettings) -> None:
    claims = jwt.decode(
        issue_token(77, settings), settings.jwt_secret.get_secret_value(), algorithms=["HS256"]
    )
    assert claims["sub"] == "77"
    assert claims["exp"] - claims["iat"] == settings.jwt_ttl_seconds
