"""A request body a client got wrong, or built to hurt, is the client's error: a 4xx
with a GraphQL error whose code is BAD_USER_INPUT, never a 500 and never a Python
exception's words. JSON bodies (gateway.http) and multipart uploads (gateway.uploads)
alike."""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from tests.harness import error_codes, sign_up

UPLOAD = 'mutation($file: Upload!) { uploadPost(caption: "x", file: $file) { id } }'
DEEP = 50_000
HUGE_INT = "9" * 5001
# Words of a Python exception or its traceback, which a client must never read.
LEAKS = ("Traceback", "Error(", "KeyError", "TypeError", "ValueError", "AttributeError")


def assert_refused(response: httpx.Response, status: int = 400) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["errors"], body
    for error in body["errors"]:
        assert error["extensions"]["code"] == "BAD_USER_INPUT", body
        message = error["message"]
        assert not any(leak in message for leak in LEAKS), message
        assert not re.fullmatch(r"'.*'", message), message  # a KeyError's words


JSON_BODIES = {
    "null": b"null",
    "a number": b"123",
    "a string": b'"s"',
    "a list": b'[{"query": "{ __typename }"}]',
    "invalid UTF-8 after valid JSON": b'{"query": "{ __typename }"}\xff\xfe',
    "invalid UTF-8 inside a string": b'{"query": "{ __typename \xff }"}',
    "nested 50k deep": b"[" * DEEP + b"]" * DEEP,
    "variables nested 50k deep": (
        b'{"query": "query($v: String) { __typename }", "variables": {"v": '
        + b"[" * DEEP
        + b"]" * DEEP
        + b"}}"
    ),
    "a 5,001-digit integer in variables": (
        b'{"query": "query($n: Int) { __typename }", "variables": {"n": '
        + HUGE_INT.encode()
        + b"}}"
    ),
    "truncated": b'{"query": "{ __typename }"',
    "empty": b"",
    "query a number": b'{"query": 1}',
    "variables a list": b'{"query": "{ __typename }", "variables": [1]}',
    "operationName a number": b'{"query": "{ __typename }", "operationName": 1}',
    "extensions a string": b'{"query": "{ __typename }", "extensions": "x"}',
}


@pytest.mark.parametrize("body", JSON_BODIES.values(), ids=JSON_BODIES.keys())
async def test_a_hostile_json_body_is_bad_user_input(http: httpx.AsyncClient, body: bytes) -> None:
    response = await http.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert_refused(response)


QUERY_STRINGS = {
    # As deep as a URL's length allows.
    "variables nested 5k deep": {"query": "{ __typename }", "variables": "[" * 5000 + "]" * 5000},
    "a 5,001-digit integer in variables": {
        "query": "query($n: Int) { __typename }",
        "variables": '{"n": ' + HUGE_INT + "}",
    },
    "variables not JSON": {"query": "{ __typename }", "variables": "{nope"},
    "variables a number": {"query": "{ __typename }", "variables": "5"},
    "no query": {"variables": "{}"},
}


@pytest.mark.parametrize("params", QUERY_STRINGS.values(), ids=QUERY_STRINGS.keys())
async def test_a_hostile_get_is_bad_user_input(
    http: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await http.get("/graphql", params=params, headers={"accept": "application/json"})
    assert_refused(response)


def operations(variables: Any = None, query: str = UPLOAD) -> str:
    return json.dumps(
        {"query": query, "variables": {"file": None} if variables is None else variables}
    )


PHOTO = {"0": ("photo.jpg", b"\xff\xd8\xff not really a photo", "image/jpeg")}

# (form fields, files): each a malformed GraphQL multipart request.
MULTIPART: dict[str, tuple[dict[str, str], dict[str, Any]]] = {
    "map a list": ({"operations": operations(), "map": '[["variables.file"]]'}, PHOTO),
    "map a number": ({"operations": operations(), "map": "5"}, PHOTO),
    "map not JSON": ({"operations": operations(), "map": "{nope"}, PHOTO),
    "map paths a string": ({"operations": operations(), "map": '{"0": "variables.file"}'}, PHOTO),
    "map paths a number": ({"operations": operations(), "map": '{"0": 7}'}, PHOTO),
    "map path a number": ({"operations": operations(), "map": '{"0": [7]}'}, PHOTO),
    "map path into nothing": (
        {"operations": operations(), "map": '{"0": ["variables.nothing.here"]}'},
        PHOTO,
    ),
    "map path into a number": (
        {"operations": operations({"file": None, "n": 5}), "map": '{"0": ["variables.n.x"]}'},
        PHOTO,
    ),
    "map path into a string": (
        {"operations": operations({"file": "s"}), "map": '{"0": ["variables.file.0"]}'},
        PHOTO,
    ),
    "map path with a word for a list index": (
        {"operations": operations({"files": [None]}), "map": '{"0": ["variables.files.x"]}'},
        PHOTO,
    ),
    "map path past the end of a list": (
        {"operations": operations({"files": [None]}), "map": '{"0": ["variables.files.3"]}'},
        PHOTO,
    ),
    "map path empty": ({"operations": operations(), "map": '{"0": [""]}'}, PHOTO),
    "map names a missing file": (
        {"operations": operations(), "map": '{"1": ["variables.file"]}'},
        PHOTO,
    ),
    "map names a text field": (
        {"operations": operations(), "map": '{"operations": ["variables.file"]}'},
        PHOTO,
    ),
    "operations a number": ({"operations": "5", "map": '{"0": ["variables.file"]}'}, PHOTO),
    "operations null": ({"operations": "null", "map": "{}"}, {}),
    "operations a list": (
        {"operations": f"[{operations()}]", "map": '{"0": ["0.variables.file"]}'},
        PHOTO,
    ),
    "operations not JSON": ({"operations": "{nope", "map": '{"0": ["variables.file"]}'}, PHOTO),
    "operations nested 50k deep": (
        {"operations": "[" * DEEP + "]" * DEEP, "map": "{}"},
        {},
    ),
    "a 5,001-digit integer in operations": (
        {
            "operations": '{"query": "query($n: Int) { __typename }", "variables": {"n": '
            + HUGE_INT
            + "}}",
            "map": "{}",
        },
        {},
    ),
    "operations missing": ({"map": '{"0": ["variables.file"]}'}, PHOTO),
    "operations without a query": (
        {
            "operations": json.dumps({"variables": {"file": None}}),
            "map": '{"0": ["variables.file"]}',
        },
        PHOTO,
    ),
    "operations with a query that is a number": (
        {"operations": '{"query": 5}', "map": "{}"},
        {},
    ),
    "operations with an operationName that is a number": (
        {"operations": '{"query": "{ __typename }", "operationName": 5}', "map": "{}"},
        {},
    ),
    "operations a file": (
        {"map": '{"0": ["variables.file"]}'},
        {**PHOTO, "operations": ("operations.json", operations().encode(), "application/json")},
    ),
    "map a file": (
        {"operations": operations()},
        {**PHOTO, "map": ("map.json", b'{"0": ["variables.file"]}', "application/json")},
    ),
}


@pytest.mark.parametrize(("fields", "files"), MULTIPART.values(), ids=MULTIPART.keys())
async def test_a_malformed_multipart_request_is_bad_user_input(
    http: httpx.AsyncClient, fields: dict[str, str], files: dict[str, Any]
) -> None:
    response = await http.post("/graphql", data=fields, files=files or {"unused": b""})
    assert_refused(response)


RAW_MULTIPART = {
    "no boundary": ("multipart/form-data", b"--x\r\n\r\n"),
    "not multipart at all": ("multipart/form-data; boundary=x", b"\x00\x01 garbage"),
    "a part without a name": (
        "multipart/form-data; boundary=x",
        b"--x\r\nContent-Disposition: form-data\r\n\r\nhello\r\n--x--\r\n",
    ),
    "cut off mid part": (
        "multipart/form-data; boundary=x",
        b'--x\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{"query"',
    ),
}


@pytest.mark.parametrize(("content_type", "body"), RAW_MULTIPART.values(), ids=RAW_MULTIPART.keys())
async def test_a_broken_multipart_body_is_bad_user_input(
    http: httpx.AsyncClient, content_type: str, body: bytes
) -> None:
    response = await http.post("/graphql", content=body, headers={"content-type": content_type})
    assert_refused(response)


async def test_multipart_that_is_not_form_data_is_an_unsupported_media_type(
    http: httpx.AsyncClient,
) -> None:
    response = await http.post(
        "/graphql",
        content=b"--x\r\n\r\n--x--\r\n",
        headers={"content-type": "multipart/mixed; boundary=x"},
    )
    assert_refused(response, 415)


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        ('mutation { uploadPost(caption: "x", file: "abc") { id } }', {}),
        ('mutation($f: Upload!) { uploadPost(caption: "x", file: $f) { id } }', {"f": "abc"}),
        ('mutation($f: Upload!) { uploadPost(caption: "x", file: $f) { id } }', {"f": {"a": 1}}),
    ],
    ids=["written in the query", "a string variable", "an object variable"],
)
async def test_an_upload_that_is_no_file_is_bad_user_input(
    http: httpx.AsyncClient, query: str, variables: dict[str, Any]
) -> None:
    """Found by the fuzzer (test_fuzz.py): a string for a file reached the resolver,
    which failed reading it mid-stream, and the request answered 500."""
    person = await sign_up(http, "nofile")
    response = await http.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"authorization": f"Bearer {person.client.token}"},
    )
    assert response.status_code == 200, response.text
    assert error_codes(response.json()) == ["BAD_USER_INPUT"]
