"""What follows a like, a comment or a post's deletion, driven by their events: counts
recounted, viewer flags set from the truth, and a deleted post's likes and comments
removed. Every handler re-reads CQL rather than trusting the event, so a redelivered or
out-of-order event changes nothing that is right already.

Recounts of one post are coalesced (:class:`pictor.coalescing.Coalesced`): one runs
at a time per post and count, and every event that arrives while it runs is answered
by the next run, which starts after them all. With the consumer holding many events at once, a burst of
1,000 likes on one post becomes a few partition counts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from pictor.coalescing import Coalesced
from pictor.consumer import Fields
from post_svc.engagement import Count, Engagement, EngagementCache, newer_version
from post_svc.engagement_store import CommentStore, LikeStore
from post_svc.lifecycle import PostLifecycle

log = logging.getLogger(__name__)

# Events of one kind a post_svc replica holds at once: what a recount can coalesce.
IN_HAND = 64
GROUP = "post_svc"


class Settling:
    def __init__(
        self,
        engagement: Engagement,
        cache: EngagementCache,
        likes: LikeStore,
        comments: CommentStore,
        posts: PostLifecycle,
    ) -> None:
        self._engagement = engagement
        self._cache = cache
        self._likes = likes
        self._comments = comments
        self._posts = posts
        # Each run carries the newest version asked for.
        self._recount_likes = Coalesced(self._recounter("likes"), newer_version)
        self._recount_comments = Coalesced(self._recounter("comments"), newer_version)

    def _recounter(self, count: Count) -> Callable[[int, str], Awaitable[None]]:
        async def recount(post_id: int, version: str) -> None:
            await self._engagement.recount(post_id, count, version)

        return recount

    async def like_changed(self, message_id: str, fields: Fields) -> None:
        post_id, user_id = int(fields["post_id"]), int(fields["user_id"])
        if not await self._exists(post_id):
            # Liked while the post was being deleted: nothing of it may stay.
            await self._likes.forget_post(post_id)
            return
        liked = await self._likes.like_id(post_id, user_id) is not None
        await self._cache.set_liked(post_id, user_id, liked)
        await self._recount_likes(post_id, message_id)

    async def comment_changed(self, message_id: str, fields: Fields) -> None:
        post_id = int(fields["post_id"])
        if not await self._exists(post_id):
            await self._comments.forget_post(post_id)
            return
        await self._recount_comments(post_id, message_id)

    async def post_deleted(self, message_id: str, fields: Fields) -> None:
        """A deleted post's likes and comments, and its counts, are removed."""
        post_id = int(fields["post_id"])
        await asyncio.gather(self._likes.forget_post(post_id), self._comments.forget_post(post_id))
        await self._cache.forget(post_id)
        log.info("post %s deleted: its likes and comments are gone", post_id)

    async def _exists(self, post_id: int) -> bool:
        return bool(await self._posts.hydrate([post_id]))
