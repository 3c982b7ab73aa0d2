"""The gateway under fuzzing: queries and mutations generated from the schema it
serves (hypothesis-graphql, valid and with one violation each), operations with
variables of any JSON, random bodies and the hand-made hostile ones, sent over HTTP
to the test stack, anonymous or signed in. Whatever comes in, the answer is no 5xx,
no INTERNAL, a contract code on every error, no exception text, within 10 s."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphql
import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis_graphql import Mode, mutations, queries

from gateway.config import GatewaySettings
from gateway.schema import build_schema
from tests.gateway.test_hostile_bodies import JSON_BODIES, MULTIPART
from tests.harness import IsolatedStack, Person, sign_up

CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contract" / "schema.graphql"
PERSISTED_QUERY_CODES = {
    "PERSISTED_QUERY_NOT_FOUND",
    "PERSISTED_QUERY_ID_REQUIRED",
    "PERSISTED_QUERY_NOT_IN_LIST",
}
SLOWEST_ANSWER_SECONDS = 10.0
# Each example is one HTTP request of a few milliseconds: many fit in a few seconds.
EXAMPLES = 400
# A Python exception's name or its traceback, which no client may read.
EXCEPTION_TEXT = re.compile(r"Traceback|File \"|\b[A-Z]\w*(Error|Exception)\b|^'[^']*'$")


def contract_codes() -> set[str]:
    """The codes the contract's header lists after "extensions.code, one of"."""
    header = "\n".join(
        line.lstrip("# ") for line in CONTRACT.read_text().splitlines() if line.startswith("#")
    )
    listed = header.split("extensions.code, one of", 1)[1].split(".", 1)[0]
    return set(re.findall(r"[A-Z][A-Z_]+", listed))


CODES = contract_codes() | PERSISTED_QUERY_CODES


def _scalar_values() -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    text = st.text(max_size=8).map(lambda value: graphql.StringValueNode(value=value))
    return {
        # An upload cannot be written inline: a string or null stands in for one.
        "Upload": st.one_of(st.just(graphql.NullValueNode()), text),
        "DateTime": text,
    }


SCHEMA = build_schema(GatewaySettings())._schema
SCALARS = _scalar_values()
GENERATED = st.one_of(
    queries(SCHEMA, custom_scalars=SCALARS),
    mutations(SCHEMA, custom_scalars=SCALARS),
    queries(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
    mutations(SCHEMA, custom_scalars=SCALARS, mode=Mode.NEGATIVE),
)

# Operations whose arguments come from variables, so any JSON can be sent as them.
WITH_VARIABLES = [
    "query($id: ID!) { node(id: $id) { id ... on Post { caption author { username } } } }",
    "query($id: ID!) { post(id: $id) { id media { status } } }",
    "query($u: String!, $first: Int, $after: String) "
    "{ user(username: $u) { followers(first: $first, after: $after) { edges { cursor } } } }",
    "query($u: String!, $first: Int, $after: String) "
    "{ user(username: $u) { posts(first: $first, after: $after) { edges { cursor } } } }",
    "query($first: Int, $after: String) "
    "{ homeFeed(first: $first, after: $after) { edges { cursor node { id } } } }",
    "mutation($id: ID!) { follow(userId: $id) { id } }",
    "mutation($id: ID!) { deletePost(id: $id) }",
    "mutation($id: ID!) { confirmUpload(postId: $id) { id } }",
    "mutation($c: String!, $t: String!) { createPost(caption: $c, contentType: $t) { expiresAt } }",
    "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }",
]
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(["9" * 400, "UG9zdDox", "VXNlcjox", "1:1", "", "\U0010ffff"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
VARIABLES_BY_NAME = st.dictionaries(
    st.sampled_from(["id", "u", "p", "c", "t", "first", "after"]), JSON_VALUES, max_size=7
)


@dataclass(frozen=True)
class Sent:
    """One request: a JSON POST, a GET or a multipart POST."""

    method: str
    json_body: bytes | None = None
    params: dict[str, str] | None = None
    form: tuple[dict[str, str], dict[str, Any]] | None = None


def _post(body: dict[str, Any]) -> Sent:
    return Sent("POST", json_body=json.dumps(body).encode())


def _get(body: dict[str, Any]) -> Sent:
    params = {
        key: value if isinstance(value, str) else json.dumps(value) for key, value in body.items()
    }
    return Sent("GET", params=params)


operations = st.one_of(
    GENERATED.map(lambda query: {"query": query}),
    st.builds(
        lambda query, variables: {"query": query, "variables": variables},
        st.sampled_from(WITH_VARIABLES),
        VARIABLES_BY_NAME,
    ),
)
requests = st.one_of(
    operations.map(_post),
    operations.map(_get),
    st.sampled_from(list(JSON_BODIES.values())).map(lambda body: Sent("POST", json_body=body)),
    st.sampled_from(list(MULTIPART.values())).map(lambda form: Sent("POST", form=form)),
    st.binary(max_size=64).map(lambda body: Sent("POST", json_body=body)),
    JSON_VALUES.map(lambda value: Sent("POST", json_body=json.dumps(value).encode())),
    st.fixed_dictionaries(
        {},
        optional={
            "query": st.one_of(st.text(max_size=30), GENERATED),
            "variables": JSON_VALUES,
            "operationName": JSON_VALUES,
            "extensions": JSON_VALUES,
        },
    ).map(_post),
)


@pytest.fixture(scope="module")
async def fuzzer(test_stack: IsolatedStack) -> Person:
    async with httpx.AsyncClient(base_url=test_stack.gateway_url, timeout=10) as http:
        return await sign_up(http, "fuzzer")


async def send(http: httpx.AsyncClient, sent: Sent, headers: dict[str, str]) -> httpx.Response:
    if sent.form is not None:
        fields, files = sent.form
        return await http.post(
            "/graphql", data=fields, files=files or {"unused": b""}, headers=headers
        )
    if sent.method == "GET":
        return await http.get("/graphql", params=sent.params, headers=headers)
    headers = {**headers, "content-type": "application/json"}
    return await http.post("/graphql", content=sent.json_body, headers=headers)


@settings(max_examples=EXAMPLES)
@given(
    sent=requests,
    signed_in=st.booleans(),
    accept=st.sampled_from(["application/json", "application/graphql-response+json"]),
)
async def test_no_request_gets_a_500_an_internal_error_or_exception_text(
    test_stack: IsolatedStack, fuzzer: Person, sent: Sent, signed_in: bool, accept: str
) -> None:
    headers = {"accept": accept}
    if signed_in:
        headers["authorization"] = f"Bearer {fuzzer.client.token}"
    async with httpx.AsyncClient(
        base_url=test_stack.gateway_url, timeout=SLOWEST_ANSWER_SECONDS + 5
    ) as http:
        started = time.monotonic()
        response = await send(http, sent, headers)
        elapsed = time.monotonic() - started
    assert response.status_code < 500, response.text
    assert elapsed < SLOWEST_ANSWER_SECONDS, elapsed
    body = response.json()
    for error in body.get("errors", []):
        code = error.get("extensions", {}).get("code")
        assert code in CODES, error
        assert code != "INTERNAL", error
        assert not EXCEPTION_TEXT.search(error["message"]), error
