"""The stack's services driven directly over gRPC, for what a scenario sets up before
it measures: accounts and follows in bulk (graph_svc), READY posts (post_svc), followers
made active (feed_svc), and the feed worker's settings, read from its environment.

Nothing here writes a table or a Redis key: everything goes through the services'
APIs, so what the benchmarks measure is what the services built.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import statistics
import time
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Mapping,
    Sequence,
)
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import grpc
from argon2 import PasswordHasher

from bench.accounts import PASSWORD
from bench.report import Figure
from bench.run import BenchRun
from bench.target import Target
from feed_svc.config import FeedSettings
from feed_svc.entries import Entry
from feed_svc.keys import feed_built_key, feed_key, last_seen_key
from harness.events import settle_feed_worker
from harness.processes import environ
from harness.waiting import bounded
from infra.local import stack
from pictor.clients import ServiceClients
from pictor.common.v1 import common_pb2
from pictor.feed.v1 import feed_pb2
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient, open_redis

PUBLISH_CONCURRENCY = 8
# Followers made active (GetHomeFeed builds their timeline) at once.
ACTIVATE_CONCURRENCY = 32
# graph_svc's and post_svc's largest batch is 500; ListFollowing pages hold 100.
BATCH = 100
STREAM_PAGE = 5000
# graph_svc accepts up to 200,000 edges per ImportFollows call, but 100,000 edges into
# one followee's partition at once overran the Cassandra driver (client request
# timeouts, UNAVAILABLE) on the dev stack: calls of 20,000, retried (it is idempotent).
IMPORT_EDGES = 20_000
IMPORT_ATTEMPTS = 3
IMPORT_USERS = 10_000
# A 4:5 portrait photo's renditions (name -> width, height), as the worker makes them.
RENDITION_SIZES = {
    "thumb": (150, 150),
    "small": (320, 400),
    "medium": (640, 800),
    "large": (1080, 1350),
}
THRESHOLD_ENV = "PICTOR_CELEBRITY_THRESHOLD"
# While an author above the stack's threshold is timed, every author is pushed.
PUSH_EVERYONE = "10000000"
T = TypeVar("T")


@asynccontextmanager
async def connected(target: Target) -> AsyncIterator[tuple[ServiceClients, RedisClient]]:
    """The stack's services and its Redis, closed on the way out."""
    clients, client = ServiceClients.connect(target.settings), open_redis(target.settings)
    try:
        yield clients, client
    finally:
        await clients.close()
        await client.aclose()


# ---------------------------------------------------------------- accounts and follows


@functools.cache
def password_hash() -> str:
    """One argon2id hash of the bench password, shared by every imported account."""
    return PasswordHasher().hash(PASSWORD)


async def retried(call: Callable[[], Awaitable[T]]) -> T:
    """A bulk call, made again when graph_svc answers UNAVAILABLE (imports are
    idempotent): on the dev stack the largest imports can overrun its Cassandra driver."""
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            return await call()
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == IMPORT_ATTEMPTS:
                raise
            await asyncio.sleep(5 * attempt)
    raise AssertionError("unreachable")


async def import_users(clients: ServiceClients, usernames: Sequence[str]) -> list[int]:
    """The ids of these users, made through ImportUsers (idempotent by username, one
    shared argon2id hash: thousands a second), in streams of IMPORT_USERS accounts."""
    shared_hash = await asyncio.to_thread(password_hash)

    async def stream(names: Sequence[str]) -> list[int]:
        async def requests() -> AsyncIterator[graph_pb2.ImportUsersRequest]:
            for name in names:
                yield graph_pb2.ImportUsersRequest(
                    username=name,
                    display_name=name.replace(".", " ").title(),
                    password_hash=shared_hash,
                )

        return [int(r.user_id) async for r in clients.graph.ImportUsers(requests(), timeout=600)]

    ids: list[int] = []
    for start in range(0, len(usernames), IMPORT_USERS):
        names = usernames[start : start + IMPORT_USERS]
        ids += await retried(functools.partial(stream, names))
    if len(ids) != len(usernames) or not all(ids):
        raise RuntimeError("ImportUsers did not answer every account")
    return ids


async def followers_of(clients: ServiceClients, user_id: int) -> set[int]:
    request = graph_pb2.StreamFollowersRequest(user_id=user_id, page_size=STREAM_PAGE)
    return {f async for page in clients.graph.StreamFollowers(request) for f in page.follower_ids}


async def following_of(clients: ServiceClients, user_id: int) -> set[int]:
    followees: set[int] = set()
    token = ""
    while True:
        response = await clients.graph.ListFollowing(
            graph_pb2.ListFollowingRequest(
                user_id=user_id, page=common_pb2.PageRequest(page_size=BATCH, page_token=token)
            )
        )
        followees.update(edge.user_id for edge in response.edges)
        token = response.page.next_page_token
        if not token:
            return followees


async def _import_call(clients: ServiceClients, edges: Mapping[int, Sequence[int]]) -> int:
    """Bulk follows (follower -> followees) in one ImportFollows stream; returns how many
    edges were new. Each follower's feed state is rebuilt on their next read."""

    async def requests() -> Any:
        for follower, followees in edges.items():
            yield graph_pb2.ImportFollowsRequest(follower_id=follower, followee_ids=followees)

    response = await clients.graph.ImportFollows(requests())
    return int(response.added)


async def import_follows(clients: ServiceClients, edges: Mapping[int, Sequence[int]]) -> int:
    """ImportFollows in calls of up to IMPORT_EDGES edges, each retried; returns how
    many edges were new."""
    added = 0
    batch: dict[int, Sequence[int]] = {}
    size = 0
    for follower, followees in edges.items():
        if size + len(followees) > IMPORT_EDGES and batch:
            added += await retried(functools.partial(_import_call, clients, batch))
            batch, size = {}, 0
        batch[follower] = followees
        size += len(followees)
    if batch:
        added += await retried(functools.partial(_import_call, clients, batch))
    return added


async def users(clients: ServiceClients, user_ids: Sequence[int]) -> dict[int, graph_pb2.User]:
    found: dict[int, graph_pb2.User] = {}
    for start in range(0, len(user_ids), BATCH):
        response = await clients.graph.BatchGetUsers(
            graph_pb2.BatchGetUsersRequest(user_ids=user_ids[start : start + BATCH])
        )
        found.update((user.id, user) for user in response.users)
    return found


# ---------------------------------------------------------------- posts


def ready_media(post_id: int) -> post_pb2.Media:
    """What the media worker leaves on a READY photo: sizes, a BlurHash and 4 sizes x
    JPEG/WebP renditions (the keys need not exist: signing a URL does not read them)."""
    renditions = [
        post_pb2.Rendition(
            name=name,
            content_type=content_type,
            width=width,
            height=height,
            object_key=f"media/{post_id}/{name}.{extension}",
        )
        for name, (width, height) in RENDITION_SIZES.items()
        for content_type, extension in (("image/jpeg", "jpg"), ("image/webp", "webp"))
    ]
    width, height = RENDITION_SIZES["large"]
    return post_pb2.Media(
        status=post_pb2.MEDIA_STATUS_READY,
        width=width,
        height=height,
        blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        renditions=renditions,
    )


async def create_post(clients: ServiceClients, author_id: int, caption: str) -> int:
    """A PENDING post; nothing is published until it is made READY."""
    created = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(author_id=author_id, caption=caption, content_type="image/jpeg")
    )
    return int(created.post.id)


async def make_ready(clients: ServiceClients, post_id: int) -> None:
    """READY, as the media worker would leave it: post_svc publishes post.published."""
    await clients.post.UpdateMedia(
        post_pb2.UpdateMediaRequest(post_id=post_id, media=ready_media(post_id))
    )


async def publish_missing(
    bench: BenchRun, clients: ServiceClients, authors: Sequence[int], per_author: int, caption: str
) -> None:
    """READY posts for each author who has fewer than ``per_author``."""
    counts = {user.id: user.post_count for user in (await users(clients, authors)).values()}
    wanted = [
        author for author in authors for _ in range(max(0, per_author - counts.get(author, 0)))
    ]
    if wanted:
        bench.say(f"publishing {len(wanted)} posts")

        async def publish(author: int) -> None:
            await make_ready(clients, await create_post(clients, author, f"{caption} {author}"))

        await bounded(PUBLISH_CONCURRENCY, publish, wanted)


# ---------------------------------------------------------------- the feed worker


def worker_setting(pid: int, name: str) -> Any:
    """A FeedSettings value as the running feed worker has it: from its environment,
    else the default."""
    default = FeedSettings.model_fields[name].default
    value = environ(pid).get(f"PICTOR_{name.upper()}")
    return default if value is None else type(default)(value)


def feed_worker_settings(target: Target) -> tuple[int, float]:
    """The running feed worker's celebrity threshold and inactive days."""
    pid = part_pid(target, "feed_worker")
    threshold = worker_setting(pid, "celebrity_threshold")
    return int(threshold), float(worker_setting(pid, "inactive_days"))


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
        present = await followers_of(clients, ids[name])
        for follower in followers[:size]:
            if follower not in present:
                missing.setdefault(follower, []).append(ids[name])
    if missing:
        bench.say(f"importing {sum(map(len, missing.values()))} follows")
        await import_follows(clients, missing)
    # The imports' feed invalidations must land before the reads that rebuild.
    await settle_feed_worker(client, within=600)
    return followers, ids, await activate(clients, client, followers, inactive_days, bench.say)


async def create_posts(
    clients: ServiceClients, client: RedisClient, authors: Sequence[int], caption: str
) -> list[Entry]:
    """A PENDING post by each of ``authors`` (in that order), the feed worker settled
    after: only publishing is left to time."""
    post_ids = await bounded(
        PUBLISH_CONCURRENCY, lambda author: create_post(clients, author, caption), authors
    )
    await settle_feed_worker(client)
    return [Entry(post_id, author) for post_id, author in zip(post_ids, authors, strict=True)]


async def publish(
    clients: ServiceClients, client: RedisClient, posts: Sequence[Entry]
) -> tuple[float, float]:
    """The posts made READY (post.published), PUBLISH_CONCURRENCY at a time: seconds
    until the last UpdateMedia returned, and until the feed worker had settled."""
    began = time.perf_counter()
    await bounded(PUBLISH_CONCURRENCY, lambda post: make_ready(clients, post.post_id), posts)
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
