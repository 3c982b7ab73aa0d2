"""Events between services: Redis Streams, one stream per event type.

Producers append with a bounded length; consumers (feed_svc, the media worker) read
through consumer groups, at least once, and must be idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping

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


async def publish(client: redis.Redis, stream: str, fields: Mapping[str, str | int]) -> str:
    """Appends one event; returns its stream id."""
    event_id = await client.xadd(stream, dict(fields), maxlen=STREAM_MAX_LEN, approximate=True)
    return event_id.decode() if isinstance(event_id, bytes) else str(event_id)
