"""Likes: who likes a post, one row per (post, user) in CQL, and the like count.

Like and unlike are idempotent and never a lightweight transaction: each reads the
user's own row, writes it (with its place in the newest-first list and the user's
own list) only if it changes, sets the viewer's flag in Redis and publishes
``like.changed``, even when nothing changed, so a retry after a lost answer still
gets its event. The count is not touched here.

Why the count is exact once events settle: the ``like.changed`` consumer
(post_svc.settling) answers each event with a recount of the post's partition that
starts after the event was published, so it includes every write whose event came
before; the count is stored with that event's id as its version, and an older
version never replaces a newer one (post_svc.engagement). The last event's recount
therefore read the partition after the last write, whatever order recounts finish
in and however often an event is delivered; out-of-order or repeated events only
cause another recount of the same truth.

Why a hot post's partition is no bottleneck: a like is one point read of the user's
own row and one logged batch of plain inserts, no Paxos round and no read of the
partition; the Redis keys a like writes are the liker's (``liked:{user}``), not the
post's. Only recounts read the partition, and they are coalesced per post (one runs
at a time; every event that arrives meanwhile shares the next), so 1,000 likes at
once cost a handful of partition counts, not 1,000, and the count key is written by
one recount at a time.
"""

from __future__ import annotations

import time

from pictor import events
from pictor.common.v1 import common_pb2
from pictor.paging import read_page
from pictor.redis_client import RedisClient
from pictor.snowflake import SnowflakeGenerator
from post_svc.engagement import EngagementCache
from post_svc.engagement_store import LikeStore
from post_svc.lifecycle import PostLifecycle

PAGE_DEFAULT = 20


class Likes:
    def __init__(
        self,
        store: LikeStore,
        cache: EngagementCache,
        posts: PostLifecycle,
        ids: SnowflakeGenerator,
        events_redis: RedisClient,
    ) -> None:
        self._store = store
        self._cache = cache
        self._posts = posts
        self._ids = ids
        self._events = events_redis

    async def like(self, post_id: int, user_id: int) -> None:
        post = await self._posts.readable(post_id)
        if await self._store.like_id(post_id, user_id) is None:
            await self._store.add(post_id, user_id, self._ids.next_id())
        await self._changed(post_id, post.author_id, user_id, liked=True)

    async def unlike(self, post_id: int, user_id: int) -> None:
        post = await self._posts.readable(post_id)
        like_id = await self._store.like_id(post_id, user_id)
        if like_id is not None:
            await self._store.remove(post_id, user_id, like_id)
        await self._changed(post_id, post.author_id, user_id, liked=False)

    async def who_liked(
        self, post_id: int, page: common_pb2.PageRequest
    ) -> tuple[list[tuple[int, int]], common_pb2.PageResponse]:
        """(like id, user id) newest first, and the next page's token: the one read a
        later viewer filter (blocks, private accounts) goes into."""
        await self._posts.readable(post_id)

        async def read(after: int | None, limit: int) -> list[tuple[int, int]]:
            # Stale list rows (racing likes by one user) are skipped, reading on until
            # the page is full or the list ends: a page is never short before the end.
            standing: list[tuple[int, int]] = []
            while len(standing) < limit:
                rows = await self._store.recent(post_id, after, limit)
                standing += await self._store.current(post_id, rows)
                if len(rows) < limit:
                    break
                after = rows[-1][0]
            return standing[:limit]

        return await read_page(page, PAGE_DEFAULT, read, _like_id)

    async def _changed(self, post_id: int, author_id: int, user_id: int, *, liked: bool) -> None:
        await self._cache.set_liked(post_id, user_id, liked)
        await events.publish(
            self._events,
            events.LIKE_CHANGED,
            {
                "post_id": post_id,
                "post_author_id": author_id,
                "user_id": user_id,
                "liked": int(liked),
                "at_ms": int(time.time() * 1000),
            },
        )


def _like_id(row: tuple[int, int]) -> int:
    return row[0]
