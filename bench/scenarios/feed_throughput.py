"""Home feed throughput by wrk: ``homeFeed(first: 12)`` with the whole post shape for
feed_read's reader, then ``{ __typename }``: served/s, p50/p99, CPU ms and CQL requests
per request. The floor is the same page read in this process from the raw data path: a
ZRANGE of the reader's timeline, then the posts' and authors' cache entries (a miss read
through post_svc / graph_svc); homeFeed's latency over it is our overhead.

Last, three cold first pages, each after the read-through caches and the reader's feed
keys are wiped by SCAN + UNLINK (not FLUSHDB: that would drop every other user's timeline
and last-seen mark, and the next ``growth`` run would reactivate 100,000 followers).
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from bench import cassandra
from bench.home_feed import (
    PAGE,
    PROCESSES,
    Feed,
    Reader,
    checked,
    read_page,
    reading,
    timeline_page,
)
from bench.machine import other_pictor_processes
from bench.report import Figure, latency_figures, percentile_figures
from bench.run import BenchRun
from bench.scenarios.floor import TYPENAME
from bench.stats import GENERATOR, MACHINE, CpuMeter, LoadResult, Operation, run_load
from bench.wrk import CONNECTIONS, WrkResult, cpu_ms, graphql, run_wrk
from feed_svc.keys import (
    author_posts_key,
    feed_built_key,
    feed_key,
    following_built_key,
    following_key,
    last_seen_key,
    live_key,
    of_everyone,
    pulled_key,
)
from graph_svc.profiles import USER_KEYS, user_key
from harness.bulk import worker_setting
from harness.waiting import bounded
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from post_svc.cache import POST_KEYS, post_key

NAME = "feed_throughput"
TYPENAME_TARGET = 700
# Before and after the runs, the stack is watched this long while we send nothing;
# a part of ours busier than this then is serving someone else.
IDLE_SECONDS = 1.0
BUSY_IDLE_CORES = 0.05
# Every key of each read-through cache (Redis globs), wiped whole for a cold page: the
# author caches' (and their loaded marks) leave the celebrity flags alone.
CACHE_PATTERNS = (POST_KEYS, USER_KEYS, of_everyone(author_posts_key))
READER_KEYS = (
    feed_key,
    feed_built_key,
    following_key,
    following_built_key,
    pulled_key,
    last_seen_key,
    live_key,
)
UNLINK_BATCH = 1000
COLD_TARGET_MS = 200
# First pages after a wipe.
COLD_PAGES = 3
M = TypeVar("M")


@dataclass
class CacheReads:
    """How the floor found its posts and authors: in the cache, or read through."""

    hits: int = 0
    misses: int = 0
    missing: list[str] = field(default_factory=list)

    def note(self) -> str:
        looked_up = self.hits + self.misses
        if not looked_up:
            return ""
        first = f" (first: {self.missing[0]})" if self.missing else ""
        return f"cache hits {self.hits}/{looked_up}{first}; "


@dataclass(frozen=True)
class Cold:
    """First pages after a wipe, each with the read after it and their CQL requests."""

    deleted: list[int]
    cold_seconds: list[float]
    warm_seconds: list[float]
    cold_cql: list[int]
    warm_cql: list[int]
    same_page: bool

    def notes(self) -> str:
        each = ", ".join(f"{s * 1000:.0f}" for s in self.cold_seconds)
        same = "the page read before the wipe" if self.same_page else "A DIFFERENT PAGE"
        return (
            f"target <= {COLD_TARGET_MS} ms; max {max(self.cold_seconds) * 1000:.0f} ms "
            f"(each: {each} ms); {same} every time; CQL requests per cold page "
            f"{'/'.join(map(str, self.cold_cql))}, per warm read after "
            f"{'/'.join(map(str, self.warm_cql))}; {statistics.median(self.deleted):.0f} keys "
            "deleted per wipe (caches whole, the reader's feed keys; streams kept)"
        )

    def details(self) -> dict[str, Any]:
        return {
            "cold_ms": [round(s * 1000, 2) for s in self.cold_seconds],
            "warm_after_ms": [round(s * 1000, 2) for s in self.warm_seconds],
            "cold_cql_requests": self.cold_cql,
            "warm_after_cql_requests": self.warm_cql,
            "keys_deleted": self.deleted,
            "same_page": self.same_page,
            "wiped": [*CACHE_PATTERNS, "the reader's feed keys"],
        }


async def run(bench: BenchRun) -> list[Figure]:
    async with reading(bench) as feed:
        reader, cql, sizes = feed.reader, feed.cql, feed.sizes
        cache = CacheReads()
        floor = _floor(feed.clients, feed.redis, reader, cache)
        # The same 12 posts both ways, before anything is timed.
        same_page = await read_page(reader)(0) == await floor(0)
        before = await _stack_state(bench, cql)
        pages, typename = await _through_gateway(feed)
        bench.say(f"{NAME}: the floor, {sizes.reads} pages at concurrency {CONNECTIONS}")
        await bounded(CONNECTIONS, floor, range(feed.warm_up_pages))
        warm = dataclasses.replace(cache)
        floor_result = await run_load(
            floor,
            concurrency=CONNECTIONS,
            count=sizes.reads,
            processes=bench.target.pids(*PROCESSES),
        )
        timed = CacheReads(cache.hits - warm.hits, cache.misses - warm.misses, cache.missing)
        after = await _stack_state(bench, cql)
        bench.say(f"{NAME}: {COLD_PAGES} cold first pages, each after a wipe")
        keyspace = bench.target.settings.cql_keyspace
        cold = await _cold(cql, feed.redis, reader, keyspace, COLD_PAGES)
    state = {"before": before, "after": after, "same_page": same_page}
    return [
        *_figures(reader, pages, typename, floor_result, timed, state),
        *_cold_figures(cold),
    ]


async def _through_gateway(feed: Feed) -> tuple[WrkResult, WrkResult]:
    """homeFeed as the reader, then ``{ __typename }`` anonymously, each driven by wrk."""
    await feed.warm()
    pages = await feed.with_wrk()
    feed.bench.say(f"{NAME}: {{ __typename }} with wrk, {CONNECTIONS} connections")
    typename = await run_wrk(
        feed.bench,
        [graphql(TYPENAME)],
        seconds=feed.sizes.wrk_seconds,
        processes=PROCESSES,
        cql=feed.cql,
    )
    return pages, typename


async def _stack_state(bench: BenchRun, cql: CqlSession) -> dict[str, Any]:
    """What can make a run differ from another on the same code: the feed settings of
    the running services, Cassandra's compactions, the machine's load, and whether
    the stack works while this benchmark sends it nothing (another client's load)."""
    feed_pid = bench.target.pid("feed_svc")
    threshold = None if feed_pid is None else worker_setting(feed_pid, "celebrity_threshold")
    meter = CpuMeter(bench.target.pids(*PROCESSES))
    meter.start()
    await asyncio.sleep(IDLE_SECONDS)
    idle = {name: round(cores, 3) for name, cores in meter.stop().items() if name != GENERATOR}
    return {
        "idle_cores": idle,
        "celebrity_threshold_feed_svc": threshold,
        "compactions": await cassandra.compactions(cql),
        "loadavg": os.getloadavg(),
        "other_pictor_processes": other_pictor_processes(bench.target),
    }


def _floor(
    clients: ServiceClients, client: RedisClient, reader: Reader, cache: CacheReads
) -> Operation:
    """One ZRANGE, one pipeline of the posts' and authors' cache entries; misses read
    through the owning service."""

    async def read(index: int) -> list[int]:
        entries = await timeline_page(client, reader)
        post_ids = [entry.post_id for entry in entries]
        author_ids = list(dict.fromkeys(entry.author_id for entry in entries))
        post_keys = [post_key(post_id) for post_id in post_ids]
        user_keys = [user_key(author_id) for author_id in author_ids]
        async with client.pipeline(transaction=False) as pipe:
            pipe.mget(post_keys)
            pipe.mget(user_keys)
            cached_posts, cached_users = await pipe.execute()
        posts = _decoded(post_pb2.Post.FromString, dict(zip(post_ids, cached_posts, strict=True)))
        users = _decoded(
            graph_pb2.User.FromString, dict(zip(author_ids, cached_users, strict=True))
        )
        missing_posts = [post_id for post_id in post_ids if post_id not in posts]
        missing_users = [author_id for author_id in author_ids if author_id not in users]
        cache.hits += len(posts) + len(users)
        cache.misses += len(missing_posts) + len(missing_users)
        if not cache.missing and (missing_posts or missing_users):
            cache.missing = [
                *(post_key(post_id) for post_id in missing_posts),
                *(user_key(author_id) for author_id in missing_users),
            ]
        posts_read, users_read = await asyncio.gather(
            _posts(clients, missing_posts), _users(clients, missing_users)
        )
        posts.update(posts_read)
        users.update(users_read)
        if any(posts[post_id].author_id not in users for post_id in post_ids if post_id in posts):
            raise AssertionError("a feed post without its author")
        return checked(reader, [post_id for post_id in post_ids if post_id in posts])

    return read


def _decoded(parse: Callable[[bytes], M], values: Mapping[int, bytes | None]) -> dict[int, M]:
    # A value too short to be a record is a deleted one's tombstone.
    return {
        record_id: parse(value)
        for record_id, value in values.items()
        if value is not None and len(value) > 1
    }


async def _posts(clients: ServiceClients, post_ids: list[int]) -> dict[int, post_pb2.Post]:
    if not post_ids:
        return {}
    response = await clients.post.BatchGetPosts(post_pb2.BatchGetPostsRequest(post_ids=post_ids))
    return {post.id: post for post in response.posts}


async def _users(clients: ServiceClients, user_ids: list[int]) -> dict[int, graph_pb2.User]:
    if not user_ids:
        return {}
    response = await clients.graph.BatchGetUsers(graph_pb2.BatchGetUsersRequest(user_ids=user_ids))
    return {user.id: user for user in response.users}


def _company(state: Mapping[str, Any]) -> str:
    """A warning when the stack was busy without us (another client), or other
    Pictor processes (a test session, another stack) ran beside it."""
    moments = [state["before"], state["after"]]
    busy = {
        f"{name} {cores:.2f}"
        for moment in moments
        for name, cores in moment["idle_cores"].items()
        if name not in (MACHINE, "cassandra") and cores > BUSY_IDLE_CORES
    }
    others = {line for moment in moments for line in moment["other_pictor_processes"]}
    warnings = [f"the stack was busy while we sent nothing (cores: {', '.join(sorted(busy))})"]
    if others:
        modules = sorted({line.split()[1] for line in others})
        warnings.append(f"{len(others)} other Pictor processes ran ({', '.join(modules)})")
    return "".join(f"NOT ALONE: {warning}; " for warning in warnings[0 if busy else 1 :])


def _figures(
    reader: Reader,
    pages: WrkResult,
    typename: WrkResult,
    floor: LoadResult,
    cache: CacheReads,
    state: Mapping[str, Any],
) -> list[Figure]:
    metric = f"homeFeed(first: {PAGE}), full post shape, wrk"
    same = "same page as the floor" if state["same_page"] else "PAGE DIFFERS FROM THE FLOOR"
    return [
        pages.rate_figure(
            NAME,
            f"{metric} (pages/s)",
            notes=f"{reader.page} posts of {len(reader.followees)} followees; {same}; "
            + _company(state),
            details={"stack": dict(state)},
        ),
        *percentile_figures(
            NAME,
            metric,
            pages.percentiles,
            floor.percentiles,
            concurrency=pages.connections,
            suffix=" vs floor",
        ),
        Figure(
            scenario=NAME,
            metric=f"{metric} CQL requests per page",
            value=pages.cql_per_request(),
            unit="CQL/page",
            concurrency=pages.connections,
            notes=", ".join(
                f"{kind} {n}" for kind, n in (pages.cql.counts if pages.cql else {}).items()
            ),
        ),
        Figure(
            scenario=NAME,
            metric=f"{metric} machine CPU per page",
            value=pages.cpu_ms_per_request().get(MACHINE),
            unit="ms",
            concurrency=pages.connections,
        ),
        typename.rate_figure(
            NAME,
            "{ __typename } via gateway, wrk (req/s)",
            notes=f"target >= {TYPENAME_TARGET}/s; ",
        ),
        *latency_figures(
            NAME,
            "floor: ZRANGE + post/user cache reads (Python generator)",
            floor,
            notes=f"{cache.note()}{cpu_ms(floor.cpu_ms_per_operation())}; ",
            details={"cache_hits": cache.hits, "cache_misses": cache.misses},
        ),
    ]


async def _wipe(client: RedisClient, reader_id: int) -> int:
    """Deletes every read-through cache entry and the reader's feed keys; how many."""
    keys: list[bytes | str] = [
        key
        for pattern in CACHE_PATTERNS
        async for key in client.scan_iter(match=pattern, count=UNLINK_BATCH)
    ]
    keys += [key(reader_id) for key in READER_KEYS]
    deleted = 0
    for start in range(0, len(keys), UNLINK_BATCH):
        deleted += await client.unlink(*keys[start : start + UNLINK_BATCH])
    return deleted


async def _cold(
    cql: CqlSession, client: RedisClient, reader: Reader, keyspace: str, repeats: int
) -> Cold:
    """``repeats`` times: wipe, time the first page and the read after it, one request
    each, with the CQL requests each cost; every page must be the one read before."""
    read = read_page(reader)
    expected = await read(0)
    deleted: list[int] = []
    # Per wipe: (seconds, CQL requests) of the first page, then of the read after it.
    timed: list[tuple[float, int]] = []
    pages: list[object] = []
    for _ in range(repeats):
        deleted.append(await _wipe(client, reader.id))
        for _ in ("cold", "warm"):
            before = await cassandra.requests(cql, keyspace)
            began = time.perf_counter()
            pages.append(await read(0))
            seconds = time.perf_counter() - began
            timed.append((seconds, (await cassandra.requests(cql, keyspace) - before).total))
    cold, warm = timed[0::2], timed[1::2]
    return Cold(
        deleted,
        cold_seconds=[seconds for seconds, _ in cold],
        warm_seconds=[seconds for seconds, _ in warm],
        cold_cql=[requests for _, requests in cold],
        warm_cql=[requests for _, requests in warm],
        same_page=all(page == expected for page in pages),
    )


def _cold_figures(cold: Cold) -> list[Figure]:
    metric = f"homeFeed(first: {PAGE}), caches wiped"
    first = f"{metric}: first page"
    return [
        Figure(
            NAME,
            f"{first}, median of {len(cold.cold_seconds)}",
            statistics.median(cold.cold_seconds) * 1000,
            "ms",
            concurrency=1,
            notes=cold.notes(),
            details=cold.details(),
        ),
        Figure(NAME, f"{first}, max", max(cold.cold_seconds) * 1000, "ms", concurrency=1),
        Figure(
            NAME,
            f"{first} CQL requests, median",
            statistics.median(cold.cold_cql),
            "CQL/page",
            concurrency=1,
        ),
        Figure(
            NAME,
            f"{metric}: the next read (warm), median",
            statistics.median(cold.warm_seconds) * 1000,
            "ms",
            concurrency=1,
        ),
    ]
