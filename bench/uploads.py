"""Watching a photo being processed as the app does: one ``uploadStatus`` subscription
over graphql-transport-ws, open before processing starts, so the moment READY arrives
is the moment the app would learn of it."""

from __future__ import annotations

import asyncio
import json
import time

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from harness.graphql import GraphQLError

UPLOAD_STATUS = "subscription($id: ID!) { uploadStatus(postId: $id) { status message } }"
TERMINAL_STATUSES = ("READY", "FAILED")
_WS_PROTOCOL = Subprotocol("graphql-transport-ws")


class UploadWatch:
    def __init__(self, gateway_url: str, token: str | None, post_id: str) -> None:
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
