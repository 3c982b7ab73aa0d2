"""post_svc's CQL access: the post record and the profile grid."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from google.protobuf import json_format

from pictor.counted import CountedRows, CountedTable
from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2
from pictor.snowflake import EPOCH_MS, SEQUENCE_BITS, WORKER_BITS, timestamp_ms
from post_svc.posts import PENDING, Post, Status, status_name

PROFILE = CountedTable("posts_by_user", "author_id", "post_id", "post_count")
# Profile partitions one rebuild read asks for (ScyllaDB's default cap on partition
# keys per query is 100): far fewer requests than one per author, on a small box.
_AUTHORS_PER_READ = 100
# Posts awaiting their photo are filed by the minute they were created, each minute
# split over this many partitions so a busy one is no hot spot.
PENDING_MINUTE_MS = 60_000
PENDING_SHARDS = 8
_SWEEP = "pending_uploads"


def _media_json(media: post_pb2.Media) -> str:
    return json_format.MessageToJson(media, indent=None)


def _post(row: Any) -> Post:
    # The media JSON carries the status too; the status column exists for the
    # lightweight transactions' conditions.
    media = json_format.Parse(row.media or "{}", post_pb2.Media())
    return Post(
        id=row.post_id,
        author_id=row.author_id,
        caption=row.caption,
        media=media,
        alt_text=row.alt_text or "",
    )


def pending_minute(post_id: int) -> int:
    """The minute (Unix ms // 60,000) under which a pending post is filed."""
    return timestamp_ms(post_id) // PENDING_MINUTE_MS


def first_id_at(unix_ms: int) -> int:
    """The smallest Snowflake id made at unix_ms: every post older has a smaller id."""
    return max(0, unix_ms - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS)


class PostStore:
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql
        self._profile = CountedRows(cql, PROFILE)

    async def create(self, post: Post) -> None:
        if post.status == PENDING:
            # Filed first: a crash before the post is written leaves an entry the sweep
            # clears, never a PENDING post no sweep will find.
            await self._cql.write(
                "INSERT INTO pending_uploads (minute, shard, post_id, author_id) "
                "VALUES (?, ?, ?, ?)",
                (pending_minute(post.id), post.id % PENDING_SHARDS, post.id, post.author_id),
            )
        await self._cql.write(
            "INSERT INTO posts_by_id (post_id, author_id, caption, status, media) "
            "VALUES (?, ?, ?, ?, ?) IF NOT EXISTS",
            (
                post.id,
                post.author_id,
                post.caption,
                status_name(post.status),
                _media_json(post.media),
            ),
        )

    async def get(self, post_id: int, *, serial: bool = False) -> Post | None:
        query = (
            "SELECT post_id, author_id, caption, status, media, alt_text FROM posts_by_id "
            "WHERE post_id = ?"
        )
        if serial:
            rows = await self._cql.read_serial(query, (post_id,))
        else:
            # Fresh: a post read back right after it was made or moved is found as it is.
            rows = await self._cql.read(query, (post_id,), fresh=True)
        return _post(rows[0]) if rows and rows[0].author_id is not None else None

    async def get_many(self, post_ids: Sequence[int]) -> list[Post]:
        """The posts that exist among post_ids, in one round of parallel reads."""
        found = await asyncio.gather(*(self.get(post_id) for post_id in dict.fromkeys(post_ids)))
        return [post for post in found if post is not None]

    async def move(
        self, post_id: int, media: post_pb2.Media, allowed_from: Sequence[Status]
    ) -> bool:
        """Sets the media (and its status) if the post is in one of allowed_from."""
        rows = await self._cql.write(
            "UPDATE posts_by_id SET status = ?, media = ? WHERE post_id = ? IF status IN ?",
            (
                status_name(media.status),
                _media_json(media),
                post_id,
                [status_name(status) for status in allowed_from],
            ),
        )
        return bool(rows[0].applied)

    async def set_alt_text(self, post: Post, alt_text: str) -> bool:
        """Sets the post's alt text, on its profile grid copy too if it has one; False
        when the post is gone."""
        rows = await self._cql.write(
            "UPDATE posts_by_id SET alt_text = ? WHERE post_id = ? IF EXISTS", (alt_text, post.id)
        )
        if not rows[0].applied:
            return False
        # Conditional, so a post not on the grid (not READY) is not put there.
        await self._cql.write(
            "UPDATE posts_by_user SET alt_text = ? WHERE author_id = ? AND post_id = ? IF EXISTS",
            (alt_text, post.author_id, post.id),
        )
        return True

    async def delete(self, post_id: int, author_id: int) -> bool:
        rows = await self._cql.write(
            "DELETE FROM posts_by_id WHERE post_id = ? IF author_id = ?", (post_id, author_id)
        )
        return bool(rows[0].applied)

    async def delete_if_pending(self, post_id: int) -> bool:
        """Deletes the post if it is still PENDING; True if it is gone (now or before)."""
        rows = await self._cql.write(
            "DELETE FROM posts_by_id WHERE post_id = ? IF status = ?",
            (post_id, status_name(PENDING)),
        )
        return bool(rows[0].applied) or getattr(rows[0], "status", None) is None

    async def unfile_pending(self, post_id: int) -> None:
        """The post no longer awaits its photo (it came, or the post is gone)."""
        await self._cql.write(
            "DELETE FROM pending_uploads WHERE minute = ? AND shard = ? AND post_id = ?",
            (pending_minute(post_id), post_id % PENDING_SHARDS, post_id),
        )

    async def pending_before(
        self, minute: int, shard: int, before_id: int, after_id: int, limit: int
    ) -> list[tuple[int, int]]:
        """(post id, author id) of posts filed as pending in this minute and shard, with
        ids in (after_id, before_id), oldest first, at most limit."""
        rows = await self._cql.read(
            "SELECT post_id, author_id FROM pending_uploads "
            "WHERE minute = ? AND shard = ? AND post_id > ? AND post_id < ? LIMIT ?",
            (minute, shard, after_id, before_id, limit),
        )
        return [(row.post_id, row.author_id) for row in rows]

    async def swept_through(self) -> int | None:
        """The last minute every pending post of which has been dealt with."""
        rows = await self._cql.read(
            "SELECT swept_through FROM upload_sweeps WHERE sweep = ?", (_SWEEP,)
        )
        return rows[0].swept_through if rows else None

    async def set_swept_through(self, minute: int) -> None:
        await self._cql.write(
            "UPDATE upload_sweeps SET swept_through = ? WHERE sweep = ?", (minute, _SWEEP)
        )

    async def show_on_profile(self, post: Post) -> bool:
        return await self._profile.add(
            post.author_id,
            post.id,
            {"caption": post.caption, "media": _media_json(post.media), "alt_text": post.alt_text},
        )

    async def remove_from_profile(self, post: Post) -> bool:
        return await self._profile.remove(post.author_id, post.id)

    async def profile_count(self, author_id: int) -> tuple[int, int]:
        """The author's READY post count and its version (write time)."""
        return await self._profile.count_and_version(author_id)

    async def recent_ids(self, author_ids: Sequence[int], limit: int) -> dict[int, list[int]]:
        """Each author's newest READY post ids, up to ``limit``: id-only reads of up to
        ``_AUTHORS_PER_READ`` profile partitions per request, all requests at once."""
        authors = list(dict.fromkeys(author_ids))
        chunks = [
            authors[start : start + _AUTHORS_PER_READ]
            for start in range(0, len(authors), _AUTHORS_PER_READ)
        ]
        reads = await asyncio.gather(
            *(
                self._cql.read(
                    "SELECT author_id, post_id FROM posts_by_user WHERE author_id IN ? "
                    "PER PARTITION LIMIT ?",
                    (chunk, limit),
                )
                for chunk in chunks
            )
        )
        found: dict[int, list[int]] = {author_id: [] for author_id in authors}
        for rows in reads:
            for row in rows:
                # A partition holding only its static count yields a row with no post.
                if row.post_id is not None:
                    found[row.author_id].append(row.post_id)
        return found

    async def profile_page(self, author_id: int, after: int | None, limit: int) -> list[Post]:
        # Fresh: the profile grid read right after a post turns READY shows it.
        rows = await read_after(
            self._cql,
            "SELECT author_id, post_id, caption, media, alt_text FROM posts_by_user "
            "WHERE author_id = ?",
            author_id,
            "post_id < ?",
            after,
            limit,
        )
        return [_post(row) for row in rows if row.post_id is not None]


async def read_after(
    cql: CqlSession,
    select: str,
    partition: int,
    beyond: str,
    after: int | None,
    limit: int,
) -> list[Any]:
    """Up to ``limit`` rows of one partition (``select`` binds its key), from the first
    or from beyond the row ``after`` (``beyond``: "post_id < ?" when newest first),
    read fresh: a page read right after a write shows it."""
    if after is None:
        return await cql.read(f"{select} LIMIT ?", (partition, limit), fresh=True)
    return await cql.read(f"{select} AND {beyond} LIMIT ?", (partition, after, limit), fresh=True)
