"""Each author's recent READY posts, cached in Redis: what a follow backfills, what a
rebuild reads, and what a celebrity's followers merge at read time.

``post.published`` and ``post.deleted`` keep it current, so a celebrity's new post is
visible as soon as a pushed one would be. An author whose cache was never filled (or
was lost) is loaded from post_svc on first use.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis

from feed_svc.store import (
    Entry,
    add_entries,
    author_posts_key,
    author_posts_loaded_key,
    entries,
)
from pictor.paging import BATCH_MAX
from pictor.post.v1 import post_pb2, post_pb2_grpc


class AuthorPosts:
    def __init__(
        self, client: redis.Redis, posts: post_pb2_grpc.PostServiceStub, keep: int
    ) -> None:
        self._redis = client
        self._posts = posts
        self.keep = keep

    async def add(self, entry: Entry) -> None:
        await self.ensure_loaded([entry.author_id])
        async with self._redis.pipeline(transaction=False) as pipe:
            add_entries(pipe, author_posts_key(entry.author_id), [entry], self.keep)
            await pipe.execute()

    async def remove(self, entry: Entry) -> None:
        await self._redis.zrem(author_posts_key(entry.author_id), entry.member)

    async def recent(
        self, author_ids: Sequence[int], count: int, at_or_before_ms: int | None = None
    ) -> dict[int, list[Entry]]:
        """Up to ``count`` newest posts of each author (one pipelined round trip)."""
        if not author_ids:
            return {}
        await self.ensure_loaded(author_ids)
        top = at_or_before_ms if at_or_before_ms is not None else "+inf"
        async with self._redis.pipeline(transaction=False) as pipe:
            for author_id in author_ids:
                pipe.zrange(
                    author_posts_key(author_id),
                    top,
                    "-inf",
                    byscore=True,
                    desc=True,
                    offset=0,
                    num=count,
                )
            found = await pipe.execute()
        return {
            author_id: entries(members)
            for author_id, members in zip(author_ids, found, strict=True)
        }

    async def ensure_loaded(self, author_ids: Sequence[int]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for author_id in author_ids:
                pipe.exists(author_posts_loaded_key(author_id))
            loaded = await pipe.execute()
        missing = [a for a, present in zip(author_ids, loaded, strict=True) if not present]
        for start in range(0, len(missing), BATCH_MAX):
            await self._load(missing[start : start + BATCH_MAX])

    async def _load(self, author_ids: list[int]) -> None:
        """Fills the caches from the authors' profile grids (READY posts, newest first):
        one call for them all, so a reader whose timeline is rebuilt from scratch
        waits for one round of reads, not one per followee."""
        response = await self._posts.RecentPostIds(
            post_pb2.RecentPostIdsRequest(author_ids=author_ids, limit=self.keep)
        )
        async with self._redis.pipeline(transaction=False) as pipe:
            for author in response.authors:
                found = [Entry(post_id, author.author_id) for post_id in author.post_ids]
                add_entries(pipe, author_posts_key(author.author_id), found, self.keep)
                pipe.set(author_posts_loaded_key(author.author_id), 1)
            await pipe.execute()
