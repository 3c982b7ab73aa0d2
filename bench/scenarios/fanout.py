"""Feed-cache writes per second while a burst of posts fans out to authors with 1,000 and
10,000 followers, beside pipelined ZADDs from ``redis-benchmark`` against the same Redis
(the ceiling on this machine); then one post at a time, the same way.

The population is made once and reused (``backend.audience``). The clock runs from the
first UpdateMedia READY until the feed worker has settled; writes are posts x active
followers, each then checked in its timeline. Authors above the feed worker's
``PICTOR_CELEBRITY_THRESHOLD`` would be pulled, not pushed: a full run restarts feed_svc
and feed_worker with a threshold nobody passes (``backend.pushed_authors``).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis

from bench.backend import (
    audience,
    connected,
    create_posts,
    feed_worker_settings,
    landed,
    one_at_a_time,
    one_post_figure,
    publish,
    pushed_authors,
    pushed_note,
)
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import CpuMeter, children_cpu_seconds, describe_cpu
from harness.bulk import PUBLISH_CONCURRENCY
from pictor.clients import ServiceClients
from pictor.redis_client import RedisClient

NAME = "fanout"
PROCESSES = ("feed_worker", "redis", "graph_svc", "post_svc", "cassandra")

# redis-benchmark: pipelined ZADDs to random keys, in a database the stack never uses.
BASELINE_DB = 13
BASELINE_REQUESTS = 1_000_000
BASELINE_PIPELINE = 64
BASELINE_KEYSPACE = 100_000


@dataclass(frozen=True)
class BurstSize:
    followers: int
    authors: int
    posts_per_author: int

    @property
    def posts(self) -> int:
        return self.authors * self.posts_per_author


@dataclass(frozen=True)
class Sizes:
    prefix: str
    bursts: tuple[BurstSize, ...]
    # Posts fanned out one at a time after each burst, by the same authors.
    single_posts: int


# 100 posts x 1,000 and 20 posts x 10,000 followers: 100k and 200k writes.
FULL = Sizes(
    "bench.fan",
    bursts=(BurstSize(1_000, authors=5, posts_per_author=20), BurstSize(10_000, 2, 10)),
    single_posts=5,
)
# The test stack's celebrity threshold is 3: nobody here has more followers.
SMOKE = Sizes(
    "bench.fan.smoke",
    bursts=(BurstSize(2, authors=2, posts_per_author=2), BurstSize(3, 1, 2)),
    single_posts=1,
)


@dataclass(frozen=True)
class Population:
    # Burst size (followers) -> its authors.
    authors: dict[int, list[int]]
    followers: list[int]
    # Followers whose timeline is built and who were seen recently: every push lands.
    active: set[int]

    def reached(self, size: int) -> list[int]:
        return [follower for follower in self.followers[:size] if follower in self.active]


@dataclass(frozen=True)
class Burst:
    size: BurstSize
    active: int
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

    def _per_write(self) -> dict[str, float]:
        found = {
            name: self.cpu_us_per_write(name) for name in ("feed_worker", "redis", "graph_svc")
        }
        return {name: us for name, us in found.items() if us is not None}

    def notes(self) -> str:
        size = self.size
        redis_calls = sum(self.redis_calls.values())
        cost = ", ".join(f"{name} {us:.0f}" for name, us in self._per_write().items())
        landed = (
            "all landed"
            if self.landed == self.writes
            else f"ONLY {self.landed} of them in the timelines"
        )
        return (
            f"{size.posts} posts by {size.authors} authors x {self.active} active followers = "
            f"{self.writes} writes in {self.seconds:.2f}s, {landed}; publishing took "
            f"{self.publish_seconds:.2f}s; {redis_calls / self.writes:.1f} Redis commands/write, "
            f"{self.redis_usec / self.writes:.1f} us/write inside Redis commands; "
            f"CPU us/write: {cost}; {describe_cpu(self.cpu)}"
        )

    def details(self, threshold: int) -> dict[str, Any]:
        return {
            "followers": self.size.followers,
            "authors": self.size.authors,
            "active_followers": self.active,
            "celebrity_threshold": threshold,
            "posts": self.size.posts,
            "writes": self.writes,
            "landed": self.landed,
            "seconds": round(self.seconds, 4),
            "publish_seconds": round(self.publish_seconds, 4),
            "cpu_cores": {name: round(share, 3) for name, share in self.cpu.items()},
            "cpu_us_per_write": {name: round(us, 2) for name, us in self._per_write().items()},
            "redis_calls": self.redis_calls,
            "redis_usec_in_commands": self.redis_usec,
        }


@dataclass(frozen=True)
class Baseline:
    ops_per_second: float | None
    command: list[str]
    cpu: dict[str, float]
    note: str = ""


async def run(bench: BenchRun) -> list[Figure]:
    sizes = SMOKE if bench.smoke else FULL
    threshold, inactive_days = feed_worker_settings(bench.target)
    largest = max(size.followers for size in sizes.bursts)
    results: list[tuple[Burst, list[tuple[float, float]]]] = []
    async with (
        connected(bench.target) as (clients, client),
        pushed_authors(bench, threshold, largest) as restart,
    ):
        population = await _population(bench, clients, client, sizes, inactive_days)
        for size in sizes.bursts:
            burst = await _burst(bench, clients, client, size, population)
            bench.say(f"{NAME}: {sizes.single_posts} posts fanned out one at a time")
            authors = population.authors[size.followers]
            timed, _ = await one_at_a_time(
                clients, client, authors, sizes.single_posts, "bench single"
            )
            results.append((burst, timed))
    baseline = None if bench.smoke else await _redis_benchmark(bench)
    return _figures(results, baseline, threshold, restart)


async def _population(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    sizes: Sizes,
    inactive_days: float,
) -> Population:
    largest = max(size.followers for size in sizes.bursts)
    bench.say(
        f"{NAME}: {largest} followers; authors followed by "
        f"{', '.join(str(size.followers) for size in sizes.bursts)}"
    )
    authors = {
        f"{sizes.prefix}.a{size.followers}.{number:02d}": size.followers
        for size in sizes.bursts
        for number in range(1, size.authors + 1)
    }
    names = [f"{sizes.prefix}.{number:04d}" for number in range(1, largest + 1)]
    followers, ids, active = await audience(bench, clients, client, names, authors, inactive_days)
    by_size: dict[int, list[int]] = {}
    for name, size in authors.items():
        by_size.setdefault(size, []).append(ids[name])
    return Population(by_size, followers, active)


async def _burst(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    size: BurstSize,
    population: Population,
) -> Burst:
    authors = population.authors[size.followers]
    reached = population.reached(size.followers)
    if not reached:
        raise RuntimeError("no follower is active; nothing would be pushed")
    bench.say(f"{NAME}: burst of {size.posts} posts to {len(reached)} active followers each")
    # Authors take turns, as in a real burst; created beforehand, so only publishing
    # (UpdateMedia READY) is inside the clock.
    posted_by = [authors[index % len(authors)] for index in range(size.posts)]
    posts = await create_posts(clients, client, posted_by, "bench fanout")
    calls_before = await client.info("commandstats")
    meter = CpuMeter(bench.target.pids(*PROCESSES))
    meter.start()
    published, seconds = await publish(clients, client, posts)
    cpu = meter.stop()
    calls, usec = _command_delta(calls_before, await client.info("commandstats"))
    return Burst(
        size=size,
        active=len(reached),
        writes=size.posts * len(reached),
        landed=await landed(client, reached, posts),
        seconds=seconds,
        publish_seconds=published,
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
    results: list[tuple[Burst, list[tuple[float, float]]]],
    baseline: Baseline | None,
    threshold: int,
    restarted: bool,
) -> list[Figure]:
    pushed = pushed_note(threshold, restarted)
    figures = []
    for burst, timed in results:
        figures += [
            _burst_figure(burst, baseline, threshold, pushed),
            one_post_figure(NAME, burst.active, timed),
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


def _burst_figure(burst: Burst, baseline: Baseline | None, threshold: int, pushed: str) -> Figure:
    return Figure(
        scenario=NAME,
        metric=f"feed-cache writes/s, burst to authors with {burst.size.followers} followers",
        value=burst.per_second,
        unit="/s",
        baseline=baseline.ops_per_second if baseline else None,
        concurrency=PUBLISH_CONCURRENCY,
        notes=f"{burst.notes()}; {pushed}",
        details=burst.details(threshold),
    )
