"""How cost grows with the graph: homeFeed by wrk for readers following 10, 100 and 1,000
accounts, and how long one post takes to fan out to 100, 1k, 10k and 100k followers.
Populations are imported once and reused; authors above the feed worker's celebrity
threshold are pushed by restarting it for the run (``backend.pushed_authors``).
"""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from bench.accounts import signed_in
from bench.backend import (
    PUSH_EVERYONE,
    audience,
    connected,
    feed_worker_settings,
    import_users,
    landed,
    one_at_a_time,
    one_post_figure,
    pushed_authors,
    pushed_note,
)
from bench.home_feed import (
    HOME_FEED,
    PAGE,
    read_with_wrk,
)
from bench.report import Figure, percentile_figures
from bench.run import BenchRun
from bench.wrk import WrkResult
from harness import bulk
from harness.events import settle_feed_worker
from harness.graphql import GraphQLClient
from harness.waiting import bounded
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.redis_client import RedisClient

NAME = "growth"
CONCURRENCY = 8
# The readers' p99 should stay within this of the smallest reader's.
P99_SPREAD_TARGET = 1.2
# Caps the fan-out sizes of a full run (e.g. 10000 skips the 100k author); unset: all.
MAX_FOLLOWERS_ENV = "BENCH_GROWTH_MAX_FOLLOWERS"


@dataclass(frozen=True)
class Sizes:
    prefix: str
    # Readers following this many authors (1 READY post each), each read by wrk this
    # many seconds.
    following: tuple[int, ...]
    wrk_seconds: float
    # Authors with this many followers, and posts fanned out one at a time by each.
    followers: tuple[int, ...]
    posts_per_author: int


FULL = Sizes(
    "bench.grow",
    following=(10, 100, 1_000),
    wrk_seconds=10,
    followers=(100, 1_000, 10_000, 100_000),
    posts_per_author=3,
)
# The test stack's celebrity threshold is 3: nobody here has more followers.
SMOKE = Sizes(
    "bench.grow.smoke", following=(2, 3), wrk_seconds=2, followers=(2, 3), posts_per_author=1
)


def _sizes(smoke: bool) -> Sizes:
    if smoke:
        return SMOKE
    cap = os.environ.get(MAX_FOLLOWERS_ENV)
    if not cap:
        return FULL
    kept = tuple(size for size in FULL.followers if size <= int(cap))
    return Sizes(FULL.prefix, FULL.following, FULL.wrk_seconds, kept, FULL.posts_per_author)


# ---------------------------------------------------------------- feed reads


@dataclass(frozen=True)
class ReadRow:
    following: int
    page: int
    load: WrkResult


async def _feed_reads(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    anonymous: GraphQLClient,
    sizes: Sizes,
) -> list[ReadRow]:
    most = max(sizes.following)
    bench.say(f"{NAME}: {most} authors with a READY post, readers of {sizes.following}")
    names = [f"{sizes.prefix}.a{number:04d}" for number in range(1, most + 1)]
    authors = await import_users(clients, names)
    await bulk.publish_missing(clients, authors, 1, "bench growth", bench.say)

    readers: list[tuple[int, int, GraphQLClient]] = []
    for following in sizes.following:
        name = f"{sizes.prefix}.r{following}"
        viewer = await signed_in(clients, bench.allowance, anonymous, name)
        (reader_id,) = await import_users(clients, [name])
        missing = sorted(set(authors[:following]) - await bulk.following_of(clients, reader_id))
        if missing:
            await bulk.import_follows(clients, {reader_id: missing})
        readers.append((following, reader_id, viewer))
    await settle_feed_worker(client)

    target = bench.target
    cql = await CqlSession.connect(target.settings, use_keyspace=False)
    rows = []
    try:
        for following, _, viewer in readers:
            page = min(PAGE, following)

            async def read(_: int, viewer: GraphQLClient = viewer, page: int = page) -> None:
                found = (await viewer.data(HOME_FEED, {"first": PAGE}))["homeFeed"]["edges"]
                if len(found) != page:
                    raise AssertionError(f"a page of {len(found)} posts, not {page}")

            await read(0)  # rebuilds the timeline, and checks the page
            await bounded(CONCURRENCY, read, range(4 * CONCURRENCY))
            bench.say(f"{NAME}: homeFeed following {following}")
            load = await read_with_wrk(bench, cql, viewer, sizes.wrk_seconds)
            await read(0)  # still the same page size after the load
            rows.append(ReadRow(following, page, load))
    finally:
        await cql.close()
    return rows


# ---------------------------------------------------------------- fan-out


@dataclass(frozen=True)
class FanoutRow:
    followers: int
    active: int
    # Seconds from the UpdateMedia call: until it returned, and until drained.
    timed: list[tuple[float, float]]
    landed: int
    writes: int


async def _fanouts(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    sizes: Sizes,
    inactive_days: float,
) -> list[FanoutRow]:
    most = max(sizes.followers)
    bench.say(f"{NAME}: {most} followers, authors followed by {sizes.followers}")
    names = [f"{sizes.prefix}.f{number:06d}" for number in range(1, most + 1)]
    authors = {f"{sizes.prefix}.fan{size}": size for size in sizes.followers}
    followers, ids, active = await audience(bench, clients, client, names, authors, inactive_days)
    rows = []
    for name, size in authors.items():
        reached = [follower for follower in followers[:size] if follower in active]
        bench.say(f"{NAME}: {sizes.posts_per_author} posts fanned out to {size} followers")
        timed, posts = await one_at_a_time(
            clients, client, [ids[name]], sizes.posts_per_author, "bench growth"
        )
        found = await landed(client, reached, posts)
        rows.append(FanoutRow(size, len(reached), timed, found, len(reached) * len(posts)))
    return rows


# ---------------------------------------------------------------- the scenario


async def run(bench: BenchRun) -> list[Figure]:
    sizes = _sizes(bench.smoke)
    threshold, inactive_days = feed_worker_settings(bench.target)
    async with connected(bench.target) as (clients, client):
        async with bench.graphql() as anonymous:
            reads = await _feed_reads(bench, clients, client, anonymous, sizes)
        async with pushed_authors(bench, threshold, max(sizes.followers)) as restart:
            fanouts = await _fanouts(bench, clients, client, sizes, inactive_days)
    return _figures(reads, fanouts, threshold, restart)


def _figures(
    reads: list[ReadRow], fanouts: list[FanoutRow], threshold: int, restarted: bool
) -> list[Figure]:
    figures = []
    smallest = reads[0].load
    for row in reads:
        result = row.load
        is_baseline = row is reads[0]
        metric = f"homeFeed(first: 12) following {row.following}, wrk"
        spread = result.p99_seconds / smallest.p99_seconds if smallest.p99_seconds else 0.0
        figures += [
            row.load.rate_figure(
                NAME,
                f"{metric} (pages/s)",
                baseline=None if is_baseline else smallest.per_second,
                notes=f"{row.page} posts a page; baseline: following {reads[0].following}; "
                + ("" if is_baseline else f"p99 {spread:.2f}x (target <= {P99_SPREAD_TARGET}x); "),
                details={"following": row.following, "page": row.page},
            ),
            *percentile_figures(
                NAME,
                metric,
                result.percentiles,
                None if is_baseline else smallest.percentiles,
                concurrency=result.connections,
            ),
        ]
    first = fanouts[0]
    pushed = pushed_note(threshold, restarted)
    for fan in fanouts:
        outcome = "all landed" if fan.landed == fan.writes else f"ONLY {fan.landed} of {fan.writes}"
        median_us = statistics.median(seconds for _, seconds in fan.timed) * 1e6
        figures.append(
            one_post_figure(
                NAME,
                fan.followers,
                fan.timed,
                baseline=None
                if fan is first
                else statistics.median(f for _, f in first.timed) * 1000,
                notes=f"{fan.active} active; {outcome}; "
                f"{median_us / max(fan.active, 1):.1f} us/follower; "
                f"baseline: {first.followers} followers; {pushed}",
                details={
                    "followers": fan.followers,
                    "active_followers": fan.active,
                    "writes": fan.writes,
                    "landed": fan.landed,
                    "celebrity_threshold": threshold,
                    "restarted_with_threshold": PUSH_EVERYONE if restarted else None,
                },
            )
        )
    return figures
