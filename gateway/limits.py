"""A cap on request bodies, so an oversized upload is refused before the gateway
spools it (PAYLOAD_TOO_LARGE), whether or not the client sent Content-Length."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import ErrorCode

# How much past the limit a refused body is still read, so the refusal reaches the client.
_DRAIN_FACTOR = 4


class _TooLarge(Exception):
    pass


class BodySizeLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self._max_bytes:
            await self._drain(receive)
            await self._refuse(send)
            return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self._max_bytes:
                    raise _TooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._app(scope, counted_receive, tracked_send)
        except _TooLarge:
            if not started:
                await self._drain(receive)
                await self._refuse(send)

    async def _drain(self, receive: Receive) -> None:
        """Reads and drops the rest of the body (memory stays flat), so the client,
        still sending, can read the refusal; a body far past the limit is cut off."""
        discarded = 0
        while discarded <= self._max_bytes * _DRAIN_FACTOR:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                return
            discarded += len(message.get("body", b""))

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(
            {
                "data": None,
                "errors": [
                    {
                        "message": f"the request is larger than {self._max_bytes} bytes",
                        "extensions": {"code": ErrorCode.PAYLOAD_TOO_LARGE.value},
                    }
                ],
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"connection", b"close")],
            }
        )
        await send({"type": "http.response.body", "body": body})
