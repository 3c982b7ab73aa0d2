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

Viewer flags. ``liked:{viewer}`` is a hash of the viewer's likes, post id -> "1" or
"0", with a ``loaded`` field once it holds every like of theirs: filled from their
``likes_by_user`` partition on a miss, then kept by the likes and unlikes themselves
and by the ``like.changed`` consumer, which sets the field from the row it re-reads.
Those writes overwrite and a fill only adds fields that are not there (HSETNX), so a
fill that read CQL before a change cannot undo it, and racing likes and unlikes
converge on the truth. One HMGET answers a page; memory grows with likes, not views.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Literal

from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from pictor.scripts import Script
from post_svc.engagement_store import CommentStore, LikeStore

Count = Literal["likes", "comments"]
COUNTS: tuple[Count, Count] = ("likes", "comments")
# The field of a viewer's liked hash that says it holds every like of theirs.
LOADED = "loaded"
# The version of a count read cold, older than any event id.
COLD = "0-0"

# KEYS[1] the post's counts; ARGV: which count, its value, version ms, version
# sequence, ttl. Keeps the count unless a newer one is stored.
_RECORD = Script("""
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
""")
# KEYS[1] a viewer's liked hash; ARGV: ttl, then the ids of every post they like.
# Adds what nothing set meanwhile, and marks the hash complete.
_FILL_LIKED = Script("""
for i = 2, #ARGV do redis.call('HSETNX', KEYS[1], ARGV[i], '1') end
redis.call('HSET', KEYS[1], 'loaded', '1')
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
""")


def counts_key(post_id: int) -> str:
    return f"counts:{{{post_id}}}"


def liked_key(user_id: int) -> str:
    return f"liked:{{{user_id}}}"


def stream_id(version: str) -> tuple[int, int]:
    milliseconds, _, sequence = version.partition("-")
    return int(milliseconds), int(sequence or 0)


def newer_version(kept: str, asked: str) -> str:
    return max(kept, asked, key=stream_id)


class EngagementCache:
    def __init__(self, client: RedisClient, ttl_seconds: int) -> None:
        self._redis = client
        self._ttl = ttl_seconds

    async def record(self, post_id: int, count: Count, value: int, version: str) -> bool:
        """Stores the count unless one of a newer version is there."""
        milliseconds, sequence = stream_id(version)
        args = (count, value, milliseconds, sequence, self._ttl)
        return bool(await _RECORD.run(self._redis, [counts_key(post_id)], args))

    async def set_liked(self, post_id: int, user_id: int, liked: bool) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(liked_key(user_id), str(post_id), "1" if liked else "0")
            pipe.expire(liked_key(user_id), self._ttl)
            await pipe.execute()

    async def fill_liked(self, user_id: int, post_ids: Sequence[int]) -> None:
        await _FILL_LIKED.run(self._redis, [liked_key(user_id)], (self._ttl, *post_ids))

    async def forget(self, post_id: int) -> None:
        await self._redis.delete(counts_key(post_id))

    async def read(
        self, post_ids: Sequence[int], viewer_id: int, counts: bool
    ) -> tuple[list[list[bytes | None]], list[bytes | None] | None]:
        """Per post its cached like and comment counts (None where missing; none if
        not asked), and the viewer's flags (None unless their hash is loaded; none if
        anonymous), in one pipelined round trip."""
        async with self._redis.pipeline(transaction=False) as pipe:
            if counts:
                for post_id in post_ids:
                    pipe.hmget(counts_key(post_id), list(COUNTS))
            if viewer_id:
                pipe.hmget(liked_key(viewer_id), [LOADED, *map(str, post_ids)])
            replies: list[list[bytes | None]] = await pipe.execute()
        nothing: list[bytes | None] = [None, None]
        found = replies[: len(post_ids)] if counts else [nothing for _ in post_ids]
        if not viewer_id:
            return found, None
        loaded, *flags = replies[-1]
        return found, flags if loaded is not None else None


class Engagement:
    """Counts and viewer flags for pages of posts, and the recounts that keep them."""

    def __init__(self, cache: EngagementCache, likes: LikeStore, comments: CommentStore) -> None:
        self._cache = cache
        self._likes = likes
        self._comments = comments

    async def of_posts(
        self, post_ids: Sequence[int], viewer_id: int, counts: bool, liked: bool
    ) -> list[post_pb2.Engagement]:
        """Aligned with post_ids; viewer_id 0 (anonymous) has liked nothing. Misses (a
        cold cache) are read from CQL, all at once."""
        viewer = viewer_id if liked else 0
        found, flags = await self._cache.read(post_ids, viewer, counts)
        shown = [post_pb2.Engagement() for _ in post_ids]
        if counts:
            for engagement, (likes, comments) in zip(
                shown, await self._counts(post_ids, found), strict=True
            ):
                engagement.like_count, engagement.comment_count = likes, comments
        if viewer:
            has_liked = await self._liked(post_ids, viewer, flags)
            for engagement, yes in zip(shown, has_liked, strict=True):
                engagement.viewer_has_liked = yes
        return shown

    async def recount(self, post_id: int, count: Count, version: str) -> int:
        """Counts the post's likes or comments in CQL and stores the count as of
        ``version`` (an event id: every write whose event is not newer is counted)."""
        value = await (self._likes if count == "likes" else self._comments).count(post_id)
        await self._cache.record(post_id, count, value, version)
        return value

    async def _counts(
        self, post_ids: Sequence[int], cached: list[list[bytes | None]]
    ) -> list[list[int]]:
        """Each post's like and comment counts: as cached, the misses read from CQL (and
        cached, as cold counts) all at once."""
        missing = [
            (index, which)
            for index, both in enumerate(cached)
            for which, value in enumerate(both)
            if value is None
        ]
        counts = [[int(value or 0) for value in both] for both in cached]
        read = await asyncio.gather(
            *(self.recount(post_ids[index], COUNTS[which], COLD) for index, which in missing)
        )
        for (index, which), value in zip(missing, read, strict=True):
            counts[index][which] = value
        return counts

    async def _liked(
        self, post_ids: Sequence[int], viewer_id: int, flags: list[bytes | None] | None
    ) -> list[bool]:
        if flags is not None:
            return [flag == b"1" for flag in flags]
        liked = await self._likes.liked_by(viewer_id)
        await self._cache.fill_liked(viewer_id, liked)
        mine = set(liked)
        return [post_id in mine for post_id in post_ids]
