"""A post's life: created PENDING, moved forward by media_svc, published once READY,
deleted by its author. Every step is safe to repeat.

Becoming READY shows the post on the author's profile and reports their post count
to graph_svc just before the status changes (whoever reads it READY finds both), and
publishes ``post.published`` after. The event is not atomic with the change, so
asking again for READY on a READY post sends it again: the media worker retries until
this call succeeds, which is how a crash between the status change and the event
still ends with the event sent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from pictor import events
from pictor.clients import ServiceClients
from pictor.errors import Forbidden, NotFound, TryAgain
from pictor.graph.v1 import graph_pb2
from pictor.hydration import HydrationCache, read_through
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from pictor.snowflake import SnowflakeGenerator, timestamp_ms
from post_svc.posts import (
    PENDING,
    READY,
    TERMINAL,
    Post,
    check_content_type,
    moves,
    normalize_alt_text,
    normalize_caption,
    sources,
    status_name,
    updated_media,
)
from post_svc.store import PostStore

log = logging.getLogger(__name__)


class PostLifecycle:
    def __init__(
        self,
        store: PostStore,
        ids: SnowflakeGenerator,
        events_redis: RedisClient,
        clients: ServiceClients,
        cache: HydrationCache,
    ) -> None:
        self._store = store
        self._cache = cache
        self._ids = ids
        self._events = events_redis
        self._clients = clients

    async def create(self, author_id: int, caption: str, content_type: str) -> Post:
        post_id = self._ids.next_id()
        post = Post(
            id=post_id,
            author_id=author_id,
            caption=normalize_caption(caption),
            media=post_pb2.Media(
                status=PENDING, declared_content_type=check_content_type(content_type)
            ),
        )
        await self._store.create(post)
        return post

    async def hydrate(self, post_ids: Sequence[int]) -> list[bytes]:
        """The posts that exist among post_ids, serialized (``post_pb2.Post``), from
        the cache when they are there: a warm feed page reads no CQL."""

        settled: set[int] = set()

        async def load(missing: list[int]) -> dict[int, bytes]:
            posts = await self._store.get_many(missing)
            settled.update(post.id for post in posts if post.status in TERMINAL)
            return {post.id: post.to_proto().SerializeToString() for post in posts}

        found = await read_through(self._cache, post_ids, load, cacheable=settled.__contains__)
        return [found[post_id] for post_id in dict.fromkeys(post_ids) if post_id in found]

    async def readable(self, post_id: int) -> post_pb2.Post:
        """The post if others may see it (READY): what may be liked or commented on."""
        found = await self.hydrate([post_id])
        post = post_pb2.Post.FromString(found[0]) if found else None
        if post is None or post.media.status != READY:
            raise NotFound("no such post")
        return post

    async def recent_ids(self, author_ids: Sequence[int], limit: int) -> dict[int, list[int]]:
        """Each author's newest READY post ids (their profile grid), newest first."""
        return await self._store.recent_ids(author_ids, limit)

    async def profile(self, author_id: int, after: int | None, limit: int) -> list[Post]:
        """The author's READY posts, newest first, strictly after the ``after`` id."""
        return await self._store.profile_page(author_id, after, limit)

    async def update_media(self, post_id: int, media: post_pb2.Media) -> tuple[Post, bool]:
        """Moves the post to media.status; returns the post and whether it moved."""
        allowed_from = sources(media.status)
        current = await self._store.get(post_id, serial=True)
        if current is None:
            raise NotFound("no such post")
        updated = replace(current, media=updated_media(current.media, media))
        # On the grid and counted before the status turns, so whoever reads the post
        # READY finds both (on a ring, the conditional write and re-read take a while).
        becoming_ready = updated.status == READY and current.status != READY
        if becoming_ready:
            await self._store.show_on_profile(updated)
            await self._report_post_count(updated.author_id)
        moved = await self._store.move(post_id, updated.media, allowed_from)
        post = await self._store.get(post_id, serial=True)
        if becoming_ready and (post is None or post.status != READY):
            # The status did not turn (deleted meanwhile, or refused below).
            await self._store.remove_from_profile(updated)
            await self._report_post_count(updated.author_id)
        if post is None:
            raise NotFound("no such post")
        if moved:
            await self._store.unfile_pending(post_id)
        elif moves(post.status, media.status):  # refused unless it repeats what was done
            # Nothing forbade it, yet it did not take: never answer as if it had.
            raise TryAgain(f"the post did not move to {status_name(media.status)}; retry")
        if post.status == READY:
            await self._publish(post)
        # Announced last, so whoever sees READY also sees the post on the profile.
        if moved:
            await self._announce_status(post)
        return post, moved

    async def set_alt_text(self, post_id: int, requester_id: int, alt_text: str) -> Post:
        """Sets the post's alt text; a cached post shows it at once (its record is
        replaced, unless the post was deleted meanwhile)."""
        text = normalize_alt_text(alt_text)
        post = await self._store.get(post_id, serial=True)
        if post is None:
            raise NotFound("no such post")
        if post.author_id != requester_id:
            raise Forbidden("only the author may set a post's alt text")
        if not await self._store.set_alt_text(post, text):
            raise NotFound("no such post")
        changed = replace(post, alt_text=text)
        if changed.status in TERMINAL:
            await self._cache.replace(post_id, changed.to_proto().SerializeToString())
        return changed

    async def delete(self, post_id: int, requester_id: int) -> None:
        post = await self._store.get(post_id, serial=True)
        if post is None:
            raise NotFound("no such post")
        if post.author_id != requester_id:
            raise Forbidden("only the author may delete a post")
        # Buried first: if the delete below fails, the post stays hidden until the
        # client's retry completes it; the other order could serve it after deletion.
        await self._cache.bury(post_id)
        await self._store.delete(post_id, post.author_id)
        await self._store.remove_from_profile(post)
        await self._report_post_count(post.author_id)
        await events.publish(
            self._events,
            events.POST_DELETED,
            {
                "post_id": post.id,
                "author_id": post.author_id,
                "published": int(post.status == READY),
            },
        )
        await self._store.unfile_pending(post_id)

    async def abandon(self, post_id: int, author_id: int) -> bool:
        """Deletes a post whose photo never came, if it is still PENDING; returns whether
        it is gone. Safe to repeat and to race: a post that moved on is left alone,
        and ``post.deleted`` sent twice only cleans up twice (media worker, feeds)."""
        gone = await self._store.delete_if_pending(post_id)
        if gone:
            # Never cached (only settled posts are), so no tombstone is needed, and
            # burying a post that moved on would hide it.
            await events.publish(
                self._events,
                events.POST_DELETED,
                {"post_id": post_id, "author_id": author_id, "published": 0},
            )
            log.info("post %s abandoned before its photo came: deleted", post_id)
        await self._store.unfile_pending(post_id)
        return gone

    async def _publish(self, post: Post) -> None:
        await events.publish(
            self._events,
            events.POST_PUBLISHED,
            {"post_id": post.id, "author_id": post.author_id, "created_ms": timestamp_ms(post.id)},
        )

    async def _report_post_count(self, author_id: int) -> None:
        count, version = await self._store.profile_count(author_id)
        await self._clients.graph.SetPostCount(
            graph_pb2.SetPostCountRequest(
                user_id=author_id, post_count=count, version=max(version, 1)
            )
        )

    async def _announce_status(self, post: Post) -> None:
        await events.announce_upload_status(
            self._events,
            events.POST_UPLOAD,
            post.id,
            events.UploadStatusMessage(status=status_name(post.status), message=post.media.error),
        )
