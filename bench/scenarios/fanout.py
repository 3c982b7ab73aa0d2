"""Feed-cache writes per second while a burst of posts fans out to 1,000 followers each,
beside pipelined ZADDs from ``redis-benchmark`` against the same Redis.

The population is made once and reused by later runs (deterministic usernames, looked
up before anything is created): K authors, each followed by the same 1,000 users
(graph_svc ImportFollows). Every follower then reads their home feed once through
feed_svc, which marks them active and builds their timeline, so every push lands.

The burst: P posts per author are created PENDING beforehand; the clock starts at the
first UpdateMedia READY (which publishes ``post.published``) and stops when the feed
worker has read and acknowledged everything on its streams. Writes are posts x active
followers, and each is then checked to be in its timeline. One post at a time is
timed the same way afterwards: how long one post takes to reach every follower.

The helpers below (accounts through graph_svc, READY posts through post_svc, waiting
for the feed worker to drain) are shared with ``feed_read``.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import grpc
import redis.asyncio as redis
from redis.exceptions import ResponseError

from bench.graphql import PASSWORD
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import (
    CpuMeter,
    children_cpu_seconds,
    describe_cpu,
    percentile,
)
from feed_svc.config import FeedSettings
from feed_svc.fanout import FANOUT_JOBS
from feed_svc.store import Entry, feed_built_key, feed_key, last_seen_key
from feed_svc.worker import GROUP as FEED_GROUP
from pictor import events
from pictor.clients import ServiceClients
from pictor.common.v1 import common_pb2
from pictor.feed.v1 import feed_pb2
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2

NAME = "fanout"
# Every stream the feed worker consumes (feed_svc.worker).
FEED_STREAMS = (
    events.POST_PUBLISHED,
    FANOUT_JOBS,
    events.FOLLOW_CHANGED,
    events.FOLLOWS_IMPORTED,
    events.POST_DELETED,
)
PUBLISH_CONCURRENCY = 8
LOOKUP_CONCURRENCY = 16
# argon2id at the dev stack's cost keeps both cores busy; more at once only queues.
CREATE_CONCURRENCY = 2
CREATE_TIMEOUT_SECONDS = 60.0
READ_CONCURRENCY = 16
# graph_svc's and post_svc's largest batch is 500; ListFollowing pages hold 100.
_BATCH = 100
_STREAM_PAGE = 5000
PROCESSES = ("feed_worker", "redis", "graph_svc", "post_svc", "cassandra")
# A 4:5 portrait photo's renditions (name -> width, height), as the worker makes them.
RENDITION_SIZES = {
    "thumb": (150, 150),
    "small": (320, 400),
    "medium": (640, 800),
    "large": (1080, 1350),
}

# redis-benchmark: pipelined ZADDs to random keys, in a database the stack never uses.
BASELINE_DB = 13
BASELINE_REQUESTS = 1_000_000
BASELINE_PIPELINE = 64
BASELINE_KEYSPACE = 100_000

A = TypeVar("A")
T = TypeVar("T")


@dataclass(frozen=True)
class Sizes:
    prefix: str
    authors: int
    followers: int
    posts_per_author: int
    # Posts fanned out one at a time after the burst.
    single_posts: int


FULL = Sizes("bench.fan", authors=5, followers=1000, posts_per_author=20, single_posts=5)
# The test stack's celebrity threshold is 3: three followers keep the authors pushed.
SMOKE = Sizes("bench.fan.smoke", authors=2, followers=3, posts_per_author=2, single_posts=1)


# ---------------------------------------------------------------- shared helpers


async def bounded(
    limit: int, operation: Callable[[A], Awaitable[T]], items: Iterable[A]
) -> list[T]:
    """``operation(item)`` for every item, at most ``limit`` at a time, results in order.

    Each call starts only when a slot is free: a gRPC call starts when it is made,
    not when it is awaited, so calls made up front would all be in flight at once.
    """
    slots = asyncio.Semaphore(limit)

    async def one(item: A) -> T:
        async with slots:
            return await operation(item)

    return list(await asyncio.gather(*(one(item) for item in items)))


async def find_user(clients: ServiceClients, username: str) -> int | None:
    try:
        response = await clients.graph.GetUserByUsername(
            graph_pb2.GetUserByUsernameRequest(username=username)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    return int(response.user.id)


async def ensure_users(
    clients: ServiceClients, usernames: Sequence[str], say: Callable[[str], None]
) -> list[int]:
    """The ids of these users, creating (through graph_svc) those that do not exist."""
    found = await bounded(LOOKUP_CONCURRENCY, lambda name: find_user(clients, name), usernames)
    missing = [name for name, user_id in zip(usernames, found, strict=True) if user_id is None]
    if missing:
        say(
            f"creating {len(missing)} users ({missing[0]} ...), {CREATE_CONCURRENCY} at a "
            "time: argon2 makes each slow; later runs reuse them"
        )
    made = 0

    async def create(username: str) -> int:
        nonlocal made
        try:
            response = await clients.graph.CreateUser(
                graph_pb2.CreateUserRequest(
                    username=username,
                    password=PASSWORD,
                    display_name=username.replace(".", " ").title(),
                ),
                timeout=CREATE_TIMEOUT_SECONDS,
            )
            user_id = int(response.user.id)
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.ALREADY_EXISTS:
                raise
            user_id = await find_user(clients, username) or 0
        made += 1
        if made % 100 == 0:
            say(f"created {made} of {len(missing)} users")
        return user_id

    created = dict(zip(missing, await bounded(CREATE_CONCURRENCY, create, missing), strict=True))
    ids = [user_id or created[name] for name, user_id in zip(usernames, found, strict=True)]
    if not all(ids):
        raise RuntimeError("a user could be neither found nor created")
    return ids


async def followers_of(clients: ServiceClients, user_id: int) -> set[int]:
    request = graph_pb2.StreamFollowersRequest(user_id=user_id, page_size=_STREAM_PAGE)
    return {f async for page in clients.graph.StreamFollowers(request) for f in page.follower_ids}


async def following_of(clients: ServiceClients, user_id: int) -> set[int]:
    followees: set[int] = set()
    token = ""
    while True:
        response = await clients.graph.ListFollowing(
            graph_pb2.ListFollowingRequest(
                user_id=user_id, page=common_pb2.PageRequest(page_size=_BATCH, page_token=token)
            )
        )
        followees.update(edge.user_id for edge in response.edges)
        token = response.page.next_page_token
        if not token:
            return followees


async def import_follows(clients: ServiceClients, edges: Mapping[int, Sequence[int]]) -> int:
    """Bulk follows (follower -> followees) in one ImportFollows stream; returns how many
    edges were new. Each follower's feed state is rebuilt on their next read."""

    async def requests() -> Any:
        for follower, followees in edges.items():
            yield graph_pb2.ImportFollowsRequest(follower_id=follower, followee_ids=followees)

    response = await clients.graph.ImportFollows(requests())
    return int(response.added)


async def users(clients: ServiceClients, user_ids: Sequence[int]) -> dict[int, graph_pb2.User]:
    found: dict[int, graph_pb2.User] = {}
    for start in range(0, len(user_ids), _BATCH):
        response = await clients.graph.BatchGetUsers(
            graph_pb2.BatchGetUsersRequest(user_ids=user_ids[start : start + _BATCH])
        )
        found.update((user.id, user) for user in response.users)
    return found


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


def _stream_id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


async def feed_worker_drained(client: redis.Redis) -> bool:
    """Whether the feed worker's group has read (last delivered id at the stream's last
    id, which holds even when Redis cannot tell the lag) and acknowledged everything on
    every one of its streams."""
    async with client.pipeline(transaction=False) as pipe:
        for stream in FEED_STREAMS:
            pipe.xinfo_stream(stream)
            pipe.xinfo_groups(stream)
        replies = await pipe.execute(raise_on_error=False)
    for stream_info, groups in zip(replies[::2], replies[1::2], strict=True):
        if isinstance(stream_info, ResponseError):
            continue  # no such stream yet: nothing was ever sent on it
        newest = _stream_id(stream_info["last-generated-id"])
        for group in groups:
            name = group["name"].decode() if isinstance(group["name"], bytes) else group["name"]
            if name != FEED_GROUP:
                continue
            if group["pending"] or _stream_id(group["last-delivered-id"]) < newest:
                return False
    return True


async def wait_drained(client: redis.Redis, within: float = 120.0, interval: float = 0.05) -> None:
    deadline = time.perf_counter() + within
    while not await feed_worker_drained(client):
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the feed worker did not drain its streams within {within:.0f}s")
        await asyncio.sleep(interval)


def worker_setting(pid: int, name: str) -> Any:
    """A FeedSettings value as the running feed worker has it: from its environment
    (``/proc/<pid>/environ``), else the default."""
    default = FeedSettings.model_fields[name].default
    wanted = f"PICTOR_{name.upper()}"
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        key, _, value = entry.decode(errors="replace").partition("=")
        if key == wanted:
            return type(default)(value)
    return default


def feed_worker_pid(bench: BenchRun) -> int:
    pid = bench.target.pid("feed_worker")
    if pid is None:
        raise RuntimeError("no running feed_worker: cannot read its settings or its CPU")
    return pid


# ---------------------------------------------------------------- the scenario


@dataclass(frozen=True)
class Population:
    authors: list[int]
    followers: list[int]
    # Followers whose timeline is built and who were seen recently: every push lands.
    active: list[int]
    imported: int


@dataclass(frozen=True)
class Burst:
    posts: int
    writes: int
    landed: int
    seconds: float
    publish_seconds: float
    cpu: dict[str, float]
    redis_calls: dict[str, int]
    redis_usec: int

    @property
    def per_second(self) -> float:
        return self.writes / self.seconds

    def cpu_us_per_write(self, name: str) -> float | None:
        share = self.cpu.get(name)
        return None if share is None else share * self.seconds / self.writes * 1e6


@dataclass(frozen=True)
class Baseline:
    ops_per_second: float | None
    command: list[str]
    cpu: dict[str, float]
    note: str = ""


async def run(bench: BenchRun) -> list[Figure]:
    sizes = SMOKE if bench.smoke else FULL
    pid = feed_worker_pid(bench)
    threshold = int(worker_setting(pid, "celebrity_threshold"))
    if sizes.followers > threshold:
        raise RuntimeError(
            f"{sizes.followers} followers exceed the feed worker's "
            f"PICTOR_CELEBRITY_THRESHOLD={threshold}: the authors would be pulled, not pushed"
        )
    inactive_days = float(worker_setting(pid, "inactive_days"))
    settings = bench.target.settings
    clients = ServiceClients.connect(settings)
    client = redis.from_url(settings.redis_url)
    try:
        population = await _population(bench, clients, client, sizes, threshold, inactive_days)
        if not population.active:
            raise RuntimeError("no follower is active; nothing would be pushed")
        burst = await _burst(bench, clients, client, sizes, population)
        singles = await _single_posts(bench, clients, client, sizes, population)
    finally:
        await clients.close()
        await client.aclose()
    baseline = None if bench.smoke else await _redis_benchmark(bench)
    return _figures(sizes, population, burst, singles, baseline, threshold)


async def _population(
    bench: BenchRun,
    clients: ServiceClients,
    client: redis.Redis,
    sizes: Sizes,
    threshold: int,
    inactive_days: float,
) -> Population:
    bench.say(f"{NAME}: {sizes.authors} authors, each followed by {sizes.followers} users")
    author_names = [f"{sizes.prefix}.a{number:02d}" for number in range(1, sizes.authors + 1)]
    follower_names = [f"{sizes.prefix}.{number:04d}" for number in range(1, sizes.followers + 1)]
    ids = await ensure_users(clients, author_names + follower_names, bench.say)
    authors, followers = ids[: sizes.authors], ids[sizes.authors :]

    missing: dict[int, list[int]] = {}
    for author in authors:
        present = await followers_of(clients, author)
        for follower in followers:
            if follower not in present:
                missing.setdefault(follower, []).append(author)
    imported = 0
    if missing:
        edges = sum(map(len, missing.values()))
        bench.say(f"{NAME}: importing {edges} follows")
        imported = await import_follows(clients, missing)
    counts = {user.id: user.follower_count for user in (await users(clients, authors)).values()}
    over = {author: count for author, count in counts.items() if count > threshold}
    if over:
        raise RuntimeError(f"authors above the celebrity threshold {threshold}: {over}")
    # The imports' feed invalidations must land before the reads that rebuild.
    await wait_drained(client)

    bench.say(f"{NAME}: {len(followers)} followers read their home feed once")

    async def read(follower: int) -> None:
        await clients.feed.GetHomeFeed(feed_pb2.GetHomeFeedRequest(viewer_id=follower))

    await bounded(READ_CONCURRENCY, read, followers)
    return Population(authors, followers, await _active(client, followers, inactive_days), imported)


async def _active(client: redis.Redis, followers: Sequence[int], inactive_days: float) -> list[int]:
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


async def _burst(
    bench: BenchRun,
    clients: ServiceClients,
    client: redis.Redis,
    sizes: Sizes,
    population: Population,
) -> Burst:
    authors = population.authors
    count = sizes.authors * sizes.posts_per_author
    bench.say(f"{NAME}: burst of {count} posts to {len(population.active)} active followers")
    # Authors take turns, as in a real burst; created beforehand, so only publishing
    # (UpdateMedia READY) is inside the clock.
    posted_by = [authors[index % len(authors)] for index in range(count)]
    post_ids = await bounded(
        PUBLISH_CONCURRENCY,
        lambda author: create_post(clients, author, "bench fanout"),
        posted_by,
    )
    await wait_drained(client)
    calls_before = await client.info("commandstats")
    meter = CpuMeter(bench.target.pids(*PROCESSES))
    meter.start()
    began = time.perf_counter()
    await bounded(PUBLISH_CONCURRENCY, lambda post_id: make_ready(clients, post_id), post_ids)
    published = time.perf_counter()
    await wait_drained(client, within=600, interval=0.01)
    ended = time.perf_counter()
    cpu = meter.stop()
    calls_after = await client.info("commandstats")

    members = [Entry(p, a).member for p, a in zip(post_ids, posted_by, strict=True)]
    calls, usec = _command_delta(calls_before, calls_after)
    return Burst(
        posts=count,
        writes=count * len(population.active),
        landed=await _landed(client, population.active, members),
        seconds=ended - began,
        publish_seconds=published - began,
        cpu=cpu,
        redis_calls=calls,
        redis_usec=usec,
    )


def _command_delta(
    before: Mapping[str, Any], after: Mapping[str, Any]
) -> tuple[dict[str, int], int]:
    """Redis calls per command between two INFO commandstats, and the server's time
    inside commands (microseconds), from every client of this Redis but the XINFO
    polls of this benchmark."""
    calls: dict[str, int] = {}
    usec = 0
    for name, stats in after.items():
        if name.startswith("cmdstat_xinfo"):
            continue  # this benchmark's own polling for the drained streams
        earlier = before.get(name, {})
        made = int(stats["calls"]) - int(earlier.get("calls", 0))
        if made:
            calls[name.removeprefix("cmdstat_")] = made
            usec += int(stats["usec"]) - int(earlier.get("usec", 0))
    return dict(sorted(calls.items(), key=lambda item: -item[1])), usec


async def _landed(client: redis.Redis, followers: Sequence[int], members: Sequence[str]) -> int:
    """How many of the posts are in each follower's timeline, summed."""
    async with client.pipeline(transaction=False) as pipe:
        for follower in followers:
            pipe.zmscore(feed_key(follower), list(members))
        found = await pipe.execute()
    return sum(score is not None for scores in found for score in scores)


@dataclass(frozen=True)
class Single:
    # From the UpdateMedia call: until it returned, and until the worker drained.
    published: float
    fanned_out: float


async def _single_posts(
    bench: BenchRun,
    clients: ServiceClients,
    client: redis.Redis,
    sizes: Sizes,
    population: Population,
) -> list[Single]:
    bench.say(f"{NAME}: {sizes.single_posts} posts fanned out one at a time")
    timed = []
    for number in range(sizes.single_posts):
        author = population.authors[number % len(population.authors)]
        post_id = await create_post(clients, author, f"bench fanout single {number}")
        await wait_drained(client)
        began = time.perf_counter()
        await make_ready(clients, post_id)
        published = time.perf_counter()
        await wait_drained(client, interval=0.002)
        timed.append(Single(published - began, time.perf_counter() - began))
    return timed


async def _redis_benchmark(bench: BenchRun) -> Baseline:
    """Pipelined ZADDs to random keys by redis-benchmark, in database 13 (flushed after;
    left alone if it holds anything)."""
    url = urlsplit(bench.target.settings.redis_url)
    host, port = url.hostname or "127.0.0.1", url.port or 6379
    command = [
        "redis-benchmark",
        *("-h", host, "-p", str(port), "--dbnum", str(BASELINE_DB)),
        *("-n", str(BASELINE_REQUESTS), "-P", str(BASELINE_PIPELINE)),
        *("-r", str(BASELINE_KEYSPACE), "--csv"),
        *("zadd", "feed:{__rand_int__}", "__rand_int__", "m:__rand_int__"),
    ]
    if shutil.which("redis-benchmark") is None:
        return Baseline(None, command, {}, "redis-benchmark not installed")
    scratch = redis.Redis(host=host, port=port, db=BASELINE_DB)
    try:
        if await scratch.dbsize():
            return Baseline(None, command, {}, f"Redis db {BASELINE_DB} is not empty; not touched")
        bench.say(f"{NAME}: redis-benchmark, {BASELINE_REQUESTS} pipelined ZADDs")
        meter = CpuMeter(bench.target.pids("redis"))
        meter.start()
        children_before = children_cpu_seconds()
        began = time.perf_counter()
        try:
            done = await asyncio.to_thread(
                subprocess.run, command, capture_output=True, text=True, check=True, timeout=300
            )
        finally:
            await scratch.flushdb()
        seconds = time.perf_counter() - began
        cpu = meter.stop()
        cpu["redis-benchmark"] = (children_cpu_seconds() - children_before) / seconds
    finally:
        await scratch.aclose()
    # CSV: a header, then "test","rps",...
    found = re.search(r'^"zadd[^"]*","([\d.]+)"', done.stdout, re.MULTILINE)
    if found is None:
        raise RuntimeError(f"unexpected redis-benchmark output: {done.stdout!r}")
    return Baseline(float(found.group(1)), command, cpu)


def _figures(
    sizes: Sizes,
    population: Population,
    burst: Burst,
    singles: list[Single],
    baseline: Baseline | None,
    threshold: int,
) -> list[Figure]:
    active = len(population.active)
    redis_calls = sum(burst.redis_calls.values())
    per_write = {
        name: burst.cpu_us_per_write(name) for name in ("feed_worker", "redis", "graph_svc")
    }
    cost = ", ".join(f"{name} {us:.0f}" for name, us in per_write.items() if us is not None)
    landed = (
        "all landed"
        if burst.landed == burst.writes
        else f"ONLY {burst.landed} of them in the timelines"
    )
    burst_notes = (
        f"{burst.posts} posts x {active} active followers = {burst.writes} writes in "
        f"{burst.seconds:.2f}s, {landed}; publishing took {burst.publish_seconds:.2f}s; "
        f"{redis_calls / burst.writes:.1f} Redis commands/write, "
        f"{burst.redis_usec / burst.writes:.1f} us/write inside Redis commands; "
        f"CPU us/write: {cost}; {describe_cpu(burst.cpu)}"
    )
    fanned_out = [one.fanned_out for one in singles]
    published = [one.published for one in singles]
    figures = [
        Figure(
            scenario=NAME,
            metric=f"feed-cache writes/s, burst fanned out to {active} followers",
            value=burst.per_second,
            unit="/s",
            baseline=baseline.ops_per_second if baseline else None,
            concurrency=PUBLISH_CONCURRENCY,
            notes=burst_notes,
            details={
                "authors": sizes.authors,
                "followers": len(population.followers),
                "active_followers": active,
                "edges_imported_this_run": population.imported,
                "celebrity_threshold": threshold,
                "posts": burst.posts,
                "writes": burst.writes,
                "landed": burst.landed,
                "seconds": round(burst.seconds, 4),
                "publish_seconds": round(burst.publish_seconds, 4),
                "cpu_cores": {name: round(share, 3) for name, share in burst.cpu.items()},
                "cpu_us_per_write": {
                    name: round(us, 2) for name, us in per_write.items() if us is not None
                },
                "redis_calls": burst.redis_calls,
                "redis_usec_in_commands": burst.redis_usec,
            },
        ),
        Figure(
            scenario=NAME,
            metric=f"fan-out of one post to {active} followers",
            value=statistics.median(fanned_out) * 1000,
            unit="ms",
            concurrency=1,
            notes=(
                f"UpdateMedia call to worker drained, median of {len(singles)} "
                f"(max {max(fanned_out) * 1000:.0f} ms); of which publishing (UpdateMedia: "
                f"LWTs, profile, post count, event) p50 {percentile(published, 0.5) * 1000:.0f} ms"
            ),
            details={
                "fanned_out_ms": [round(s * 1000, 2) for s in fanned_out],
                "published_ms": [round(s * 1000, 2) for s in published],
            },
        ),
    ]
    if baseline is not None:
        figures.append(
            Figure(
                scenario=NAME,
                metric=f"redis-benchmark ZADD, pipelined -P {BASELINE_PIPELINE}",
                value=baseline.ops_per_second,
                unit="/s",
                concurrency=50,
                notes=baseline.note
                or (
                    f"{BASELINE_REQUESTS} ZADDs, 50 clients, random keys in db {BASELINE_DB} "
                    f"(flushed after); {describe_cpu(baseline.cpu)}"
                ),
                details={"command": baseline.command, "cpu_cores": baseline.cpu},
            )
        )
    return figures
