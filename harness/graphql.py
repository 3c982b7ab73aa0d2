"""Speaking to the gateway as a client app does: GraphQL over HTTP, and uploads by the
GraphQL multipart request spec."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx


class GraphQLError(Exception):
    """A response with errors; ``codes`` are their ``extensions.code``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.errors = errors
        self.codes = [error.get("extensions", {}).get("code", "?") for error in errors]
        first = errors[0].get("message", "") if errors else ""
        super().__init__(f"{','.join(self.codes)}: {first}")


@dataclass
class GraphQLClient:
    """One viewer's client (anonymous without a token) over a shared HTTP pool."""

    http: httpx.AsyncClient
    token: str | None = None

    def signed_in(self, token: str) -> GraphQLClient:
        return replace(self, token=token)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def execute(
        self, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The whole response body: ``data`` and ``errors`` as the gateway sent them."""
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": dict(variables or {})},
            headers=self.headers,
        )
        return _body(response)

    async def data(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of the response; raises GraphQLError when it has errors."""
        return _data(await self.execute(query, variables))

    async def upload(
        self,
        query: str,
        variables: Mapping[str, Any],
        file_variable: str,
        file: tuple[str, bytes, str],
    ) -> Any:
        """The ``data`` of a mutation sent with one file (multipart request spec)."""
        operations = {"query": query, "variables": {**variables, file_variable: None}}
        response = await self.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": [f"variables.{file_variable}"]}),
            },
            files={"0": file},
            headers=self.headers,
        )
        return _data(_body(response))


def _body(response: httpx.Response) -> dict[str, Any]:
    try:
        body: dict[str, Any] = response.json()
    except ValueError:
        response.raise_for_status()
        raise
    return body


def _data(body: Mapping[str, Any]) -> Any:
    if body.get("errors"):
        raise GraphQLError(body["errors"])
    return body["data"]
