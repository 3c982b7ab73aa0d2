"""What the fan-out scenarios set up and time, through the services' APIs (the
population itself is made by ``harness.bulk``): audiences of followers made active,
posts published and timed until the feed worker has settled, what landed in the
timelines, and the feed worker restarted so that every author is pushed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import time
from collections.abc import (
    AsyncIterator,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any

from bench.accounts import PASSWORD
from bench.report import Figure
from bench.run import BenchRun
from bench.target import Target
from feed_svc.entries import Entry
from feed_svc.keys import feed_built_key, feed_key, last_seen_key
from harness import bulk
from harness.events import settle_feed_worker
from harness.processes import environ
from harness.waiting import bounded
from infra.local import stack
from pictor.clients import ServiceClients
from pictor.feed.v1 import feed_pb2
from pictor.redis_client import RedisClient, open_redis

# Followers made active (GetHomeFeed builds their timeline) at once.
ACTIVATE_CONCURRENCY = 32
THRESHOLD_ENV = "PICTOR_CELEBRITY_THRESHOLD"
# While an author above the stack's threshold is timed, every author is pushed.
PUSH_EVERYONE = "10000000"


@asynccontextmanager
async def connected(target: Target) -> AsyncIterator[tuple[ServiceClients, RedisClient]]:
    """The stack's services and its Redis, closed on the way out."""
    clients, client = ServiceClients.connect(target.settings), open_redis(target.settings)
    try:
        yield clients, client
    finally:
        await clients.close()
        await client.aclose()


async def import_users(clients: ServiceClients, usernames: Sequence[str]) -> list[int]:
    """harness.bulk's, with the bench's password: its accounts are logged in with it."""
    return await bulk.import_users(clients, usernames, PASSWORD)


# ---------------------------------------------------------------- the feed worker


def feed_worker_settings(target: Target) -> tuple[int, float]:
    """The running feed worker's celebrity threshold and inactive days."""
    pid = part_pid(target, "feed_worker")
    threshold = bulk.worker_setting(pid, "celebrity_threshold")
    return int(threshold), float(bulk.worker_setting(pid, "inactive_days"))


def part_pid(target: Target, name: str) -> int:
    """The pid of a running part of the target stack."""
    pid = target.pid(name)
    if pid is None:
        raise RuntimeError(f"no running {name}: cannot read its settings or its CPU")
    return pid


async def active_followers(
    client: RedisClient, followers: Sequence[int], inactive_days: float
) -> list[int]:
    """The followers a push reaches: timeline built, seen within PICTOR_INACTIVE_DAYS."""
    async with client.pipeline(transaction=False) as pipe:
        for follower in followers:
            pipe.exists(feed_built_key(follower))
            pipe.get(last_seen_key(follower))
        flags = await pipe.execute()
    quiet_since = time.time() * 1000 - inactive_days * 24 * 3600 * 1000
    return [
        follower
        for follower, built, seen in zip(followers, flags[::2], flags[1::2], strict=True)
        if built and seen is not None and int(seen) >= quiet_since
    ]


async def activate(
    clients: ServiceClients,
    client: RedisClient,
    followers: Sequence[int],
    inactive_days: float,
    say: Callable[[str], None],
) -> set[int]:
    """The followers a push reaches, after every other one has read their home feed
    once through feed_svc (which builds their timeline and marks them seen)."""
    active = set(await active_followers(client, followers, inactive_days))
    idle = [follower for follower in followers if follower not in active]
    if idle:
        say(f"{len(idle)} followers read their home feed once")

        async def read(follower: int) -> None:
            await clients.feed.GetHomeFeed(feed_pb2.GetHomeFeedRequest(viewer_id=follower))

        await bounded(ACTIVATE_CONCURRENCY, read, idle)
        active = set(await active_followers(client, followers, inactive_days))
    return active


# ---------------------------------------------------------------- fan-out


async def audience(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    follower_names: Sequence[str],
    authors: Mapping[str, int],
    inactive_days: float,
) -> tuple[list[int], dict[str, int], set[int]]:
    """Followers, and authors (by name) each followed by that many of the first of them:
    made once, reused after (a re-run imports nothing). Returns the followers, the
    authors' ids and the followers a push reaches, each other one having read its home
    feed once."""
    followers = await import_users(clients, follower_names)
    ids = dict(zip(authors, await import_users(clients, list(authors)), strict=True))
    missing: dict[int, list[int]] = {}
    for name, size in authors.items():
        present = await bulk.followers_of(clients, ids[name])
        for follower in followers[:size]:
            if follower not in present:
                missing.setdefault(follower, []).append(ids[name])
    if missing:
        bench.say(f"importing {sum(map(len, missing.values()))} follows")
        await bulk.import_follows(clients, missing)
    # The imports' feed invalidations must land before the reads that rebuild.
    await settle_feed_worker(client, within=600)
    return followers, ids, await activate(clients, client, followers, inactive_days, bench.say)


async def create_posts(
    clients: ServiceClients, client: RedisClient, authors: Sequence[int], caption: str
) -> list[Entry]:
    """A PENDING post by each of ``authors`` (in that order), the feed worker settled
    after: only publishing is left to time."""
    post_ids = await bounded(
        bulk.PUBLISH_CONCURRENCY, lambda author: bulk.create_post(clients, author, caption), authors
    )
    await settle_feed_worker(client)
    return [Entry(post_id, author) for post_id, author in zip(post_ids, authors, strict=True)]


async def publish(
    clients: ServiceClients, client: RedisClient, posts: Sequence[Entry]
) -> tuple[float, float]:
    """The posts made READY (post.published), bulk.PUBLISH_CONCURRENCY at a time: seconds
    until the last UpdateMedia returned, and until the feed worker had settled."""
    began = time.perf_counter()
    await bounded(
        bulk.PUBLISH_CONCURRENCY, lambda post: bulk.make_ready(clients, post.post_id), posts
    )
    published = time.perf_counter() - began
    await settle_feed_worker(client, within=1800, interval=0.01 if len(posts) > 1 else 0.002)
    return published, time.perf_counter() - began


async def one_at_a_time(
    clients: ServiceClients, client: RedisClient, authors: Sequence[int], count: int, caption: str
) -> tuple[list[tuple[float, float]], list[Entry]]:
    """``count`` posts by the authors in turn, each published alone and timed as
    ``publish`` times it; the timings and the posts."""
    timed: list[tuple[float, float]] = []
    posts: list[Entry] = []
    for number in range(count):
        author = authors[number % len(authors)]
        posts += await create_posts(clients, client, [author], f"{caption} {number}")
        timed.append(await publish(clients, client, posts[-1:]))
    return timed, posts


def one_post_figure(
    scenario: str,
    followers: int,
    timed: Sequence[tuple[float, float]],
    *,
    baseline: float | None = None,
    notes: str = "",
    details: Mapping[str, Any] | None = None,
) -> Figure:
    """The median of how long one post took to reach ``followers`` followers: from its
    UpdateMedia call until the feed worker had settled."""
    published = [seconds * 1000 for seconds, _ in timed]
    fanned_out = [seconds * 1000 for _, seconds in timed]
    return Figure(
        scenario,
        f"fan-out of one post to {followers} followers",
        statistics.median(fanned_out),
        "ms",
        baseline=baseline,
        concurrency=1,
        notes=f"UpdateMedia call to feed worker drained, median of {len(timed)} (max "
        f"{max(fanned_out):.0f} ms), of which the UpdateMedia call (LWTs, profile, post count, "
        f"event) p50 {statistics.median(published):.0f} ms" + (f"; {notes}" if notes else ""),
        details={
            "fanned_out_ms": [round(ms, 2) for ms in fanned_out],
            "published_ms": [round(ms, 2) for ms in published],
            **(details or {}),
        },
    )


async def landed(client: RedisClient, followers: Sequence[int], posts: Sequence[Entry]) -> int:
    """How many of the posts are in each follower's timeline, summed."""
    members = [post.member for post in posts]
    found = 0
    for start in range(0, len(followers), 1000):
        async with client.pipeline(transaction=False) as pipe:
            for follower in followers[start : start + 1000]:
                pipe.zmscore(feed_key(follower), members)
            replies = await pipe.execute()
        found += sum(score is not None for scores in replies for score in scores)
    return found


def pushed_note(threshold: int, restarted: bool) -> str:
    """How the feed worker treated the authors, for a figure's notes."""
    if restarted:
        return (
            f"feed_svc and feed_worker restarted with {THRESHOLD_ENV}={PUSH_EVERYONE} "
            f"(was {threshold}), restored after"
        )
    return f"{THRESHOLD_ENV}={threshold}, every author pushed"


@asynccontextmanager
async def pushing_everyone(target: Target, say: Callable[[str], None]) -> AsyncIterator[None]:
    """The dev stack's feed_svc and feed_worker restarted with a celebrity threshold
    nobody passes, so authors of any size are pushed; restored with their own
    environment at the end, whatever happens inside."""
    originals = {name: environ(part_pid(target, name)) for name in ("feed_svc", "feed_worker")}

    def part(name: str, env: Mapping[str, str]) -> stack.Part:
        return next(p for p in stack.applications(target.settings, env) if p.name == name)

    async def restart(part: stack.Part) -> None:
        await asyncio.to_thread(stack.stop, part)
        await asyncio.to_thread(stack.start, part)

    say(f"restarting feed_svc and feed_worker with {THRESHOLD_ENV}={PUSH_EVERYONE}")
    try:
        for name, env in originals.items():
            await restart(part(name, {**env, THRESHOLD_ENV: PUSH_EVERYONE}))
        yield
    finally:
        say("restoring feed_svc and feed_worker")
        for name, env in originals.items():
            restored = part(name, env)
            if THRESHOLD_ENV not in env:
                # Started without it, so with the code's default, not the stack's.
                restored = dataclasses.replace(restored, env=env)
            await restart(restored)


@asynccontextmanager
async def pushed_authors(bench: BenchRun, threshold: int, largest: int) -> AsyncIterator[bool]:
    """Authors of up to ``largest`` followers pushed, not pulled, while inside; yields
    whether feed_svc and feed_worker had to be restarted for it (smoke runs never are)."""
    if largest <= threshold:
        yield False
        return
    if bench.smoke:
        raise RuntimeError(
            f"smoke sizes exceed the feed worker's {THRESHOLD_ENV}={threshold}; "
            "smoke runs restart nothing"
        )
    async with pushing_everyone(bench.target, bench.say):
        yield True
