"""Speaking to the gateway as a client app does: GraphQL over HTTP, uploads by the
multipart request spec, subscriptions over graphql-transport-ws, and the accounts to
do it with."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

SIGN_UP = """
mutation($username: String!, $password: String!) {
  signUp(username: $username, password: $password) { token user { id } }
}
"""
LOG_IN = """
mutation($username: String!, $password: String!) {
  logIn(username: $username, password: $password) { token }
}
"""
UPLOAD_STATUS = "subscription($id: ID!) { uploadStatus(postId: $id) { status message } }"
PASSWORD = "a bench password"
RATE_LIMITED = "RATE_LIMITED"
TERMINAL_STATUSES = ("READY", "FAILED")
_WS_PROTOCOL = Subprotocol("graphql-transport-ws")


class GraphQLError(Exception):
    """A response with errors; ``codes`` are their ``extensions.code``."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        self.codes = [error.get("extensions", {}).get("code", "?") for error in errors]
        first = errors[0].get("message", "") if errors else ""
        super().__init__(f"{','.join(self.codes)}: {first}")


@dataclass(frozen=True)
class GraphQLClient:
    http: httpx.AsyncClient
    token: str | None = None

    def signed_in(self, token: str) -> GraphQLClient:
        return replace(self, token=token)

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}

    async def execute(self, query: str, variables: Mapping[str, Any] | None = None) -> Any:
        """The ``data`` of the response; raises GraphQLError when it has errors."""
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": dict(variables or {})},
            headers=self._headers(),
        )
        return _data(response)

    async def upload(
        self,
        query: str,
        variables: Mapping[str, Any],
        file_variable: str,
        file: tuple[str, bytes, str],
    ) -> Any:
        """Runs a mutation with one file, by the GraphQL multipart request spec."""
        operations = {"query": query, "variables": {**variables, file_variable: None}}
        response = await self.http.post(
            "/graphql",
            data={
                "operations": json.dumps(operations),
                "map": json.dumps({"0": [f"variables.{file_variable}"]}),
            },
            files={"0": file},
            headers=self._headers(),
        )
        return _data(response)


def _data(response: httpx.Response) -> Any:
    try:
        body = response.json()
    except ValueError:
        response.raise_for_status()
        raise
    if body.get("errors"):
        raise GraphQLError(body["errors"])
    return body["data"]


@dataclass(frozen=True)
class Account:
    id: str
    username: str
    client: GraphQLClient


def usernames(prefix: str) -> Iterator[str]:
    """Names no earlier run took: the dev stack keeps its users."""
    run = secrets.token_hex(3)
    return (f"{prefix}.{run}.{number}" for number in itertools.count())


class AuthAllowance:
    """Keeps sign-ups and log-ins under the gateway's per-address limit
    (PICTOR_AUTH_RATE_LIMIT attempts per clock minute) by waiting for the next minute
    when this run would go past it."""

    WINDOW_SECONDS = 60

    def __init__(
        self,
        per_minute: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.per_minute = per_minute
        self.waited_seconds = 0.0
        self._clock = clock
        self._window = -1
        self._used = 0

    async def take(self, attempts: int = 1) -> None:
        """Returns once ``attempts`` more fit in the current minute."""
        if attempts > self.per_minute:
            raise ValueError(f"{attempts} attempts never fit in a limit of {self.per_minute}")
        while True:
            window = int(self._clock()) // self.WINDOW_SECONDS
            if window != self._window:
                self._window, self._used = window, 0
            if self._used + attempts <= self.per_minute:
                self._used += attempts
                return
            # A little past the boundary, so the gateway's clock has turned too.
            pause = (window + 1) * self.WINDOW_SECONDS - self._clock() + 0.25
            self.waited_seconds += pause
            await asyncio.sleep(pause)

    def spent(self) -> None:
        """The gateway refused an attempt: someone else used part of this minute."""
        self._used = self.per_minute


async def sign_up(client: GraphQLClient, allowance: AuthAllowance, username: str) -> Account:
    for _ in range(3):
        await allowance.take()
        try:
            payload = (await client.execute(SIGN_UP, {"username": username, "password": PASSWORD}))[
                "signUp"
            ]
        except GraphQLError as error:
            if error.codes != [RATE_LIMITED]:
                raise
            allowance.spent()
            continue
        return Account(payload["user"]["id"], username, client.signed_in(payload["token"]))
    raise RuntimeError(f"signing up {username} was rate limited three times")


async def sign_up_many(
    client: GraphQLClient, allowance: AuthAllowance, prefix: str, count: int, concurrency: int = 2
) -> list[Account]:
    names = usernames(prefix)
    wanted = [next(names) for _ in range(count)]
    slots = asyncio.Semaphore(concurrency)

    async def one(username: str) -> Account:
        async with slots:
            return await sign_up(client, allowance, username)

    return list(await asyncio.gather(*(one(name) for name in wanted)))


async def log_in(client: GraphQLClient, username: str) -> str:
    token: str = (await client.execute(LOG_IN, {"username": username, "password": PASSWORD}))[
        "logIn"
    ]["token"]
    return token


class UploadWatch:
    """One ``uploadStatus`` subscription, open before processing starts, so the moment
    READY arrives is the moment the client app would learn of it."""

    def __init__(self, gateway_url: str, token: str, post_id: str) -> None:
        self._url = gateway_url.replace("http://", "ws://", 1) + "/graphql"
        self._token = token
        self._post_id = post_id
        self._socket: ClientConnection | None = None
        self.status: str | None = None
        self.message: str | None = None
        # perf_counter() when the final status arrived.
        self.finished_at: float | None = None

    async def open(self) -> None:
        """Subscribes and returns once the current (pending) status has arrived."""
        socket = await connect(self._url, subprotocols=[_WS_PROTOCOL])
        self._socket = socket
        init = {"type": "connection_init", "payload": {"authorization": f"Bearer {self._token}"}}
        await socket.send(json.dumps(init))
        if json.loads(await socket.recv())["type"] != "connection_ack":
            raise RuntimeError("the gateway did not acknowledge the subscription connection")
        payload = {"query": UPLOAD_STATUS, "variables": {"id": self._post_id}}
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
        await self._next_status()

    async def finished(self, within: float) -> str:
        """Waits for READY or FAILED; returns it."""
        async with asyncio.timeout(within):
            while self.status not in TERMINAL_STATUSES:
                await self._next_status()
        self.finished_at = self.finished_at or time.perf_counter()
        assert self.status is not None
        return self.status

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def _next_status(self) -> None:
        assert self._socket is not None
        message = json.loads(await self._socket.recv())
        arrived = time.perf_counter()
        if message["type"] == "next":
            if message["payload"].get("errors"):
                raise GraphQLError(message["payload"]["errors"])
            event = message["payload"]["data"]["uploadStatus"]
            self.status, self.message = event["status"], event.get("message")
            if self.status in TERMINAL_STATUSES:
                self.finished_at = arrived
        elif message["type"] == "error":
            raise GraphQLError(message["payload"])
        elif message["type"] == "complete" and self.status not in TERMINAL_STATUSES:
            raise RuntimeError(f"uploadStatus completed at {self.status}")
