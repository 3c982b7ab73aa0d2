"""Watching a photo being processed as the app does: one ``uploadStatus`` subscription,
open before processing starts, so the moment READY arrives is the moment the app would
learn of it."""

from __future__ import annotations

import asyncio
import time

from harness.graphql import GraphQLError
from harness.subscriptions import Subscription

UPLOAD_STATUS = "subscription($id: ID!) { uploadStatus(postId: $id) { status message } }"
TERMINAL_STATUSES = ("READY", "FAILED")


class UploadWatch:
    def __init__(self, gateway_url: str, token: str | None, post_id: str) -> None:
        self._subscription = Subscription(gateway_url, token, UPLOAD_STATUS, {"id": post_id})
        self.status: str | None = None
        self.message: str | None = None
        # perf_counter() when the final status arrived.
        self.finished_at: float | None = None

    async def open(self) -> None:
        """Subscribes and returns once the current (pending) status has arrived."""
        await self._subscription.open()
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
        await self._subscription.close()

    async def _next_status(self) -> None:
        kind, payload = await self._subscription.receive()
        arrived = time.perf_counter()
        if kind == "next":
            if payload.get("errors"):
                raise GraphQLError(payload["errors"])
            event = payload["data"]["uploadStatus"]
            self.status, self.message = event["status"], event.get("message")
            if self.status in TERMINAL_STATUSES:
                self.finished_at = arrived
        elif kind == "error":
            raise GraphQLError(payload)
        elif kind == "complete" and self.status not in TERMINAL_STATUSES:
            raise RuntimeError(f"uploadStatus completed at {self.status}")
