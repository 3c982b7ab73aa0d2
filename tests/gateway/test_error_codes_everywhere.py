"""Every error carries its ``extensions.code`` and the gateway's words, whichever way
the operation came in: a JSON POST, a GET, a multipart POST or a WebSocket
subscription. Syntax errors, the token, depth and alias limits and an unknown fragment
are the client's (BAD_USER_INPUT); none shows an exception's text."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from tests.harness import IsolatedStack, subscribe


def too_deep(settings: GatewaySettings) -> str:
    inner = "id"
    for _ in range(settings.max_query_depth + 2):
        inner = f"following(first: 1) {{ edges {{ node {{ {inner} }} }} }}"
    return f'{{ user(username: "ada") {{ {inner} }} }}'


def documents(settings: GatewaySettings) -> dict[str, str]:
    return {
        "a syntax error": "{ viewer { id ",
        "too many tokens": "{ " + " ".join(["__typename"] * (settings.max_tokens + 1)) + " }",
        "too deep": too_deep(settings),
        "too many aliases": "{ "
        + " ".join(f"a{n}: __typename" for n in range(settings.max_aliases + 1))
        + " }",
        "an unknown fragment": "{ viewer { ...Nope } }",
        "an unknown fragment in a subscription": "subscription { homeFeedUpdates { ...Nope } }",
        "an unknown field": "{ nope }",
    }


Send = Callable[[httpx.AsyncClient, IsolatedStack, str], Awaitable[list[dict[str, Any]]]]


async def over_json(http: httpx.AsyncClient, stack: IsolatedStack, query: str) -> Any:
    response = await http.post("/graphql", json={"query": query})
    assert response.status_code in (200, 400), response.text
    return response.json()["errors"]


async def over_get(http: httpx.AsyncClient, stack: IsolatedStack, query: str) -> Any:
    response = await http.get(
        "/graphql", params={"query": query}, headers={"accept": "application/json"}
    )
    assert response.status_code in (200, 400), response.text
    return response.json()["errors"]


async def over_multipart(http: httpx.AsyncClient, stack: IsolatedStack, query: str) -> Any:
    response = await http.post(
        "/graphql",
        data={"operations": json.dumps({"query": query, "variables": {}}), "map": "{}"},
        files={"unused": ("unused.txt", b"", "text/plain")},
    )
    assert response.status_code in (200, 400), response.text
    return response.json()["errors"]


async def over_websocket(http: httpx.AsyncClient, stack: IsolatedStack, query: str) -> Any:
    payloads = await subscribe(stack.gateway_url, None, query)
    return [error for payload in payloads for error in payload.get("errors", [])]


TRANSPORTS: dict[str, Send] = {
    "JSON": over_json,
    "GET": over_get,
    "multipart": over_multipart,
    "WebSocket": over_websocket,
}


@pytest.mark.parametrize("transport", TRANSPORTS)
@pytest.mark.parametrize(
    "kind",
    [
        "a syntax error",
        "too many tokens",
        "too deep",
        "too many aliases",
        "an unknown fragment",
        "an unknown fragment in a subscription",
        "an unknown field",
    ],
)
async def test_a_refused_document_has_a_code_and_no_exception_text(
    http: httpx.AsyncClient, test_stack: IsolatedStack, transport: str, kind: str
) -> None:
    query = documents(test_stack.settings)[kind]
    errors = await TRANSPORTS[transport](http, test_stack, query)
    assert errors, kind
    for error in errors:
        assert error.get("extensions", {}).get("code") == "BAD_USER_INPUT", error
        message = error["message"]
        assert not re.fullmatch(r"'[^']*'", message), message  # a KeyError's words
        assert "Traceback" not in message, message
