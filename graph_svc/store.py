"""graph_svc's CQL access: accounts, and follow edges with their counts."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any

from cassandra import OperationTimedOut, WriteTimeout

from graph_svc.users import Account, Edge, User
from pictor.counted import CountedRows, CountedTable
from pictor.cql import CqlSession


class Side(Enum):
    """Each edge is stored twice; ``following`` is the source of truth."""

    FOLLOWING = CountedTable("following", "follower_id", "followee_id", "following_count")
    FOLLOWERS = CountedTable("followers", "followee_id", "follower_id", "follower_count")


# Claims of a username made before a timed-out one is given up (see AccountStore._claim).
_CLAIM_ATTEMPTS = 5
# After a claim no round completed, wait up to this (random, times the attempt) before
# the next: rounds of contended claims that collide on a ring spread apart.
_CLAIM_BACKOFF_SECONDS = 0.1
# A lightweight transaction's outcome is unknown after these (server- or client-side).
_LWT_TIMEOUTS = (WriteTimeout, OperationTimedOut)

# Users read at once (four queries each), well under the driver's per-connection limit.
_USERS_IN_FLIGHT = 128


class AccountStore:
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql

    async def create(self, account: Account) -> bool:
        """Stores the account if its username is free; False if it was taken.

        The user row is written first and the name claimed second: a crash in
        between leaves an unreachable row, never a name that points at nothing.
        """
        user = account.user
        await self._cql.write(
            "INSERT INTO users (user_id, username, display_name, bio, password_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                user.id,
                user.username,
                user.display_name,
                user.bio,
                account.password_hash,
                user.created_at,
            ),
        )
        if await self._claim(user.username, user.id):
            return True
        await self._cql.write("DELETE FROM users WHERE user_id = ?", (user.id,))
        return False

    async def _claim(self, username: str, user_id: int) -> bool:
        """Whether ``user_id`` holds ``username`` after claiming it.

        A lightweight transaction that times out (contended sign-ups of one name on a
        loaded ring) may have been applied or not: the claim is then re-read
        linearizably, which settles any round still in flight, and the id it holds
        tells whether it is this attempt's. A claim no round completed is made again,
        after a random pause (eight sign-ups of one name at once kept colliding).
        """
        for attempt in range(1, _CLAIM_ATTEMPTS):
            try:
                return await self._claim_once(username, user_id)
            except _LWT_TIMEOUTS:
                holder = await self._claim_holder(username)
                if holder is not None:
                    return holder == user_id
            await asyncio.sleep(random.uniform(0, _CLAIM_BACKOFF_SECONDS * attempt))
        return await self._claim_once(username, user_id)

    async def _claim_once(self, username: str, user_id: int) -> bool:
        claim = await self._cql.write(
            "INSERT INTO users_by_username (username, user_id) VALUES (?, ?) IF NOT EXISTS",
            (username, user_id),
        )
        return bool(claim[0].applied) or claim[0].user_id == user_id

    async def _claim_holder(self, username: str) -> int | None:
        rows = await self._cql.read_serial(
            "SELECT user_id FROM users_by_username WHERE username = ?", (username,)
        )
        return rows[0].user_id if rows else None

    async def find_account(self, username: str) -> Account | None:
        user_id = await self.find_id(username)
        if user_id is None:
            return None
        rows = await self._cql.read(
            "SELECT user_id, username, display_name, bio, created_at, avatar, password_hash "
            "FROM users WHERE user_id = ?",
            (user_id,),
            fresh=True,
        )
        if not rows:
            return None
        return Account(user=_user(rows[0]), password_hash=rows[0].password_hash)

    async def find_id(self, username: str) -> int | None:
        # Fresh: a log-in right after the sign-up must find the name.
        rows = await self._cql.read(
            "SELECT user_id FROM users_by_username WHERE username = ?", (username,), fresh=True
        )
        return rows[0].user_id if rows else None

    async def set_profile(self, user_id: int, display_name: str | None, bio: str | None) -> None:
        """Writes the given fields only: an edit of one never undoes a concurrent edit
        of the other."""
        fields = {"display_name": display_name, "bio": bio}
        given = {column: value for column, value in fields.items() if value is not None}
        if given:
            assignments = ", ".join(f"{column} = ?" for column in given)
            await self._cql.write(
                f"UPDATE users SET {assignments} WHERE user_id = ?", (*given.values(), user_id)
            )

    async def set_password_hash(self, user_id: int, password_hash: str) -> None:
        await self._cql.write(
            "UPDATE users SET password_hash = ? WHERE user_id = ?", (password_hash, user_id)
        )

    async def set_post_count(self, user_id: int, post_count: int, version: int) -> None:
        """Keeps the report with the highest version: the version is the write time,
        so CQL's last-write-wins does the ordering."""
        await self._cql.write(
            "UPDATE post_counts USING TIMESTAMP ? SET post_count = ? WHERE user_id = ?",
            (version, post_count, user_id),
        )

    async def get_many(self, user_ids: Sequence[int]) -> list[User]:
        """The users that exist among user_ids, with their counts, read in parallel but
        never more than ``_USERS_IN_FLIGHT`` at once (a bulk import asks for 100k)."""
        slots = asyncio.Semaphore(_USERS_IN_FLIGHT)

        async def get(user_id: int) -> User | None:
            async with slots:
                return await self._get(user_id)

        found = await asyncio.gather(*(get(user_id) for user_id in dict.fromkeys(user_ids)))
        return [user for user in found if user is not None]

    async def get_profiles(self, user_ids: Sequence[int]) -> list[User]:
        """The users that exist among user_ids, without their counts (all zero)."""
        found = await asyncio.gather(*(self._profile(user_id) for user_id in user_ids))
        return [user for user in found if user is not None]

    async def _profile(self, user_id: int) -> User | None:
        rows = await self._cql.read(
            "SELECT user_id, username, display_name, bio, created_at, avatar FROM users "
            "WHERE user_id = ?",
            (user_id,),
            fresh=True,
        )
        return _user(rows[0]) if rows else None

    async def _get(self, user_id: int) -> User | None:
        profile: User | None
        profile, followers, following, posts = await asyncio.gather(
            self._profile(user_id),
            # Fresh: counts read right after a follow or a post include it.
            self._cql.read(
                "SELECT follower_count FROM followers WHERE followee_id = ? LIMIT 1",
                (user_id,),
                fresh=True,
            ),
            self._cql.read(
                "SELECT following_count FROM following WHERE follower_id = ? LIMIT 1",
                (user_id,),
                fresh=True,
            ),
            self._cql.read(
                "SELECT post_count FROM post_counts WHERE user_id = ?", (user_id,), fresh=True
            ),
        )
        if profile is None:
            return None
        return replace(
            profile,
            follower_count=(followers[0].follower_count or 0) if followers else 0,
            following_count=(following[0].following_count or 0) if following else 0,
            post_count=(posts[0].post_count or 0) if posts else 0,
        )


@dataclass(frozen=True)
class AvatarRow:
    avatar_id: int
    user_id: int
    media: bytes


class AvatarStore:
    """Avatar uploads (``avatars``) and the user's current one (``users.avatar``).

    An upload expires ``upload_ttl_seconds`` after its last move unless that move made
    it for good (READY): a photo that never came leaves nothing behind. Every move
    writes every column, with its time to live or none (TTL 0): an UPDATE leaves the
    INSERT's row marker to expire, and a column it left out would expire with it, or
    outlive it as a row without its user."""

    def __init__(self, cql: CqlSession, upload_ttl_seconds: int) -> None:
        self._cql = cql
        self._ttl = upload_ttl_seconds

    async def create(self, avatar: AvatarRow, status: int) -> None:
        await self._cql.write(
            "INSERT INTO avatars (avatar_id, user_id, status, media) VALUES (?, ?, ?, ?) "
            "USING TTL ?",
            (avatar.avatar_id, avatar.user_id, status, avatar.media, self._ttl),
        )

    async def get(self, avatar_id: int) -> AvatarRow | None:
        """As the latest move left it (a serial read)."""
        rows = await self._cql.read_serial(
            "SELECT avatar_id, user_id, media FROM avatars WHERE avatar_id = ?", (avatar_id,)
        )
        return AvatarRow(rows[0].avatar_id, rows[0].user_id, rows[0].media) if rows else None

    async def move(
        self, avatar: AvatarRow, status: int, allowed_from: Sequence[int], *, kept: bool
    ) -> bool:
        """Sets the status and media if the status is one of ``allowed_from`` (an expired
        upload has none: it stays gone); ``kept``: for good, else expiring from now."""
        rows = await self._cql.write(
            "UPDATE avatars USING TTL ? SET user_id = ?, status = ?, media = ? "
            "WHERE avatar_id = ? IF status IN ?",
            (
                0 if kept else self._ttl,
                avatar.user_id,
                status,
                avatar.media,
                avatar.avatar_id,
                list(allowed_from),
            ),
        )
        return bool(rows[0].applied)

    async def forget(self, avatar_id: int) -> None:
        """Deletes the upload's record; conditional, as every move of it is, so that no
        move and delete ever interleave."""
        await self._cql.write("DELETE FROM avatars WHERE avatar_id = ? IF EXISTS", (avatar_id,))

    async def remember_replaced(self, avatar_id: int, replaced_id: int) -> None:
        """Records the avatar this one replaces; never brings back a forgotten record."""
        await self._cql.write(
            "UPDATE avatars SET replaced_id = ? WHERE avatar_id = ? IF EXISTS",
            (replaced_id, avatar_id),
        )

    async def replaced(self, avatar_id: int) -> int | None:
        rows = await self._cql.read_serial(
            "SELECT replaced_id FROM avatars WHERE avatar_id = ?", (avatar_id,)
        )
        return int(rows[0].replaced_id) if rows and rows[0].replaced_id is not None else None

    async def make_current(self, avatar: AvatarRow, written_at_us: int) -> None:
        """The user's avatar, unless one written with a later time is already."""
        await self._cql.write(
            "UPDATE users USING TIMESTAMP ? SET avatar_id = ?, avatar = ? WHERE user_id = ?",
            (written_at_us, avatar.avatar_id, avatar.media, avatar.user_id),
        )

    async def current_id(self, user_id: int) -> int | None:
        rows = await self._cql.read(
            "SELECT avatar_id FROM users WHERE user_id = ?", (user_id,), fresh=True
        )
        return rows[0].avatar_id if rows else None


class EdgeStore:
    """One direction's edges and count per partition, changed together atomically."""

    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql
        self._rows = {side: CountedRows(cql, side.value) for side in Side}

    async def add(self, side: Side, owner: int, other: int, followed_at: datetime) -> bool:
        """Adds the edge and counts it; False if it was already there."""
        return await self._rows[side].add(owner, other, {"followed_at": followed_at})

    async def add_many(
        self, side: Side, owner: int, others: Sequence[int], followed_at: datetime
    ) -> int:
        """Adds many edges to one owner's partition; returns how many were new."""
        values = {"followed_at": followed_at}
        return await self._rows[side].add_many(owner, dict.fromkeys(others, values))

    async def remove(self, side: Side, owner: int, other: int) -> bool:
        """Removes the edge and uncounts it; False if it was not there."""
        return await self._rows[side].remove(owner, other)

    async def find(self, side: Side, owner: int, other: int) -> Edge | None:
        """The edge as the latest lightweight transaction left it (a serial read)."""
        d = side.value
        rows = await self._cql.read_serial(
            f"SELECT {d.item}, followed_at FROM {d.table} WHERE {d.owner} = ? AND {d.item} = ?",
            (owner, other),
        )
        if not rows or getattr(rows[0], d.item) is None:
            return None
        return Edge(user_id=other, followed_at=rows[0].followed_at)

    async def page(self, side: Side, owner: int, after: int | None, limit: int) -> list[Edge]:
        """Up to ``limit`` edges, newest accounts first, strictly after the ``after`` id."""
        d = side.value
        columns = f"SELECT {d.item}, followed_at FROM {d.table} WHERE {d.owner} = ?"
        # Fresh: a list read right after a follow shows it.
        if after is None:
            rows = await self._cql.read(f"{columns} LIMIT ?", (owner, limit), fresh=True)
        else:
            rows = await self._cql.read(
                f"{columns} AND {d.item} < ? LIMIT ?", (owner, after, limit), fresh=True
            )
        # A partition holding only its static count yields one row with no edge.
        return [
            Edge(user_id=getattr(row, d.item), followed_at=row.followed_at)
            for row in rows
            if getattr(row, d.item) is not None
        ]

    async def following_among(self, follower: int, candidates: Sequence[int]) -> set[int]:
        """Which candidates the follower follows: one partition read."""
        if not candidates:
            return set()
        rows = await self._cql.read(
            "SELECT followee_id FROM following WHERE follower_id = ? AND followee_id IN ?",
            (follower, list(set(candidates))),
            fresh=True,
        )
        return {row.followee_id for row in rows}


def _user(row: Any) -> User:
    return User(
        id=row.user_id,
        username=row.username,
        display_name=row.display_name or "",
        bio=row.bio or "",
        created_at=row.created_at,
        avatar=row.avatar or b"",
    )
