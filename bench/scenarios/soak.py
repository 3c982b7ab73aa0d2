"""Soak: the home feed read at 80% of its capacity (measured first, same run) for ten
minutes, in one-minute slices of wrk paced by Lua ``delay()``, with a post published
and a follow or unfollow every second: served against asked, p99 of the first slice
against the last, failures, resident memory growth per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from dataclasses import dataclass
from typing import Any

from bench.home_feed import HOME_FEED, PAGE, Reader, reading
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import resident_kib
from bench.wrk import CONNECTIONS, WrkResult, graphql, run_wrk
from harness.bulk import create_post, make_ready
from pictor.clients import ServiceClients
from pictor.graph.v1 import graph_pb2

NAME = "soak"
SHARE_OF_CAPACITY = 0.8
PROCESSES = (
    "gateway",
    "feed_svc",
    "post_svc",
    "graph_svc",
    "media_svc",
    "feed_worker",
    "redis",
    "cassandra",
)


@dataclass(frozen=True)
class Durations:
    capacity: float  # seconds of the unpaced measurement
    slice: float  # seconds of each paced slice
    slices: int


FULL_RUN = Durations(capacity=20, slice=60, slices=10)
SMOKE_RUN = Durations(capacity=2, slice=2, slices=2)


@dataclass
class Writes:
    done: int = 0
    failed: int = 0


async def run(bench: BenchRun) -> list[Figure]:
    durations = SMOKE_RUN if bench.smoke else FULL_RUN
    async with reading(bench) as feed:
        reader = feed.reader
        request = functools.partial(
            run_wrk, bench, [graphql(HOME_FEED, {"first": PAGE}, reader.client)]
        )
        await feed.warm()
        bench.say(f"{NAME}: capacity, unpaced, {durations.capacity:g} s")
        capacity = await request(seconds=durations.capacity)
        rate = SHARE_OF_CAPACITY * capacity.per_second
        # Each connection's turn: its share of the rate, less the time a page takes.
        pause_ms = max(0.0, CONNECTIONS / rate - capacity.p50_seconds) * 1000
        pids = bench.target.pids(*PROCESSES)
        memory_before = {name: resident_kib(pid) for name, pid in pids.items()}
        writes = Writes()
        writer = asyncio.create_task(_trickle(feed.clients, reader, writes))
        slices: list[WrkResult] = []
        try:
            for number in range(durations.slices):
                bench.say(
                    f"{NAME}: slice {number + 1} of {durations.slices}, "
                    f"{durations.slice:g} s at {rate:.0f} pages/s"
                )
                paced = await request(
                    seconds=durations.slice, pause_ms=pause_ms, processes=PROCESSES
                )
                slices.append(paced)
                pause_ms = _repaced(pause_ms, paced, rate)
        finally:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        memory_after = {name: resident_kib(pid) for name, pid in pids.items()}
    return Soak(capacity, rate, slices, writes, memory_before, memory_after).figures()


def _repaced(pause_ms: float, paced: WrkResult, rate: float) -> float:
    """The pause that would have asked for ``rate`` in the slice just run: a page
    takes longer under load than unpaced, so the first guess is corrected each slice."""
    achieved = paced.per_second
    if achieved <= 0:
        return pause_ms
    page_ms = CONNECTIONS / achieved * 1000 - pause_ms
    return max(0.0, CONNECTIONS / rate * 1000 - page_ms)


async def _trickle(clients: ServiceClients, reader: Reader, writes: Writes) -> None:
    """A post by one of the reader's followees and a follow or unfollow between two
    others, every second, until cancelled; failures are counted, never raised."""
    poster, follower, followee = reader.followees[:3]
    following = False
    tick = 0
    while True:
        tick += 1
        try:
            await make_ready(clients, await create_post(clients, poster, f"soak {tick}"))
            change = graph_pb2.FollowRequest(follower_id=follower, followee_id=followee)
            if following:
                unfollow = graph_pb2.UnfollowRequest(follower_id=follower, followee_id=followee)
                await clients.graph.Unfollow(unfollow)
            else:
                await clients.graph.Follow(change)
            following = not following
            writes.done += 2
        except Exception:  # counted: the soak reports failed writes
            writes.failed += 1
        await asyncio.sleep(1.0)  # the pace of the trickle, not a wait for anything


@dataclass(frozen=True)
class Soak:
    capacity: WrkResult
    # Pages per second asked for.
    rate: float
    slices: list[WrkResult]
    writes: Writes
    # Resident KiB of each process before and after.
    before: dict[str, int | None]
    after: dict[str, int | None]

    def details(self) -> dict[str, Any]:
        return {
            "capacity_pages_per_second": round(self.capacity.per_second, 1),
            "asked_pages_per_second": round(self.rate, 1),
            "slice_p99_ms": [round(s.p99_seconds * 1000, 1) for s in self.slices],
            "slice_pages_per_second": [round(s.per_second, 1) for s in self.slices],
            "rss_kib_before": self.before,
            "rss_kib_after": self.after,
            "writes_done": self.writes.done,
            "writes_failed": self.writes.failed,
        }

    def memory_growth_kib(self) -> dict[str, int]:
        return {
            name: (self.after[name] or 0) - (kib or 0)
            for name, kib in self.before.items()
            if kib is not None and self.after.get(name) is not None
        }

    def figures(self) -> list[Figure]:
        slices, writes, rate = self.slices, self.writes, self.rate
        served = sum(s.served for s in slices)
        seconds = sum(s.wall_seconds for s in slices)
        failed = sum(s.failed + sum(s.socket_errors.values()) for s in slices)
        growth = self.memory_growth_kib()
        memory = ", ".join(f"{name} {kib / 1024:+.1f}" for name, kib in growth.items())
        p99s = ", ".join(f"{s.p99_seconds * 1000:.0f}" for s in slices)
        metric = f"homeFeed(first: {PAGE}) at {SHARE_OF_CAPACITY:.0%} of capacity"
        return [
            Figure(
                NAME,
                f"{metric}, pages/s over {seconds / 60:.1f} min",
                served / seconds,
                "/s",
                baseline=rate,
                concurrency=CONNECTIONS,
                notes=f"asked {rate:.0f}/s (capacity {self.capacity.per_second:.1f}/s); "
                f"{failed} failed reads; writes {writes.done} done, {writes.failed} failed",
                details=self.details(),
            ),
            Figure(
                NAME,
                f"{metric}, p99 last slice vs first",
                slices[-1].p99_seconds * 1000,
                "ms",
                baseline=slices[0].p99_seconds * 1000,
                concurrency=CONNECTIONS,
                notes=f"each slice's p99 (ms): {p99s}",
            ),
            Figure(
                NAME,
                f"{metric}, failed requests (reads and writes)",
                failed + writes.failed,
                "failed",
                concurrency=CONNECTIONS,
            ),
            Figure(
                NAME,
                f"{metric}, resident memory growth, gateway",
                growth.get("gateway", 0) / 1024,
                "MiB growth",
                concurrency=CONNECTIONS,
                notes=f"MiB after - before, each process: {memory}",
            ),
        ]
