"""post_svc's CQL access for likes and comments (tables in migration 0005): plain
writes, never a lightweight transaction, so a hot post's partition takes likes as
fast as its replicas take writes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2
from pictor.snowflake import timestamp_ms
from post_svc.store import read_after

# Rows deleted per request when a deleted post's likes and comments are removed.
_BATCH = 100


@dataclass(frozen=True)
class Comment:
    id: int
    post_id: int
    author_id: int
    text: str

    def to_proto(self) -> post_pb2.Comment:
        proto = post_pb2.Comment(
            id=self.id, post_id=self.post_id, author_id=self.author_id, text=self.text
        )
        proto.created_at.FromMilliseconds(timestamp_ms(self.id))
        return proto


def _comment(row: Any) -> Comment:
    return Comment(id=row.comment_id, post_id=row.post_id, author_id=row.author_id, text=row.text)


class LikeStore:
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql

    async def like_id(self, post_id: int, user_id: int) -> int | None:
        """The id of the user's like of the post, None if they do not like it."""
        rows = await self._cql.read(
            "SELECT like_id FROM likes_by_post WHERE post_id = ? AND user_id = ?",
            (post_id, user_id),
            fresh=True,
        )
        return int(rows[0].like_id) if rows else None

    async def add(self, post_id: int, user_id: int, like_id: int) -> None:
        await self._cql.write_batch(
            [
                (
                    "INSERT INTO likes_by_post (post_id, user_id, like_id) VALUES (?, ?, ?)",
                    (post_id, user_id, like_id),
                ),
                (
                    "INSERT INTO likes_by_post_recent (post_id, like_id, user_id) VALUES (?, ?, ?)",
                    (post_id, like_id, user_id),
                ),
                (
                    "INSERT INTO likes_by_user (user_id, post_id) VALUES (?, ?)",
                    (user_id, post_id),
                ),
            ]
        )

    async def remove(self, post_id: int, user_id: int, like_id: int) -> None:
        await self._cql.write_batch(
            [
                ("DELETE FROM likes_by_post WHERE post_id = ? AND user_id = ?", (post_id, user_id)),
                (
                    "DELETE FROM likes_by_post_recent WHERE post_id = ? AND like_id = ?",
                    (post_id, like_id),
                ),
                (
                    "DELETE FROM likes_by_user WHERE user_id = ? AND post_id = ?",
                    (user_id, post_id),
                ),
            ]
        )

    async def count(self, post_id: int) -> int:
        """How many users like the post: one partition, counted by its replicas."""
        rows = await self._cql.read(
            "SELECT COUNT(*) AS likes FROM likes_by_post WHERE post_id = ?", (post_id,), fresh=True
        )
        return int(rows[0].likes)

    async def recent(self, post_id: int, after: int | None, limit: int) -> list[tuple[int, int]]:
        """(like id, user id) newest first, strictly before the like id ``after``, up to
        ``limit``, stale rows included (see ``current``)."""
        rows = await read_after(
            self._cql,
            "SELECT like_id, user_id FROM likes_by_post_recent WHERE post_id = ?",
            post_id,
            "like_id < ?",
            after,
            limit,
        )
        return [(int(row.like_id), int(row.user_id)) for row in rows]

    async def current(
        self, post_id: int, listed: Sequence[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """The listed likes that stand: a row whose like was undone, or made again
        meanwhile (racing likes by one user), no longer matches likes_by_post."""
        if not listed:
            return []
        rows = await self._cql.read(
            "SELECT user_id, like_id FROM likes_by_post WHERE post_id = ? AND user_id IN ?",
            (post_id, list(dict.fromkeys(user_id for _, user_id in listed))),
            fresh=True,
        )
        standing = {(int(row.like_id), int(row.user_id)) for row in rows}
        return [like for like in listed if like in standing]

    async def liked_by(self, user_id: int) -> list[int]:
        """Every post the user likes."""
        rows = await self._cql.read(
            "SELECT post_id FROM likes_by_user WHERE user_id = ?", (user_id,), fresh=True
        )
        return [int(row.post_id) for row in rows]

    async def forget_post(self, post_id: int) -> None:
        """Every like of a deleted post, gone: each liker's row first, then the post's
        partitions (a crash between leaves the partition, so a retry finds them again)."""
        rows = await self._cql.read(
            "SELECT user_id FROM likes_by_post WHERE post_id = ?", (post_id,), fresh=True
        )
        for start in range(0, len(rows), _BATCH):
            await self._cql.write_batch(
                [
                    (
                        "DELETE FROM likes_by_user WHERE user_id = ? AND post_id = ?",
                        (row.user_id, post_id),
                    )
                    for row in rows[start : start + _BATCH]
                ]
            )
        await self._cql.write_batch(
            [
                ("DELETE FROM likes_by_post WHERE post_id = ?", (post_id,)),
                ("DELETE FROM likes_by_post_recent WHERE post_id = ?", (post_id,)),
            ]
        )


class CommentStore:
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql

    async def add(self, comment: Comment) -> None:
        values = (comment.post_id, comment.id, comment.author_id, comment.text)
        await self._cql.write_batch(
            [
                (
                    "INSERT INTO comments_by_post (post_id, comment_id, author_id, text) "
                    "VALUES (?, ?, ?, ?)",
                    values,
                ),
                (
                    "INSERT INTO comments_by_id (post_id, comment_id, author_id, text) "
                    "VALUES (?, ?, ?, ?)",
                    values,
                ),
            ]
        )

    async def get(self, comment_id: int) -> Comment | None:
        rows = await self._cql.read(
            "SELECT comment_id, post_id, author_id, text FROM comments_by_id WHERE comment_id = ?",
            (comment_id,),
            fresh=True,
        )
        return _comment(rows[0]) if rows else None

    async def get_many(self, comment_ids: Sequence[int]) -> list[Comment]:
        rows = await self._cql.read(
            "SELECT comment_id, post_id, author_id, text FROM comments_by_id WHERE comment_id IN ?",
            (list(dict.fromkeys(comment_ids)),),
        )
        return [_comment(row) for row in rows]

    async def remove(self, comment: Comment) -> None:
        await self._cql.write_batch(
            [
                (
                    "DELETE FROM comments_by_post WHERE post_id = ? AND comment_id = ?",
                    (comment.post_id, comment.id),
                ),
                ("DELETE FROM comments_by_id WHERE comment_id = ?", (comment.id,)),
            ]
        )

    async def count(self, post_id: int) -> int:
        rows = await self._cql.read(
            "SELECT COUNT(*) AS comments FROM comments_by_post WHERE post_id = ?",
            (post_id,),
            fresh=True,
        )
        return int(rows[0].comments)

    async def page(self, post_id: int, after: int | None, limit: int) -> list[Comment]:
        """The post's comments oldest first, strictly after the comment id ``after``."""
        rows = await read_after(
            self._cql,
            "SELECT comment_id, post_id, author_id, text FROM comments_by_post WHERE post_id = ?",
            post_id,
            "comment_id > ?",
            after,
            limit,
        )
        return [_comment(row) for row in rows]

    async def forget_post(self, post_id: int) -> None:
        """Every comment of a deleted post, gone: the by-id rows first, then the
        partition (a crash between leaves the partition, so a retry finds them again)."""
        rows = await self._cql.read(
            "SELECT comment_id FROM comments_by_post WHERE post_id = ?", (post_id,), fresh=True
        )
        ids = [int(row.comment_id) for row in rows]
        for start in range(0, len(ids), _BATCH):
            await self._cql.write(
                "DELETE FROM comments_by_id WHERE comment_id IN ?", (ids[start : start + _BATCH],)
            )
        await self._cql.write("DELETE FROM comments_by_post WHERE post_id = ?", (post_id,))
