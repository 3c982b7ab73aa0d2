"""Events between services: Redis Streams, one stream per event type.

Producers append with a bounded length; consumers (feed_svc, the media worker) read
through consumer groups, at least once, and must be idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

import redis.asyncio as redis

FOLLOW_CHANGED = "events:follow.changed"
FOLLOWS_IMPORTED = "events:follows.imported"
MEDIA_UPLOADED = "events:media.uploaded"
POST_PUBLISHED = "events:post.published"
POST_DELETED = "events:post.deleted"

# Approximate cap per stream; consumers keep up far faster than this fills.
STREAM_MAX_LEN = 1_000_000


def upload_status_channel(post_id: int) -> str:
    """Pub/sub channel of one post's processing: status changes and progress, as JSON.

    Fire and forget: a watcher subscribes first, then reads the current status, so
    it never misses the end.
    """
    return f"upload-status:{{{post_id}}}"


@dataclass(frozen=True)
class UploadStatusMessage:
    """One message on a post's upload-status channel."""

    status: str  # PENDING, PROCESSING, READY or FAILED
    progress: float | None = None  # 0..1 when known
    message: str = ""


async def announce_upload_status(
    client: redis.Redis, post_id: int, update: UploadStatusMessage
) -> None:
    fields: dict[str, str | float] = {"status": update.status, "message": update.message}
    if update.progress is not None:
        fields["progress"] = update.progress
    await client.publish(upload_status_channel(post_id), json.dumps(fields))


def read_upload_status(data: bytes | str) -> UploadStatusMessage:
    fields = json.loads(data)
    progress = fields.get("progress")
    return UploadStatusMessage(
        status=fields["status"],
        progress=float(progress) if progress is not None else None,
        message=fields.get("message") or "",
    )


async def publish(client: redis.Redis, stream: str, fields: Mapping[str, str | int]) -> str:
    """Appends one event; returns its stream id."""
    event_id = await client.xadd(stream, dict(fields), maxlen=STREAM_MAX_LEN, approximate=True)
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)
