"""Events between services: Redis Streams, one stream per event type.

Producers append with a bounded length; consumers (feed_svc, the media worker) read
through consumer groups, at least once, and must be idempotent.

An event is acknowledged to its producer only once losing one Redis node cannot lose
it. On a Redis Cluster each primary has a replica, and replication is asynchronous:
a primary that dies between answering XADD and its replica copying the event takes
the event with it, and the promoted replica never had it, while the producer has
already told its caller the write is done. So there :func:`publish` sends XADD and
then ``WAIT 1`` to the primary that owns the stream, on the same connection (WAIT
counts only the writes of its own connection), and returns only once a replica
holds the event (``PooledCluster.replicated``); with one replica per primary, the
one a failover can promote. If no replica confirms in time (the primary has lost its
replica, or is dying), it fails as UNAVAILABLE: the caller retries, and an event
appended twice is harmless because every consumer is idempotent.

Chosen over a transactional outbox in Cassandra that a sweeper re-publishes: WAIT
closes the hole where it opens, for the cost of one replica round trip, with no
second write per event, no sweeper and no delay before consumers see the event; an
outbox would add all three and a second failure path to every producer. The price:
while a primary has no replica (from its replica's death until one is back), events
on its streams are refused rather than acknowledged unsafely.

A single server has no replica to wait for: there publishing is the plain XADD.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from redis.typing import EncodableT, FieldT

from pictor.redis_client import PooledCluster, RedisClient, text

FOLLOW_CHANGED = "events:follow.changed"
FOLLOWS_IMPORTED = "events:follows.imported"
MEDIA_UPLOADED = "events:media.uploaded"
# media.uploaded's ``kind`` field (an event without one is a post's). A post and an
# avatar are numbered by different services, so their ids may coincide.
POST_UPLOAD, AVATAR_UPLOAD = "post", "avatar"
POST_PUBLISHED = "events:post.published"
# {post_id, author_id, published (1/0)}: published is 0 for a post that never became
# READY (so it never reached a feed); an event without it counts as published.
POST_DELETED = "events:post.deleted"
# {post_id, post_author_id, user_id, liked (1/0), at_ms}: the like's state after a change.
LIKE_CHANGED = "events:like.changed"
# {comment_id, post_id, post_author_id, author_id, added (1/0), at_ms}.
COMMENT_CHANGED = "events:comment.changed"

# Approximate cap per stream; consumers keep up far faster than this fills.
STREAM_MAX_LEN = 1_000_000


def upload_status_channel(kind: str, media_id: int) -> str:
    """Sharded pub/sub channel of one upload's processing (a post's photo or an avatar,
    by ``kind``; SPUBLISH, SSUBSCRIBE: on a cluster it lives on the id's slot, not
    broadcast to every node): status changes and progress, as JSON.

    Fire and forget: a watcher subscribes first, then reads the current status, so
    it never misses the end.
    """
    return f"upload-status:{kind}:{{{media_id}}}"


@dataclass(frozen=True)
class UploadStatusMessage:
    """One message on a post's upload-status channel."""

    status: str  # PENDING, PROCESSING, READY or FAILED
    progress: float | None = None  # 0..1 when known
    message: str = ""


async def announce_upload_status(
    client: RedisClient, kind: str, media_id: int, update: UploadStatusMessage
) -> None:
    fields: dict[str, str | float] = {"status": update.status, "message": update.message}
    if update.progress is not None:
        fields["progress"] = update.progress
    await client.spublish(upload_status_channel(kind, media_id), json.dumps(fields))


def read_upload_status(data: bytes | str) -> UploadStatusMessage:
    fields = json.loads(data)
    progress = fields.get("progress")
    return UploadStatusMessage(
        status=fields["status"],
        progress=float(progress) if progress is not None else None,
        message=fields.get("message") or "",
    )


async def publish(client: RedisClient, stream: str, fields: Mapping[str, str | int]) -> str:
    """Appends one event and returns its stream id, once it is safe (see above)."""
    if not isinstance(client, PooledCluster):
        entry: dict[FieldT, EncodableT] = {key: value for key, value in fields.items()}
        event_id = await client.xadd(stream, entry, maxlen=STREAM_MAX_LEN, approximate=True)
        return text(event_id)
    pairs = [part for field in fields.items() for part in field]
    (event_id,) = await client.replicated(
        stream, ("XADD", stream, "MAXLEN", "~", STREAM_MAX_LEN, "*", *pairs)
    )
    return text(event_id)
