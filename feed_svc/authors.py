"""Each author's recent READY posts, cached in Redis: what a follow backfills, what a
rebuild reads, and what a celebrity's followers merge at read time.

``post.published`` and ``post.deleted`` keep it current, so a celebrity's new post is
visible as soon as a pushed one would be. An author whose cache was never filled (or
was lost) is loaded from post_svc on first read.
"""

from __future__ import annotations

from collections.abc import Sequence

from feed_svc.entries import Entry
from feed_svc.store import FeedStore
from pictor.paging import BATCH_MAX
from pictor.post.v1 import post_pb2, post_pb2_grpc


class AuthorPosts:
    def __init__(self, store: FeedStore, posts: post_pb2_grpc.PostServiceStub, keep: int) -> None:
        self._store = store
        self._posts = posts
        self.keep = keep

    async def add(self, entry: Entry, announce: bool) -> None:
        """The post joins its author's recent posts; if ``announce``, the author's live
        watchers hear of it, once (not again when the event is redelivered).

        Added before the cache is loaded, not after: a load from post_svc would hold
        the post already (it is READY), and adding it would then announce nothing."""
        await self._store.add_author_post(entry, self.keep, announce)

    async def remove(self, entry: Entry) -> None:
        await self._store.remove_author_post(entry)

    async def recent(
        self, author_ids: Sequence[int], count: int, at_or_before_ms: float | None = None
    ) -> dict[int, list[Entry]]:
        """Up to ``count`` newest posts of each author (one pipelined round trip)."""
        if not author_ids:
            return {}
        await self._ensure_loaded(author_ids)
        return await self._store.author_posts(author_ids, at_or_before_ms, count)

    async def _ensure_loaded(self, author_ids: Sequence[int]) -> None:
        loaded = await self._store.authors_loaded(author_ids)
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
        found = {
            author.author_id: [Entry(post_id, author.author_id) for post_id in author.post_ids]
            for author in response.authors
        }
        await self._store.load_authors(found, self.keep)
