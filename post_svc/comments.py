"""Comments: added by anyone signed in to a READY post, listed oldest first, deleted by
their author or the post's author. Every add and delete publishes ``comment.changed``;
its consumer recounts the post's comments (post_svc.settling), so ``commentCount`` is
exact once events settle, as the like count is (post_svc.engagement)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from pictor import events
from pictor.common.v1 import common_pb2
from pictor.errors import Forbidden, NotFound
from pictor.paging import read_page
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from pictor.snowflake import SnowflakeGenerator
from post_svc.engagement_store import Comment, CommentStore
from post_svc.lifecycle import PostLifecycle
from post_svc.posts import normalize_text

# As long as a caption: room for a paragraph, not an essay.
COMMENT_MAX = 2200
PAGE_DEFAULT = 20


def normalize_comment(text: str) -> str:
    """Trimmed first: a comment of only spaces is empty, and refused."""
    return normalize_text(text, "a comment", 1, COMMENT_MAX)


class Comments:
    def __init__(
        self,
        store: CommentStore,
        posts: PostLifecycle,
        ids: SnowflakeGenerator,
        events_redis: RedisClient,
    ) -> None:
        self._store = store
        self._posts = posts
        self._ids = ids
        self._events = events_redis

    async def add(self, post_id: int, author_id: int, text: str) -> Comment:
        text = normalize_comment(text)
        post = await self._posts.readable(post_id)
        comment = Comment(id=self._ids.next_id(), post_id=post_id, author_id=author_id, text=text)
        await self._store.add(comment)
        await self._changed(comment, post.author_id, added=True)
        return comment

    async def delete(self, comment_id: int, requester_id: int) -> None:
        comment = await self._store.get(comment_id)
        if comment is None:
            raise NotFound("no such comment")
        found = await self._posts.hydrate([comment.post_id])
        if not found:
            raise NotFound("no such comment")
        post_author_id = _author_of(found[0])
        if requester_id not in (comment.author_id, post_author_id):
            raise Forbidden("only the comment's author or the post's author may delete it")
        await self._store.remove(comment)
        await self._changed(comment, post_author_id, added=False)

    async def of_post(
        self, post_id: int, page: common_pb2.PageRequest
    ) -> tuple[list[Comment], common_pb2.PageResponse]:
        """The post's comments oldest first, and the next page's token: the one read a
        later viewer filter (blocks, private accounts) goes into."""
        await self._posts.readable(post_id)

        async def read(after: int | None, limit: int) -> list[Comment]:
            return await self._store.page(post_id, after, limit)

        return await read_page(page, PAGE_DEFAULT, read, _comment_id)

    async def by_ids(self, comment_ids: Sequence[int]) -> list[Comment]:
        return await self._store.get_many(comment_ids) if comment_ids else []

    async def _changed(self, comment: Comment, post_author_id: int, *, added: bool) -> None:
        await events.publish(
            self._events,
            events.COMMENT_CHANGED,
            {
                "comment_id": comment.id,
                "post_id": comment.post_id,
                "post_author_id": post_author_id,
                "author_id": comment.author_id,
                "added": int(added),
                "at_ms": int(time.time() * 1000),
            },
        )


def _author_of(record: bytes) -> int:
    return post_pb2.Post.FromString(record).author_id


def _comment_id(comment: Comment) -> int:
    return comment.id
