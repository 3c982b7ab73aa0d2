"""Multipart uploads (the GraphQL multipart request spec: an ``operations`` field, a
``map`` field, then the files), checked before Strawberry's view runs them.

The view trusts the envelope: a ``map`` that is a list, a path into nothing, an
``operations`` that is a number each raised out of it as a 500. Here the form is
read once (Starlette keeps it on the request, where the view finds it), and every
part the view will walk is checked first, so what the view gets is well formed and
anything else is the client's error: :class:`~gateway.http.BadRequest`. An
``Upload`` argument takes nothing but such a file part (``UPLOAD``).
"""

from __future__ import annotations

from typing import Any, NoReturn

import strawberry
from graphql import GraphQLError, ValueNode
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request

from gateway.http import BadRequest, checked_request, parsed_json

FORM_DATA = "multipart/form-data"
# A list index in a map path: more digits than this is no index of any real request.
_MAX_INDEX_DIGITS = 6


async def check_upload(request: Request) -> None:
    """Raises :class:`BadRequest` unless the request is a well-formed multipart
    GraphQL request whose every ``map`` path leads to a value in ``operations``."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != FORM_DATA:
        raise BadRequest(f"unsupported content type {media_type!r}; send {FORM_DATA}", 415)
    try:
        form = await request.form()
    except HTTPException as error:  # Starlette's word for a MultiPartException
        raise BadRequest(f"the multipart body cannot be read: {error.detail}") from None
    except MultiPartException as error:
        raise BadRequest(f"the multipart body cannot be read: {error.message}") from None
    operations = parsed_json(_text(form.get("operations"), "operations"), "operations")
    # Its query, variables and names as a JSON request's (no batches).
    checked_request(operations)
    files_map = parsed_json(_text(form.get("map"), "map"), "map")
    if not isinstance(files_map, dict):
        raise BadRequest("map must be a JSON object of file field names to lists of paths")
    for name, paths in files_map.items():
        if not isinstance(form.get(name), UploadFile):
            raise BadRequest(f"map names the file {name!r}, which the request does not carry")
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            raise BadRequest(f"map's entry for {name!r} must be a list of paths")
        for path in paths:
            _check_path(operations, path)


def _text(value: Any, field: str) -> str:
    if value is None:
        raise BadRequest(f"a multipart GraphQL request needs a {field} field")
    if not isinstance(value, str):
        raise BadRequest(f"{field} must be a text field, not a file")
    return value


def _check_path(operations: dict[str, Any], path: str) -> None:
    """The path (``variables.files.0``) leads through objects and lists to a value."""
    target: Any = operations
    for key in path.split("."):
        if isinstance(target, dict) and key in target:
            target = target[key]
        elif isinstance(target, list) and _index(key, len(target)) is not None:
            target = target[int(key)]
        else:
            raise BadRequest(f"map path {path!r} leads to nothing in operations")


def _index(key: str, length: int) -> int | None:
    if not (key.isascii() and key.isdigit() and len(key) <= _MAX_INDEX_DIGITS):
        return None
    index = int(key)
    return index if index < length else None


def _file(value: object) -> UploadFile:
    """A file part of a multipart request, which is all an ``Upload`` may be."""
    if not isinstance(value, UploadFile):
        raise GraphQLError("an Upload is a file part of a multipart request (operations, map)")
    return value


def _no_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> NoReturn:
    raise GraphQLError("an Upload cannot be written in the query: send it as a variable")


# Strawberry's own Upload takes any value; anything but a file reached resolvers.
UPLOAD = strawberry.scalar(
    name="Upload",
    description="Represents a file upload.",
    serialize=lambda value: value,
    parse_value=_file,
    parse_literal=_no_literal,
)
