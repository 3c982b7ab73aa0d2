"""Home feed read latency: ``homeFeed(first: 12)`` with the whole post shape (author,
caption, time, media with signed rendition URLs) through GraphQL, for a reader who
follows 300 accounts, beside two baselines measured in the same run at the same
concurrency:

(a) fan-out on read: a bare asyncio client computes the same page from Cassandra, the
    newest 12 of each followee from ``posts_by_user`` (300 parallel single-partition
    reads), merged, newest 12 kept: what the Redis timeline saves;
(b) the raw data path, the floor: one ZRANGE of the reader's timeline and a read of
    those 12 posts from ``posts_by_id`` (parallel single-partition reads): no gRPC, no
    GraphQL, no user lookups, no URL signing. homeFeed over it is our overhead.

The population is made once and reused (deterministic usernames): 300 authors with 3
READY posts each (through post_svc), and a reader who follows them all (one
ImportFollows), signed up through GraphQL.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from dataclasses import dataclass
from typing import Any

import redis.asyncio as redis

from bench.backend import (
    bounded,
    create_post,
    ensure_users,
    find_user,
    following_of,
    import_follows,
    make_ready,
    users,
    wait_drained,
)
from bench.graphql import LOG_IN, PASSWORD, RATE_LIMITED, GraphQLClient, GraphQLError, sign_up
from bench.report import Figure, milliseconds
from bench.run import BenchRun
from bench.stats import MACHINE, LoadResult, Operation, run_load
from feed_svc.store import Entry, feed_key
from gateway import ids
from pictor.clients import ServiceClients
from pictor.cql import CqlSession

NAME = "feed_read"
PAGE = 12
CONCURRENCY = 8
PUBLISH_CONCURRENCY = 8
HOME_FEED = """
query($first: Int!) {
  homeFeed(first: $first) {
    edges {
      cursor
      node {
        id
        author { username displayName }
        caption
        createdAt
        media {
          status width height blurhash
          renditions { name url width height contentType }
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
"""
BY_USER = "SELECT author_id, post_id, caption, media FROM posts_by_user WHERE author_id = ? LIMIT ?"
BY_ID = "SELECT post_id, author_id, caption, status, media FROM posts_by_id WHERE post_id = ?"
PROCESSES = ("gateway", "feed_svc", "post_svc", "graph_svc", "media_svc", "redis", "cassandra")
# With --profile, the Python processes a GraphQL read goes through.
PROFILED = ("gateway", "feed_svc", "post_svc", "graph_svc", "media_svc")


@dataclass(frozen=True)
class Sizes:
    authors: int
    posts_per_author: int
    reader: str
    reads: int


FULL = Sizes(authors=300, posts_per_author=3, reader="bench.reader", reads=400)
# 12 authors, so a smoke page is full too.
SMOKE = Sizes(authors=12, posts_per_author=1, reader="bench.reader.smoke", reads=8)


@dataclass(frozen=True)
class Reader:
    id: int
    client: GraphQLClient
    followees: list[int]
    # Posts on a full page: 12, or fewer if the followees have fewer posts in all.
    page: int


async def run(bench: BenchRun) -> list[Figure]:
    sizes = SMOKE if bench.smoke else FULL
    settings = bench.target.settings
    processes = bench.target.pids(*PROCESSES)
    clients = ServiceClients.connect(settings)
    client = redis.from_url(settings.redis_url)
    cql = await CqlSession.connect(settings)
    try:
        async with bench.graphql() as anonymous:
            reader = await population(bench, clients, client, anonymous, sizes)
            paths = {
                "graphql": home_feed(reader),
                "fan_out_on_read": _fan_out_on_read(cql, reader),
                "floor": _floor(cql, client, reader),
            }
            pages = {name: await path(0) for name, path in paths.items()}
            same_page = pages["graphql"] == pages["fan_out_on_read"] == pages["floor"]
            bench.say(f"{NAME}: {sizes.reads} reads each way at concurrency {CONCURRENCY}")
            results: dict[str, LoadResult] = {}
            for name, path in paths.items():
                await run_load(path, concurrency=CONCURRENCY, count=2 * CONCURRENCY)
                profiled = (
                    bench.profiler.profiling(f"{NAME}: homeFeed", bench.target.pids(*PROFILED))
                    if name == "graphql"
                    else contextlib.nullcontext()
                )
                async with profiled:
                    results[name] = await run_load(
                        path, concurrency=CONCURRENCY, count=sizes.reads, processes=processes
                    )
    finally:
        await cql.close()
        await clients.close()
        await client.aclose()
    return _figures(reader, results, same_page)


async def population(
    bench: BenchRun,
    clients: ServiceClients,
    client: redis.Redis,
    anonymous: GraphQLClient,
    sizes: Sizes,
) -> Reader:
    """The reader and the authors they follow, made the first time, reused after."""
    bench.say(f"{NAME}: {sizes.authors} authors with {sizes.posts_per_author} READY posts each")
    names = [f"bench.src.{number:03d}" for number in range(1, sizes.authors + 1)]
    authors = await ensure_users(clients, names, bench.say)
    counts = {user.id: user.post_count for user in (await users(clients, authors)).values()}
    wanted = [
        author
        for author in authors
        for _ in range(max(0, sizes.posts_per_author - counts.get(author, 0)))
    ]
    if wanted:
        bench.say(f"{NAME}: publishing {len(wanted)} posts")

        async def publish(author: int) -> None:
            await make_ready(clients, await create_post(clients, author, f"bench feed {author}"))

        await bounded(PUBLISH_CONCURRENCY, publish, wanted)
    total_posts = sum(user.post_count for user in (await users(clients, authors)).values())

    reader_client = await log_in_as(bench, clients, anonymous, sizes.reader)
    reader_id = await find_user(clients, sizes.reader)
    assert reader_id is not None
    missing = sorted(set(authors) - await following_of(clients, reader_id))
    if missing:
        bench.say(f"{NAME}: {sizes.reader} follows {len(missing)} more authors")
        await import_follows(clients, {reader_id: missing})
    # The post and import events have landed; the first read rebuilds the timeline.
    await wait_drained(client)
    return Reader(reader_id, reader_client, authors, min(PAGE, total_posts))


async def log_in_as(
    bench: BenchRun, clients: ServiceClients, anonymous: GraphQLClient, username: str
) -> GraphQLClient:
    """A client with the reader's token: signed up the first time, logged in after."""
    if await find_user(clients, username) is None:
        return (await sign_up(anonymous, bench.allowance, username)).client
    for _ in range(3):
        await bench.allowance.take()
        try:
            payload = await anonymous.execute(LOG_IN, {"username": username, "password": PASSWORD})
        except GraphQLError as error:
            if error.codes != [RATE_LIMITED]:
                raise
            bench.allowance.spent()
            continue
        return anonymous.signed_in(payload["logIn"]["token"])
    raise RuntimeError(f"logging in {username} was rate limited three times")


def checked(reader: Reader, post_ids: list[int]) -> list[int]:
    if len(post_ids) != reader.page:
        raise AssertionError(f"a page of {len(post_ids)} posts, not {reader.page}")
    return post_ids


def home_feed(reader: Reader) -> Operation:
    """One homeFeed page through GraphQL, checked; its post ids."""

    async def read(index: int) -> list[int]:
        page = (await reader.client.execute(HOME_FEED, {"first": PAGE}))["homeFeed"]
        nodes = [edge["node"] for edge in page["edges"]]
        if any(node["media"]["status"] != "READY" or not node["author"] for node in nodes):
            raise AssertionError("a feed post without its author or READY media")
        return checked(reader, [ids.decode("Post", node["id"]) for node in nodes])

    return read


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


def _floor(cql: CqlSession, client: redis.Redis, reader: Reader) -> Operation:
    async def read(index: int) -> list[int]:
        members = await client.zrange(feed_key(reader.id), 0, PAGE - 1, desc=True)
        post_ids = [Entry.parse(member).post_id for member in members]
        rows = await asyncio.gather(*(cql.read(BY_ID, (post_id,)) for post_id in post_ids))
        return checked(reader, [found[0].post_id for found in rows if found])

    return read


def _cpu_per_read(result: LoadResult) -> str:
    """Where a read's CPU went: milliseconds per operation by process, busiest first."""
    if not result.latencies.count:
        return ""
    seconds = result.wall_seconds / result.latencies.count
    shares = sorted(
        ((name, share) for name, share in result.cpu.items() if name != MACHINE),
        key=lambda item: -item[1],
    )
    spent = [f"{name} {share * seconds * 1000:.1f}" for name, share in shares if share >= 0.01]
    return f"CPU ms/read: {', '.join(spent)}; "


def _figures(reader: Reader, results: dict[str, LoadResult], same_page: bool) -> list[Figure]:
    ours, fan_out, floor = results["graphql"], results["fan_out_on_read"], results["floor"]
    checked = "all three give the same page" if same_page else "THE THREE PAGES DIFFER"
    rows: list[tuple[str, LoadResult, LoadResult | None, str | None]] = [
        (
            "raw data path (floor): ZRANGE + posts_by_id reads",
            floor,
            None,
            f"{reader.page} posts of {len(reader.followees)} followees; {checked}; ",
        ),
        (
            f"fan-out on read: {len(reader.followees)} x posts_by_user, merged",
            fan_out,
            floor,
            "",
        ),
        ("homeFeed(first: 12), full post shape, vs fan-out on read", ours, fan_out, ""),
        # The same run again, against the floor: that ratio is our overhead.
        ("homeFeed(first: 12), full post shape, vs floor", ours, floor, None),
    ]
    figures = []
    for metric, result, baseline, notes in rows:
        for percent in (50, 99):
            described = percent == 50 and notes is not None
            figures.append(
                Figure(
                    scenario=NAME,
                    metric=f"{metric} p{percent}",
                    value=milliseconds(result.latencies.p(percent)),
                    unit="ms",
                    baseline=milliseconds(baseline.latencies.p(percent)) if baseline else None,
                    concurrency=result.concurrency,
                    notes=f"{notes}{_cpu_per_read(result)}{result.summary()}" if described else "",
                    details={**result.details(), "same_page": same_page} if described else {},
                )
            )
    return figures
