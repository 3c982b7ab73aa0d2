"""A post's like and comment counts and whether a viewer liked it, as a feed page reads
them: from Redis, in the same BatchGetPosts call as the posts, so a warm page costs no
CQL read. CQL holds the truth (``engagement_store``); these are caches of it.

Counts. ``counts:{post}`` holds each count with a version: the id of the newest event
(``like.changed`` or ``comment.changed``, one stream each) whose write the count is
known to include. A recount (``post_svc.settling``) reads the partition only after the
events it answers were published, so it includes every write whose event id is at most
its version; the script below keeps a count only if its version is not older than the
one stored. Once events settle, the last recount, versioned with the last event, has
seen every write: the count is exact, whatever order recounts finish in, and however
often an event is delivered. A cold count (expired, never read) is read from CQL and
stored with the lowest version, so any recount replaces it.

Viewer flags. ``liked:{post}:{viewer}`` is "1" or "0": set by the like or unlike that
changes it, and set again by the ``like.changed`` consumer from the row it re-reads,
so racing likes and unlikes converge on the truth; a miss is read from CQL and filled
only if nothing set it meanwhile. Each key lives ``ttl`` seconds, so only the pairs
people look at stay in memory.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from post_svc.engagement_store import CommentStore, LikeStore

Count = Literal["likes", "comments"]
# A post's like count, comment count and viewer flag as cached (None: not there).
Cached = tuple[bytes | None, bytes | None, bytes | None]
# The version of a count read cold, older than any event id.
COLD = "0-0"

# KEYS[1] the post's counts; ARGV: which count, its value, version ms, version
# sequence, ttl. Keeps the count unless a newer one is stored.
_RECORD = """
local stored = redis.call('HGET', KEYS[1], ARGV[1] .. ':v')
if stored then
  local ms, seq = string.match(stored, '(%d+)-(%d+)')
  local new_ms, new_seq = tonumber(ARGV[3]), tonumber(ARGV[4])
  if new_ms < tonumber(ms) or (new_ms == tonumber(ms) and new_seq < tonumber(seq)) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2], ARGV[1] .. ':v', ARGV[3] .. '-' .. ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def counts_key(post_id: int) -> str:
    return f"counts:{{{post_id}}}"


def liked_key(post_id: int, user_id: int) -> str:
    return f"liked:{{{post_id}}}:{user_id}"


def stream_id(version: str) -> tuple[int, int]:
    milliseconds, _, sequence = version.partition("-")
    return int(milliseconds), int(sequence or 0)


class EngagementCache:
    def __init__(self, client: RedisClient, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    async def record(self, post_id: int, count: Count, value: int, version: str) -> bool:
        """Stores the count unless one of a newer version is there."""
        milliseconds, sequence = stream_id(version)
        stored = await self._redis.eval(
            _RECORD, 1, counts_key(post_id), count, value, milliseconds, sequence, self._ttl
        )
        return bool(stored)

    async def set_liked(
        self, post_id: int, user_id: int, liked: bool, *, fill: bool = False
    ) -> None:
        """``fill``: only if not set meanwhile (a value read from CQL for a miss)."""
        await self._redis.set(
            liked_key(post_id, user_id), b"1" if liked else b"0", ex=self._ttl, nx=fill
        )

    async def forget(self, post_id: int) -> None:
        await self._redis.delete(counts_key(post_id))

    async def read(self, post_ids: Sequence[int], viewer_id: int, counts: bool) -> list[Cached]:
        """Per post: its like count, comment count and the viewer's flag as cached
        (None where missing or not asked), in one pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for post_id in post_ids:
                if counts:
                    pipe.hmget(counts_key(post_id), ["likes", "comments"])
                if viewer_id:
                    pipe.get(liked_key(post_id, viewer_id))
            replies = iter(await pipe.execute())
        read = []
        for _ in post_ids:
            likes, comments = next(replies) if counts else (None, None)
            liked = next(replies) if viewer_id else None
            read.append((likes, comments, liked))
        return read


class Engagement:
    """Counts and viewer flags for pages of posts, and the recounts that keep them."""

    def __init__(self, cache: EngagementCache, likes: LikeStore, comments: CommentStore) -> None:
        self._cache = cache
        self._likes = likes
        self._comments = comments

    async def of_posts(
        self, post_ids: Sequence[int], viewer_id: int, counts: bool, liked: bool
    ) -> list[post_pb2.Engagement]:
        """Aligned with post_ids; viewer_id 0 (anonymous) has liked nothing."""
        viewer = viewer_id if liked else 0
        cached = await self._cache.read(post_ids, viewer, counts)
        # Misses (a cold cache) are read from CQL all at once.
        return list(
            await asyncio.gather(
                *(
                    self._one(post_id, found, counts, viewer)
                    for post_id, found in zip(post_ids, cached, strict=True)
                )
            )
        )

    async def _one(
        self, post_id: int, cached: Cached, counts: bool, viewer_id: int
    ) -> post_pb2.Engagement:
        likes, comments, flag = cached
        engagement = post_pb2.Engagement()
        if counts:
            engagement.like_count, engagement.comment_count = await asyncio.gather(
                self._count(post_id, "likes", likes), self._count(post_id, "comments", comments)
            )
        if viewer_id:
            engagement.viewer_has_liked = await self._liked(post_id, viewer_id, flag)
        return engagement

    async def recount(self, post_id: int, count: Count, version: str) -> None:
        """Counts the post's likes or comments in CQL and stores the count as of
        ``version`` (an event id: every write whose event is not newer is counted)."""
        value = await (self._likes if count == "likes" else self._comments).count(post_id)
        await self._cache.record(post_id, count, value, version)

    async def _count(self, post_id: int, count: Count, cached: bytes | None) -> int:
        if cached is not None:
            return int(cached)
        value = await (self._likes if count == "likes" else self._comments).count(post_id)
        await self._cache.record(post_id, count, value, COLD)
        return value

    async def _liked(self, post_id: int, viewer_id: int, cached: bytes | None) -> bool:
        if cached is not None:
            return cached == b"1"
        liked = await self._likes.like_id(post_id, viewer_id) is not None
        await self._cache.set_liked(post_id, viewer_id, liked, fill=True)
        return liked
