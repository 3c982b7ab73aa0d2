"""The follow graph's rule, without the stack: whatever order follows and unfollows of
a pair land in, repeated or racing, both directions end in agreement and every count
equals its list; a call that dies half-way is finished by the next one.

The rule (graph_svc.follows.set_edge) runs against both directions' rows held in
memory, each call atomic as the store's conditional batch is, and each waiting a few
turns of the event loop first, as chosen by the example, so racing calls interleave.
The same rule against Cassandra: test_follow_graph.py.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph_svc.follows import set_edge
from graph_svc.store import Side
from graph_svc.users import Edge

USERS = (1, 2, 3)
PAIRS = [(follower, followee) for follower in USERS for followee in USERS if follower != followee]


class MirrorWriteFailed(Exception):
    """The call died after writing the truth, before the other direction."""


class MemoryEdges:
    """Both directions' rows and counts, one partition per (side, owner)."""

    def __init__(self, turns: Callable[[], int] = lambda: 0) -> None:
        self.rows: dict[tuple[Side, int], dict[int, datetime]] = defaultdict(dict)
        self.counts: Counter[tuple[Side, int]] = Counter()
        self.failing_mirror_writes = 0
        # Changes of each (follower, followee) edge's truth.
        self.flips: Counter[tuple[int, int]] = Counter()
        self._turns = turns

    async def add(self, side: Side, owner: int, other: int, followed_at: datetime) -> bool:
        await self._wait(side)
        rows = self.rows[side, owner]
        if other in rows:
            return False
        rows[other] = followed_at
        self._changed(side, owner, other)
        return True

    async def remove(self, side: Side, owner: int, other: int) -> bool:
        await self._wait(side)
        rows = self.rows[side, owner]
        if other not in rows:
            return False
        del rows[other]
        self._changed(side, owner, other, removed=True)
        return True

    async def find(self, side: Side, owner: int, other: int) -> Edge | None:
        await self._wait(side, writing=False)
        followed_at = self.rows[side, owner].get(other)
        return None if followed_at is None else Edge(user_id=other, followed_at=followed_at)

    def follows(self, follower: int, followee: int) -> bool:
        return followee in self.rows[Side.FOLLOWING, follower]

    def followed_by(self, followee: int, follower: int) -> bool:
        return follower in self.rows[Side.FOLLOWERS, followee]

    def _changed(self, side: Side, owner: int, other: int, removed: bool = False) -> None:
        self.counts[side, owner] += -1 if removed else 1
        if side is Side.FOLLOWING:
            self.flips[owner, other] += 1

    async def _wait(self, side: Side, writing: bool = True) -> None:
        for _ in range(self._turns()):
            await asyncio.sleep(0)
        if writing and side is Side.FOLLOWERS and self.failing_mirror_writes:
            self.failing_mirror_writes -= 1
            raise MirrorWriteFailed


def assert_in_agreement(edges: MemoryEdges) -> None:
    for follower, followee in PAIRS:
        assert edges.follows(follower, followee) == edges.followed_by(followee, follower)
    for (side, owner), rows in edges.rows.items():
        assert edges.counts[side, owner] == len(rows), (side, owner)


calls = st.lists(st.tuples(st.sampled_from(PAIRS), st.booleans()), min_size=1, max_size=16)


@settings(max_examples=300, deadline=None)
@given(calls=calls, schedule=st.randoms(use_true_random=False))
def test_racing_follows_and_unfollows_end_in_agreement(
    calls: list[tuple[tuple[int, int], bool]], schedule: random.Random
) -> None:
    edges = MemoryEdges(turns=lambda: schedule.randrange(4))

    async def race() -> list[tuple[bool, bool]]:
        return await asyncio.gather(
            *(
                set_edge(edges, follower, followee, following)
                for (follower, followee), following in calls
            )
        )

    outcomes = asyncio.run(race())
    assert_in_agreement(edges)
    # The calls that say they changed the edge are the ones that flipped it.
    for pair in PAIRS:
        said = [
            changed
            for (called, _), (changed, _) in zip(calls, outcomes, strict=True)
            if called == pair
        ]
        assert sum(said) == edges.flips[pair]
        assert edges.follows(*pair) == (edges.flips[pair] % 2 == 1)


@settings(max_examples=300, deadline=None)
@given(calls=calls)
def test_follows_and_unfollows_one_after_another_end_as_the_last_one_asked(
    calls: list[tuple[tuple[int, int], bool]],
) -> None:
    edges = MemoryEdges()

    async def one_by_one() -> None:
        for (follower, followee), following in calls:
            before = edges.follows(follower, followee)
            changed, touched = await set_edge(edges, follower, followee, following)
            assert changed == touched == (before != following)

    asyncio.run(one_by_one())
    assert_in_agreement(edges)
    last = {pair: following for pair, following in calls}
    for pair, following in last.items():
        assert edges.follows(*pair) == following


def test_a_repeated_follow_changes_no_count() -> None:
    edges = MemoryEdges()

    async def twice() -> list[tuple[bool, bool]]:
        return [await set_edge(edges, 1, 2, following=True) for _ in range(2)]

    assert asyncio.run(twice()) == [(True, True), (False, False)]
    assert edges.counts[Side.FOLLOWING, 1] == edges.counts[Side.FOLLOWERS, 2] == 1


def test_a_follow_that_died_half_way_is_finished_by_the_next_call_of_the_pair() -> None:
    edges = MemoryEdges()
    edges.failing_mirror_writes = 1

    async def die_then_repeat() -> tuple[bool, bool]:
        with pytest.raises(MirrorWriteFailed):
            await set_edge(edges, 1, 2, following=True)
        assert edges.follows(1, 2)
        assert not edges.followed_by(2, 1)
        return await set_edge(edges, 1, 2, following=True)

    # The repeat changes no edge, but repairs one, so it is announced after all.
    assert asyncio.run(die_then_repeat()) == (False, True)
    assert_in_agreement(edges)


def test_an_unfollow_after_a_follow_that_died_half_way_leaves_neither_direction() -> None:
    edges = MemoryEdges()
    edges.failing_mirror_writes = 1

    async def die_then_unfollow() -> tuple[bool, bool]:
        with pytest.raises(MirrorWriteFailed):
            await set_edge(edges, 1, 2, following=True)
        return await set_edge(edges, 1, 2, following=False)

    assert asyncio.run(die_then_unfollow()) == (True, True)
    assert not edges.follows(1, 2)
    assert not edges.followed_by(2, 1)
    assert_in_agreement(edges)
