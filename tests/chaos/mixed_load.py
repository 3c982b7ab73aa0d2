"""The steady mixed load of the fault suites (tests/chaos, tests/cluster): sign-ups,
follows, uploads and feed reads through the gateway, a few a second each, with a
ledger of every outcome and of what the stack acknowledged; the report of each
fault; and the checks that nothing acknowledged was lost."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.graphql import GraphQLError
from tests import images
from tests.gateway.test_posts import upload_one_shot
from tests.harness import GraphQLClient, Person, sign_up, wait_until

# How long after the last post is READY every follower's feed must hold it (the feed
# worker may still be working off a backlog a fault left).
FEEDS_SETTLE_SECONDS = 60.0
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
FEED = """
query($after: String) {
  homeFeed(first: 50, after: $after) {
    edges { node { id } } pageInfo { hasNextPage endCursor }
  }
}
"""
POST_STATUS = "query($id: ID!) { post(id: $id) { media { status } } }"
FOLLOWERS = """
query($u: String!, $after: String) {
  user(username: $u) {
    followerCount
    followers(first: 100, after: $after) {
      edges { node { id } } pageInfo { hasNextPage endCursor }
    }
  }
}
"""


@dataclass
class Outcome:
    kind: str
    started: float
    ended: float
    code: str | None  # None: succeeded


@dataclass
class Ledger:
    """Everything the load did, and what the stack acknowledged."""

    outcomes: list[Outcome] = field(default_factory=list)
    people: list[Person] = field(default_factory=list)
    follows: set[tuple[str, str]] = field(default_factory=set)  # (follower id, followee id)
    posts: dict[str, str] = field(default_factory=dict)  # post id -> author id

    async def attempt(self, kind: str, call: Awaitable[dict[str, Any]]) -> dict[str, Any] | None:
        started = time.monotonic()
        try:
            result = await asyncio.wait_for(call, 30)
        except Exception as error:  # the transport failing is an outcome
            self.outcomes.append(Outcome(kind, started, time.monotonic(), type(error).__name__))
            return None
        errors = result.get("errors")
        code = errors[0].get("extensions", {}).get("code", "NO CODE") if errors else None
        self.outcomes.append(Outcome(kind, started, time.monotonic(), code))
        return None if errors else result["data"]

    def failed_between(self, start: float, end: float) -> list[Outcome]:
        return [o for o in self.outcomes if o.code is not None and start <= o.started <= end]


@dataclass(frozen=True)
class Fault:
    part: str
    killed: float
    back: float


async def run_load(http: httpx.AsyncClient, ledger: Ledger, stopping: asyncio.Event) -> None:
    """Sign-ups, follows, uploads and feed reads at a few a second each."""
    rng = random.Random(7)
    photo = images.jpeg(64, 48)

    async def sign_ups() -> None:
        while not stopping.is_set():
            started = time.monotonic()
            try:
                ledger.people.append(await asyncio.wait_for(sign_up(http, "chaos"), 30))
                code = None
            except GraphQLError as error:  # a refused sign-up is an outcome
                code = error.codes[0] if error.codes else "NO CODE"
            except Exception as error:  # so is one that never got an answer
                code = type(error).__name__
            ledger.outcomes.append(Outcome("sign-up", started, time.monotonic(), code))
            await pause(stopping, 0.5)

    async def follows() -> None:
        while not stopping.is_set():
            if len(ledger.people) >= 2:
                follower, followee = rng.sample(ledger.people, 2)
                data = await ledger.attempt(
                    "follow", follower.client.execute(FOLLOW, {"id": followee.id})
                )
                if data is not None:
                    ledger.follows.add((follower.id, followee.id))
            await pause(stopping, 0.25)

    async def uploads() -> None:
        while not stopping.is_set():
            if ledger.people:
                author = rng.choice(ledger.people)
                data = await ledger.attempt("upload", upload_one_shot(author, photo))
                if data is not None:
                    ledger.posts[data["uploadPost"]["id"]] = author.id
            await pause(stopping, 1.0)

    async def reads() -> None:
        while not stopping.is_set():
            if ledger.people:
                reader = rng.choice(ledger.people)
                await ledger.attempt("feed", reader.client.execute(FEED))
            await pause(stopping, 0.25)

    await asyncio.gather(sign_ups(), follows(), uploads(), reads())


async def pause(stopping: asyncio.Event, seconds: float) -> None:
    """The load's pace (not a wait for anything): returns early when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


def failed_once_back(
    ledger: Ledger, faults: list[Fault], grace_seconds: float, recovery_seconds: float
) -> list[tuple[str, Outcome]]:
    """Requests that failed once their part had been back ``grace_seconds`` (its callers
    reconnecting), up to ``recovery_seconds`` after it was back."""
    return [
        (fault.part, outcome)
        for fault in faults
        for outcome in ledger.failed_between(
            fault.back + grace_seconds, fault.back + recovery_seconds
        )
    ]


def report(ledger: Ledger, faults: list[Fault], recovery_seconds: float) -> list[str]:
    """Per fault: how long the part was down, how many requests failed meanwhile and in
    the recovery period after, the last failure, and the codes."""
    lines = [
        f"chaos: {len(ledger.outcomes)} requests, {len(ledger.people)} sign-ups, "
        f"{len(ledger.follows)} follows and {len(ledger.posts)} uploads acknowledged"
    ]
    for fault in faults:
        during = [o for o in ledger.outcomes if fault.killed <= o.started <= fault.back]
        failed = [o for o in during if o.code is not None]
        after = ledger.failed_between(fault.back + 1e-9, fault.back + recovery_seconds)
        last = max((o.started - fault.back for o in after), default=None)
        codes = sorted({o.code for o in failed + after if o.code})
        lines.append(
            f"chaos: {fault.part}: down {fault.back - fault.killed:.1f}s; "
            f"{len(failed)} of {len(during)} requests failed meanwhile, {len(after)} after "
            + (f"(the last {last:.1f}s after) " if last is not None else "")
            + f"{codes}"
        )
    return lines


async def every_acknowledged_post_is_ready_and_in_every_feed(ledger: Ledger) -> None:
    people = {person.id: person for person in ledger.people}

    async def status(post_id: str) -> str | None:
        author = people[ledger.posts[post_id]]
        result = await author.client.execute(POST_STATUS, {"id": post_id})
        post = (result.get("data") or {}).get("post")
        return post["media"]["status"] if post else None

    async def all_ready() -> bool:
        statuses = await asyncio.gather(*(status(post_id) for post_id in ledger.posts))
        return all(found == "READY" for found in statuses)

    await wait_until(all_ready, within=120, interval=1.0)
    # A post is READY before the feed worker has pushed it to its author's followers:
    # the feeds are waited on too, and what they still miss at the deadline is told.
    missing: dict[str, set[str]] = {}

    async def every_feed_has_them() -> bool:
        missing.clear()
        for follower_id, followee_id in sorted(ledger.follows):
            expected = {p for p, author in ledger.posts.items() if author == followee_id}
            if expected:
                absent = expected - await whole_feed(people[follower_id].client)
                if absent:
                    missing.setdefault(follower_id, set()).update(absent)
        return not missing

    with contextlib.suppress(AssertionError):
        await wait_until(every_feed_has_them, within=FEEDS_SETTLE_SECONDS, interval=1.0)
    assert not missing, f"posts missing from followers' feeds (follower: posts): {missing}"


async def whole_feed(client: GraphQLClient) -> set[str]:
    seen: set[str] = set()
    after = None
    while True:
        page = (await client.execute(FEED, {"after": after}))["data"]["homeFeed"]
        seen |= {edge["node"]["id"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def every_count_equals_its_list(ledger: Ledger) -> None:
    acknowledged: dict[str, set[str]] = {}
    for follower, followee in ledger.follows:
        acknowledged.setdefault(followee, set()).add(follower)
    any_client = ledger.people[0].client
    for person in ledger.people:
        listed: set[str] = set()
        count: int | None = None
        after = None
        while True:
            result = await any_client.execute(FOLLOWERS, {"u": person.username, "after": after})
            user = result["data"]["user"]
            count = user["followerCount"]
            listed |= {edge["node"]["id"] for edge in user["followers"]["edges"]}
            if not user["followers"]["pageInfo"]["hasNextPage"]:
                break
            after = user["followers"]["pageInfo"]["endCursor"]
        assert count == len(listed), person.username
        assert acknowledged.get(person.id, set()) <= listed, person.username
