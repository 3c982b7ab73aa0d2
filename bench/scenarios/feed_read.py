"""Home feed reads: ``homeFeed(first: 12)`` with the whole post shape (signed rendition
URLs) by wrk for a reader who follows 300 accounts: reads/s, p50/p99, CPU and CQL per
read. Beside it two baselines timed in this process at the same concurrency: fan-out on
read (the newest 12 of each followee from ``posts_by_user``, merged: what the Redis
timeline saves), and the raw data path, the floor (ZRANGE + ``posts_by_id``: no gRPC,
GraphQL, users or URL signing). All three must return the same page.
"""

from __future__ import annotations

import asyncio
import heapq
from typing import Any

from bench.home_feed import PAGE, PROFILED, Reader, checked, read_page, reading, timeline_page
from bench.report import Figure, latency_figures, percentile_figures
from bench.run import BenchRun
from bench.stats import LoadResult, Operation, run_load
from bench.wrk import CONNECTIONS, WrkResult
from harness.waiting import bounded
from pictor.cql import CqlSession
from pictor.redis_client import RedisClient

NAME = "feed_read"
BY_USER = "SELECT author_id, post_id, caption, media FROM posts_by_user WHERE author_id = ? LIMIT ?"
FLOOR = "raw data path (floor): ZRANGE + posts_by_id reads"
FAN_OUT = "fan-out on read:"
BY_ID = "SELECT post_id, author_id, caption, status, media FROM posts_by_id WHERE post_id = ?"


async def run(bench: BenchRun) -> list[Figure]:
    async with reading(bench) as feed:
        reader, sizes = feed.reader, feed.sizes
        baselines = {
            "fan_out_on_read": _fan_out_on_read(feed.cql, reader),
            "floor": _floor(feed.cql, feed.redis, reader),
        }
        page = await read_page(reader)(0)
        same_page = [await path(0) for path in baselines.values()] == [page, page]
        await feed.warm()
        async with bench.profiler.profiling(f"{NAME}: homeFeed", bench.target.pids(*PROFILED)):
            ours = await feed.with_wrk()
        results: dict[str, LoadResult] = {}
        for name, path in baselines.items():
            bench.say(f"{NAME}: {name}, {sizes.reads} reads at concurrency {CONNECTIONS}")
            await bounded(CONNECTIONS, path, range(2 * CONNECTIONS))
            results[name] = await run_load(path, concurrency=CONNECTIONS, count=sizes.reads)
    return _figures(reader, ours, results, same_page)


def _fan_out_on_read(cql: CqlSession, reader: Reader) -> Operation:
    async def read(index: int) -> list[int]:
        partitions = await asyncio.gather(
            *(cql.read(BY_USER, (author, PAGE)) for author in reader.followees)
        )
        # A partition holding only its static post count yields a row with no post.
        rows: list[Any] = [row for rows in partitions for row in rows if row.post_id is not None]
        newest = heapq.nlargest(PAGE, rows, key=lambda row: row.post_id)
        return checked(reader, [row.post_id for row in newest])

    return read


def _floor(cql: CqlSession, client: RedisClient, reader: Reader) -> Operation:
    async def read(index: int) -> list[int]:
        post_ids = [entry.post_id for entry in await timeline_page(client, reader)]
        rows = await asyncio.gather(*(cql.read(BY_ID, (post_id,)) for post_id in post_ids))
        return checked(reader, [found[0].post_id for found in rows if found])

    return read


def _figures(
    reader: Reader, ours: WrkResult, results: dict[str, LoadResult], same_page: bool
) -> list[Figure]:
    fan_out, floor = results["fan_out_on_read"], results["floor"]
    checked = "all three give the same page" if same_page else "THE THREE PAGES DIFFER"
    metric = "homeFeed(first: 12), full post shape"
    rate = ours.rate_figure(
        NAME,
        f"{metric} (reads/s)",
        notes=f"{reader.page} posts of {len(reader.followees)} followees; {checked}; ",
        details={"same_page": same_page},
    )
    same = {"same_page": same_page}
    followees = len(reader.followees)
    return [
        rate,
        *latency_figures(NAME, FLOOR, floor, details=same),
        *latency_figures(
            NAME, f"{FAN_OUT} {followees} x posts_by_user, merged", fan_out, floor, details=same
        ),
        *percentile_figures(
            NAME,
            f"{metric}, vs fan-out on read",
            ours.percentiles,
            fan_out.percentiles,
            concurrency=CONNECTIONS,
        ),
        *percentile_figures(
            NAME,
            f"{metric}, vs floor",
            ours.percentiles,
            floor.percentiles,
            concurrency=CONNECTIONS,
        ),
    ]
