"""The home feed the feed scenarios read: ``homeFeed(first: 12)`` with the whole post
shape for a reader who follows many authors (made once, reused: deterministic names),
and one wrk run of it with the CQL requests Cassandra coordinated meanwhile."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bench.accounts import signed_in
from bench.backend import connected, import_users
from bench.run import BenchRun
from bench.stats import Operation
from bench.wrk import CONNECTIONS, WrkResult, graphql, run_wrk
from feed_svc import keys as feed_keys
from feed_svc.entries import Entry
from harness import bulk
from harness.accounts import find_user
from harness.events import settle_feed_worker
from harness.graphql import GraphQLClient
from harness.waiting import bounded
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.redis_client import RedisClient

PAGE = 12
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
# The renditions of the bench's READY posts are at media/<post id>/ (backend.ready_media):
# a page's raw post ids, to set beside a baseline's, without decoding opaque GraphQL ids.
RENDITION_OF = re.compile(r"/media/(\d+)/")
# Whose CPU a read costs.
PROCESSES = ("gateway", "feed_svc", "post_svc", "graph_svc", "media_svc", "redis", "cassandra")
# With --profile, the Python processes a GraphQL read goes through.
PROFILED = ("gateway", "feed_svc", "post_svc", "graph_svc", "media_svc")


@dataclass(frozen=True)
class Sizes:
    authors: int
    posts_per_author: int
    reader: str
    # Pages each in-process baseline reads; seconds of each wrk run.
    reads: int
    wrk_seconds: float


FULL = Sizes(authors=300, posts_per_author=3, reader="bench.reader", reads=400, wrk_seconds=20)
# 12 authors, so a smoke page is full too.
SMOKE = Sizes(authors=12, posts_per_author=1, reader="bench.reader.smoke", reads=8, wrk_seconds=2)


@dataclass(frozen=True)
class Reader:
    id: int
    client: GraphQLClient
    followees: list[int]
    # Posts on a full page: 12, or fewer if the followees have fewer posts in all.
    page: int


async def population(
    bench: BenchRun,
    clients: ServiceClients,
    client: RedisClient,
    anonymous: GraphQLClient,
    sizes: Sizes,
) -> Reader:
    """The reader and the authors they follow, made the first time, reused after."""
    bench.say(f"{sizes.authors} authors with {sizes.posts_per_author} READY posts each")
    names = [f"bench.src.{number:03d}" for number in range(1, sizes.authors + 1)]
    authors = await import_users(clients, names)
    await bulk.publish_missing(clients, authors, sizes.posts_per_author, "bench feed", bench.say)
    total_posts = sum(user.post_count for user in (await bulk.users(clients, authors)).values())
    reader_client = await signed_in(clients, bench.allowance, anonymous, sizes.reader)
    reader_id = await find_user(clients, sizes.reader)
    assert reader_id is not None
    missing = sorted(set(authors) - await bulk.following_of(clients, reader_id))
    if missing:
        bench.say(f"{sizes.reader} follows {len(missing)} more authors")
        await bulk.import_follows(clients, {reader_id: missing})
    # The post and import events have landed; the first read rebuilds the timeline.
    await settle_feed_worker(client)
    return Reader(reader_id, reader_client, authors, min(PAGE, total_posts))


async def timeline_page(client: RedisClient, reader: Reader) -> list[Entry]:
    """The newest page of the reader's timeline, as feed_svc keeps it."""
    members: list[bytes] = await client.zrange(
        feed_keys.feed_key(reader.id), 0, PAGE - 1, desc=True
    )  # type: ignore[assignment]
    return [Entry.parse(member) for member in members]


@dataclass(frozen=True)
class Feed:
    """What a feed scenario reads with, open for its length."""

    bench: BenchRun
    sizes: Sizes
    clients: ServiceClients
    redis: RedisClient
    cql: CqlSession
    reader: Reader

    @property
    def warm_up_pages(self) -> int:
        return 2 if self.bench.smoke else 4 * CONNECTIONS

    async def warm(self, pages: int | None = None) -> None:
        """The gateway's caches and connections, the services' hydration caches."""
        await bounded(CONNECTIONS, read_page(self.reader), range(pages or self.warm_up_pages))

    async def with_wrk(self, query: str = HOME_FEED, seconds: float | None = None) -> WrkResult:
        """The reader's home feed (``query``) driven by wrk, with its CPU and CQL cost."""
        wrk_seconds = self.sizes.wrk_seconds if seconds is None else seconds
        return await read_with_wrk(self.bench, self.cql, self.reader.client, wrk_seconds, query)


@asynccontextmanager
async def reading(bench: BenchRun, sizes: Sizes | None = None) -> AsyncIterator[Feed]:
    """The reader's feed, at the run's sizes unless told."""
    sizes = sizes or (SMOKE if bench.smoke else FULL)
    cql = await CqlSession.connect(bench.target.settings)
    try:
        async with connected(bench.target) as (clients, client), bench.graphql() as anonymous:
            reader = await population(bench, clients, client, anonymous, sizes)
            yield Feed(bench, sizes, clients, client, cql, reader)
    finally:
        await cql.close()


def checked(reader: Reader, post_ids: list[int]) -> list[int]:
    if len(post_ids) != reader.page:
        raise AssertionError(f"a page of {len(post_ids)} posts, not {reader.page}")
    return post_ids


def read_page(reader: Reader) -> Operation:
    """One homeFeed page through GraphQL, checked; its post ids."""

    async def read(index: int) -> list[int]:
        page = (await reader.client.data(HOME_FEED, {"first": PAGE}))["homeFeed"]
        nodes = [edge["node"] for edge in page["edges"]]
        if any(node["media"]["status"] != "READY" or not node["author"] for node in nodes):
            raise AssertionError("a feed post without its author or READY media")
        urls = [node["media"]["renditions"][0]["url"] for node in nodes]
        return checked(reader, [int(RENDITION_OF.findall(url)[0]) for url in urls])

    return read


async def read_with_wrk(
    bench: BenchRun, cql: CqlSession, client: GraphQLClient, seconds: float, query: str = HOME_FEED
) -> WrkResult:
    """homeFeed as ``client``'s viewer, driven by wrk, with its CPU and CQL cost."""
    bench.say(f"homeFeed with wrk, {CONNECTIONS} connections, {seconds:g} s")
    feed = graphql(query, {"first": PAGE}, client)
    return await run_wrk(bench, [feed], seconds=seconds, processes=PROCESSES, cql=cql)
