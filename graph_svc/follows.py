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
import logging
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from itertools import chain

import redis.asyncio as redis

from graph_svc.store import AccountStore, EdgeStore, Side
from graph_svc.users import User
from pictor import events
from pictor.errors import InvalidInput, NotFound

log = logging.getLogger(__name__)

_CONVERGE_ATTEMPTS = 16
# Partitions a bulk import writes at once.
_IMPORT_PARTITIONS_IN_FLIGHT = 32


class FollowGraph:
    def __init__(self, accounts: AccountStore, edges: EdgeStore, events_redis: redis.Redis) -> None:
        self._accounts = accounts
        self._edges = edges
        self._events = events_redis

    async def follow(self, follower: int, followee: int) -> tuple[bool, User]:
        """Makes follower follow followee; returns whether anything changed, and followee."""
        await self._check_pair(follower, followee)
        changed = await self._edges.add(Side.FOLLOWING, follower, followee, datetime.now(UTC))
        repaired = await self._converge(follower, followee)
        if changed or repaired:
            await self._announce(follower, followee)
        return changed, await self._user(followee)

    async def unfollow(self, follower: int, followee: int) -> tuple[bool, User]:
        await self._check_pair(follower, followee)
        changed = await self._edges.remove(Side.FOLLOWING, follower, followee)
        repaired = await self._converge(follower, followee)
        if changed or repaired:
            await self._announce(follower, followee)
        return changed, await self._user(followee)

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

    async def _user(self, user_id: int) -> User:
        users = await self._accounts.get_many([user_id])
        if not users:
            raise NotFound("no such user")
        return users[0]

    async def _converge(self, follower: int, followee: int) -> bool:
        """Makes the followee's ``followers`` row match the follower's ``following`` row.

        Returns True if it had to change anything.
        """
        repaired = False
        truth = await self._edges.find(Side.FOLLOWING, follower, followee)
        for _ in range(_CONVERGE_ATTEMPTS):
            if truth is not None:
                changed = await self._edges.add(
                    Side.FOLLOWERS, followee, follower, truth.followed_at
                )
            else:
                changed = await self._edges.remove(Side.FOLLOWERS, followee, follower)
            repaired = repaired or changed
            now = await self._edges.find(Side.FOLLOWING, follower, followee)
            if (now is None) == (truth is None):
                return repaired
            truth = now
        raise RuntimeError(f"follow edge {follower}->{followee} kept changing; gave up")

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
