"""The fault suite (``make chaos``): under a steady mixed load (sign-ups, follows,
uploads, feed reads), each part is killed with SIGKILL and started again — every
service, both workers, Redis, Cassandra and MinIO — and then Redis's timelines and
caches are wiped. Afterwards nothing that was acknowledged is lost: every post
whose upload was answered is READY and in every follower's feed, every follower
count equals its list, and S3 holds no object of a post that is gone. It reports how long each outage lasted and how many requests
failed during it, and requires that none fail once the part is back.

It kills the datastores the test suite shares with the dev stack (they are started
again): run it alone, not beside ``make test`` or a benchmark. ``make test`` runs the
fast part of the same story (tests/pictor/test_recovery.py, test_redis_restart.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway.config import GatewaySettings
from infra.local import stack
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from pictor.s3 import open_s3
from tests import images
from tests.gateway.test_posts import upload_one_shot
from tests.harness import GraphQLClient, IsolatedStack, Person, sign_up, wait_until

pytestmark = pytest.mark.chaos

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
SERVICES = ("graph_svc", "post_svc", "feed_svc", "media_svc", "media_worker", "feed_worker")
DATASTORES = ("redis", "minio", "cassandra")
# What a Redis that lost its data would lack: every timeline and its marks, every cache.
WIPED = ("feed:{*", "following:{*", "pulled:{*", "post:{*", "user:{*", "author-posts:{*")
# Load before each kill, and after a part is back, in seconds.
STEADY_SECONDS = 4.0
RECOVERY_SECONDS = 8.0
# Once a part answers its readiness check again, its callers have this long to notice
# (a gRPC channel or the CQL driver reconnecting backs off up to a second or two).
RECOVERY_GRACE_SECONDS = 3.0
# A part stays dead this long before it is started again.
DOWN_SECONDS = 2.0


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


@dataclass(frozen=True)
class Fault:
    part: str
    killed: float
    back: float


async def _load(http: httpx.AsyncClient, ledger: Ledger, stopping: asyncio.Event) -> None:
    """Sign-ups, follows, uploads and feed reads at a few a second each."""
    rng = random.Random(7)
    photo = images.jpeg(64, 48)

    async def sign_ups() -> None:
        while not stopping.is_set():
            started = time.monotonic()
            try:
                ledger.people.append(await asyncio.wait_for(sign_up(http, "chaos"), 30))
                code = None
            except Exception as error:  # a failed sign-up is an outcome
                code = type(error).__name__
            ledger.outcomes.append(Outcome("sign-up", started, time.monotonic(), code))
            await _pause(stopping, 0.5)

    async def follows() -> None:
        while not stopping.is_set():
            if len(ledger.people) >= 2:
                follower, followee = rng.sample(ledger.people, 2)
                data = await ledger.attempt(
                    "follow", follower.client.execute(FOLLOW, {"id": followee.id})
                )
                if data is not None:
                    ledger.follows.add((follower.id, followee.id))
            await _pause(stopping, 0.25)

    async def uploads() -> None:
        while not stopping.is_set():
            if ledger.people:
                author = rng.choice(ledger.people)
                data = await ledger.attempt("upload", upload_one_shot(author, photo))
                if data is not None:
                    ledger.posts[data["uploadPost"]["id"]] = author.id
            await _pause(stopping, 1.0)

    async def reads() -> None:
        while not stopping.is_set():
            if ledger.people:
                reader = rng.choice(ledger.people)
                await ledger.attempt("feed", reader.client.execute(FEED))
            await _pause(stopping, 0.25)

    await asyncio.gather(sign_ups(), follows(), uploads(), reads())


async def _pause(stopping: asyncio.Event, seconds: float) -> None:
    """The load's pace (not a wait for anything): returns early when stopping."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stopping.wait(), seconds)


def _kill_and_restart(part: stack.Part) -> Fault:
    pid = part.pid()
    assert pid is not None, f"{part.name} is not running"
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    stack.stop(part)  # reaps it and clears its pid file
    time.sleep(DOWN_SECONDS)  # the outage itself, in a worker thread
    stack.start(part)  # returns once the part answers its readiness check
    return Fault(part.name, killed, time.monotonic())


def _parts(test_stack: IsolatedStack) -> list[stack.Part]:
    datastores = {part.name: part for part in stack.backends(GatewaySettings())}
    return [test_stack.parts[name] for name in SERVICES] + [datastores[n] for n in DATASTORES]


async def test_nothing_acknowledged_is_lost_when_any_part_dies(
    test_stack: IsolatedStack,
    http: httpx.AsyncClient,
    settings: GatewaySettings,
    clients: ServiceClients,
) -> None:
    ledger = Ledger()
    stopping = asyncio.Event()
    load = asyncio.create_task(_load(http, ledger, stopping))
    faults: list[Fault] = []
    try:
        for part in _parts(test_stack):
            await _pause(stopping, STEADY_SECONDS)
            faults.append(await asyncio.to_thread(_kill_and_restart, part))
            print(f"chaos: {part.name} down for {faults[-1].back - faults[-1].killed:.1f}s")
            await _pause(stopping, RECOVERY_SECONDS)
        await _pause(stopping, STEADY_SECONDS)
    finally:
        stopping.set()
        await load
    await _wipe_feeds(settings)

    report = _report(ledger, faults)
    print("\n".join(report))
    late = [
        (fault.part, outcome)
        for fault in faults
        for outcome in ledger.outcomes
        if outcome.code is not None
        and fault.back + RECOVERY_GRACE_SECONDS <= outcome.started <= fault.back + RECOVERY_SECONDS
    ]
    assert late == [], "requests failed after their part was back"
    await _every_acknowledged_post_is_ready_and_in_every_feed(ledger)
    await _every_count_equals_its_list(ledger)
    # And the feeds rebuilt after the wipe were right (checked above, read after it).
    await wait_until(lambda: _orphans(clients, settings), within=60, interval=1.0)


async def _orphans(clients: ServiceClients, settings: GatewaySettings) -> bool:
    """True once S3 holds nothing but a live post's objects: no object of a post that
    is gone, and no original left beside a READY post's renditions."""
    keys: list[str] = []
    async with open_s3(settings) as s3:
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=settings.s3_bucket):
            keys += [item["Key"] for item in page.get("Contents", [])]
    owners = {key: int(key.split("/")[1].split(".")[0]) for key in keys}
    found: dict[int, int] = {}
    wanted = sorted(set(owners.values()))
    for start in range(0, len(wanted), 500):
        response = await clients.post.BatchGetPosts(
            post_pb2.BatchGetPostsRequest(post_ids=wanted[start : start + 500])
        )
        found |= {post.id: post.media.status for post in response.posts}
    left = [
        key
        for key, post_id in owners.items()
        if post_id not in found
        or (key.startswith("uploads/") and found[post_id] == post_pb2.MEDIA_STATUS_READY)
    ]
    if left:
        print(f"chaos: {len(left)} objects without a live post, e.g. {left[:3]}")
    return not left


async def _wipe_feeds(settings: GatewaySettings) -> None:
    """Timelines and hydration caches gone, as after losing Redis's data; the event
    streams are kept (they hold what the workers still owe)."""
    client = redis.from_url(settings.redis_url)
    try:
        for pattern in WIPED:
            keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
            for start in range(0, len(keys), 1000):
                await client.unlink(*keys[start : start + 1000])
    finally:
        await client.aclose()


def _report(ledger: Ledger, faults: list[Fault]) -> list[str]:
    lines = [
        f"chaos: {len(ledger.outcomes)} requests, {len(ledger.people)} sign-ups, "
        f"{len(ledger.follows)} follows and {len(ledger.posts)} uploads acknowledged"
    ]
    for fault in faults:
        during = [o for o in ledger.outcomes if fault.killed <= o.started <= fault.back]
        failed = [o for o in during if o.code is not None]
        after = [
            o
            for o in ledger.outcomes
            if fault.back < o.started <= fault.back + RECOVERY_SECONDS and o.code is not None
        ]
        last = max((o.started - fault.back for o in after), default=None)
        codes = sorted({o.code for o in failed + after if o.code})
        lines.append(
            f"chaos: {fault.part}: down {fault.back - fault.killed:.1f}s; "
            f"{len(failed)} of {len(during)} requests failed meanwhile, {len(after)} after "
            + (f"(the last {last:.1f}s after) " if last is not None else "")
            + f"{codes}"
        )
    return lines


async def _every_acknowledged_post_is_ready_and_in_every_feed(ledger: Ledger) -> None:
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
    for follower_id, followee_id in sorted(ledger.follows):
        expected = {p for p, author in ledger.posts.items() if author == followee_id}
        if expected:
            feed = await _whole_feed(people[follower_id].client)
            assert expected <= feed, f"posts missing from {follower_id}'s feed"


async def _whole_feed(client: GraphQLClient) -> set[str]:
    seen: set[str] = set()
    after = None
    while True:
        page = (await client.execute(FEED, {"after": after}))["data"]["homeFeed"]
        seen |= {edge["node"]["id"] for edge in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def _every_count_equals_its_list(ledger: Ledger) -> None:
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
