"""GraphQL subscriptions as a client app opens them: graphql-transport-ws over a
WebSocket to the gateway's ``/graphql``."""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

_PROTOCOL = Subprotocol("graphql-transport-ws")


class Subscription:
    """One subscription: ``async with`` it (or ``open()`` and ``close()``), and
    ``receive()`` its messages."""

    def __init__(
        self,
        gateway_url: str,
        token: str | None,
        query: str,
        variables: Mapping[str, Any] | None = None,
    ) -> None:
        self._url = gateway_url.replace("http://", "ws://", 1) + "/graphql"
        self._token = token
        self._payload = {"query": query, "variables": dict(variables or {})}
        self._socket: ClientConnection | None = None

    async def __aenter__(self) -> Subscription:
        await self.open()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        """Connects and subscribes; messages then wait for ``receive()``."""
        socket = await connect(self._url, subprotocols=[_PROTOCOL])
        self._socket = socket
        init = {"authorization": f"Bearer {self._token}"} if self._token else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": init}))
        if json.loads(await socket.recv())["type"] != "connection_ack":
            await socket.close()
            raise RuntimeError("the gateway did not acknowledge the subscription connection")
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": self._payload}))

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close()

    async def receive(self) -> tuple[str, Any]:
        """The next message's type (``next``, ``error`` or ``complete``) and payload."""
        assert self._socket is not None, "receive() inside `async with`"
        message = json.loads(await self._socket.recv())
        return message["type"], message.get("payload")
