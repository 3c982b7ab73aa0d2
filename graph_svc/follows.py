"""Follow and unfollow: idempotent, exact counts, both directions kept in agreement.

Each direction of an edge lives in its owner's partition with that partition's count,
changed together by one conditional batch (see store.EdgeStore), so each count equals
its partition's rows. The two directions live in two partitions, which no single
transaction spans: ``following`` (the follower's partition) is the source of truth,
and ``followers`` is converged to it after every change. Convergence re-reads the
truth after repairing and repeats if it moved, so racing follows and unfollows of
the same pair settle on the last one's outcome in both directions. A call that
dies half-way is finished by the next follow or unfollow of that pair.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Protocol

from graph_svc.store import AccountStore, EdgeStore, Side
from graph_svc.users import Edge, User
from pictor import events
from pictor.errors import InvalidInput, NotFound
from pictor.redis_client import RedisClient

_CONVERGE_ATTEMPTS = 16
# Partitions a bulk import writes at once.
_IMPORT_PARTITIONS_IN_FLIGHT = 32


class EdgeRows(Protocol):
    """Both directions' edge rows with their counts (graph_svc.store.EdgeStore): each
    call one atomic change or serial read of one partition."""

    async def add(self, side: Side, owner: int, other: int, followed_at: datetime) -> bool: ...

    async def remove(self, side: Side, owner: int, other: int) -> bool: ...

    async def find(self, side: Side, owner: int, other: int) -> Edge | None: ...


async def set_edge(
    edges: EdgeRows, follower: int, followee: int, following: bool
) -> tuple[bool, bool]:
    """Makes follower follow followee (or not), then converges the other direction.

    Returns whether the edge changed, and whether anything did: a repair of a call
    that died half-way counts, so that call's announcement is made after all.
    """
    if following:
        changed = await edges.add(Side.FOLLOWING, follower, followee, datetime.now(UTC))
    else:
        changed = await edges.remove(Side.FOLLOWING, follower, followee)
    repaired = await converge(edges, follower, followee)
    return changed, changed or repaired


async def converge(edges: EdgeRows, follower: int, followee: int) -> bool:
    """Makes the followee's ``followers`` row match the follower's ``following`` row.

    Returns True if it had to change anything. The truth is re-read after each repair:
    a racing call may have changed it meanwhile, and its own convergence may already
    have run against the older truth.
    """
    repaired = False
    truth = await edges.find(Side.FOLLOWING, follower, followee)
    for _ in range(_CONVERGE_ATTEMPTS):
        if truth is not None:
            changed = await edges.add(Side.FOLLOWERS, followee, follower, truth.followed_at)
        else:
            changed = await edges.remove(Side.FOLLOWERS, followee, follower)
        repaired = repaired or changed
        now = await edges.find(Side.FOLLOWING, follower, followee)
        if (now is None) == (truth is None):
            return repaired
        truth = now
    raise RuntimeError(f"follow edge {follower}->{followee} kept changing; gave up")


class FollowGraph:
    def __init__(self, accounts: AccountStore, edges: EdgeStore, events_redis: RedisClient) -> None:
        self._accounts = accounts
        self._edges = edges
        self._events = events_redis

    async def follow(self, follower: int, followee: int) -> tuple[bool, User]:
        """Makes follower follow followee; returns whether anything changed, and followee."""
        return await self._set(follower, followee, following=True)

    async def unfollow(self, follower: int, followee: int) -> tuple[bool, User]:
        return await self._set(follower, followee, following=False)

    async def followers(self, user_id: int, after: int | None, limit: int) -> list[Edge]:
        """Who follows the user, newest accounts first, strictly after the ``after`` id."""
        return await self._edges.page(Side.FOLLOWERS, user_id, after, limit)

    async def following(self, user_id: int, after: int | None, limit: int) -> list[Edge]:
        """Whom the user follows, newest accounts first, strictly after the ``after`` id."""
        return await self._edges.page(Side.FOLLOWING, user_id, after, limit)

    async def stream_followers(self, user_id: int, size: int) -> AsyncIterator[list[int]]:
        """Every follower's id, in pages of ``size`` (for fan-out)."""
        after = None
        while True:
            edges = await self.followers(user_id, after, size)
            if edges:
                yield [edge.user_id for edge in edges]
            if len(edges) < size:
                return
            after = edges[-1].user_id

    async def followed_among(self, viewer: int, candidates: Sequence[int]) -> set[int]:
        """Which of the candidates the viewer follows."""
        return await self._edges.following_among(viewer, candidates)

    async def import_follows(self, edges: Mapping[int, Sequence[int]]) -> int:
        """Bulk follows, follower -> followees: each partition is written once per chunk
        (the following side first, as always), then each follower is announced once."""
        wanted = {
            follower: [f for f in dict.fromkeys(followees) if f != follower]
            for follower, followees in edges.items()
        }
        users = {u.id for u in await self._accounts.get_many([*wanted, *chain(*wanted.values())])}
        unknown = (set(wanted) | set(chain(*wanted.values()))) - users
        if unknown:
            raise NotFound(f"no such users: {sorted(unknown)[:5]}")
        now = datetime.now(UTC)
        slots = asyncio.Semaphore(_IMPORT_PARTITIONS_IN_FLIGHT)

        async def add(side: Side, owner: int, others: Sequence[int]) -> int:
            # Different partitions: no contention between them.
            async with slots:
                return await self._edges.add_many(side, owner, others, now)

        added = await asyncio.gather(
            *(add(Side.FOLLOWING, follower, followees) for follower, followees in wanted.items())
        )
        by_followee: dict[int, list[int]] = {}
        for follower, followees in wanted.items():
            for followee in followees:
                by_followee.setdefault(followee, []).append(follower)
        await asyncio.gather(
            *(
                add(Side.FOLLOWERS, followee, followers)
                for followee, followers in by_followee.items()
            )
        )
        # Only followers who gained an edge have feed state to rebuild.
        for follower, gained in zip(wanted, added, strict=True):
            if gained:
                await events.publish(
                    self._events, events.FOLLOWS_IMPORTED, {"follower_id": follower}
                )
        return sum(added)

    async def _check_pair(self, follower: int, followee: int) -> None:
        if follower == followee:
            raise InvalidInput("you cannot follow yourself")
        found = {user.id for user in await self._accounts.get_many([follower, followee])}
        if followee not in found:
            raise NotFound("no such user to follow")
        if follower not in found:
            raise NotFound("the follower does not exist")

    async def _set(self, follower: int, followee: int, following: bool) -> tuple[bool, User]:
        await self._check_pair(follower, followee)
        changed, touched = await set_edge(self._edges, follower, followee, following)
        if touched:
            await self._announce(follower, followee)
        return changed, await self._user(followee)

    async def _user(self, user_id: int) -> User:
        users = await self._accounts.get_many([user_id])
        if not users:
            raise NotFound("no such user")
        return users[0]

    async def _announce(self, follower: int, followee: int) -> None:
        """Publishes follow.changed with the edge's state as it is now.

        Carrying the state (not the action) lets a consumer that sees events out of
        order or twice still end right.
        """
        edge = await self._edges.find(Side.FOLLOWING, follower, followee)
        await events.publish(
            self._events,
            events.FOLLOW_CHANGED,
            {
                "follower_id": follower,
                "followee_id": followee,
                "following": int(edge is not None),
                "at_ms": int(datetime.now(UTC).timestamp() * 1000),
            },
        )
