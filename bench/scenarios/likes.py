"""Likes on one hot post, and what the engagement fields cost a feed page.

Hot post: 1,000 people (imported, signed in with tokens the gateway's key signs: a
log-in each would cost an argon2 hash) each like the newest post of the reader's page
once (wrk), then unlike it: per second, p50/p99, and how long after the last answer
``likeCount`` was exact. The post ends at its starting count, so runs repeat.

Feed page: homeFeed by wrk plain and with ``likeCount commentCount viewerHasLiked``.
"""

from __future__ import annotations

import time

from bench.backend import import_users
from bench.home_feed import HOME_FEED, PAGE, PROCESSES, Feed, reading
from bench.report import Figure, latency_figures
from bench.run import BenchRun
from bench.wrk import CONNECTIONS, WrkResult, graphql, run_wrk
from gateway.auth import issue_token
from harness.graphql import GraphQLClient
from harness.waiting import wait_until

NAME = "likes"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { id } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { id } }"
COUNT = "query($id: ID!) { post(id: $id) { likeCount } }"
ENGAGED_FEED = HOME_FEED.replace(
    "caption\n", "caption\n        likeCount commentCount viewerHasLiked\n"
)
CONCURRENCY = 16
FANS = {False: 1000, True: 20}
SETTLE_WITHIN_SECONDS = 120.0


async def run(bench: BenchRun) -> list[Figure]:
    async with reading(bench) as feed, bench.graphql() as anonymous:
        page = await feed.reader.client.data(HOME_FEED, {"first": PAGE})
        post = page["homeFeed"]["edges"][0]["node"]["id"]
        fans = await _fans(bench, feed, anonymous, FANS[bench.smoke])
        start = await _like_count(anonymous, post)
        bench.say(f"{NAME}: {len(fans)} people like one post at once, then unlike it")
        liked, liked_settle = await _everyone(bench, fans, LIKE, post, start + len(fans))
        unliked, unliked_settle = await _everyone(bench, fans, UNLIKE, post, start)

        bench.say(f"{NAME}: homeFeed with wrk, plain then with the engagement fields")
        plain = await _feed(feed, HOME_FEED)
        engaged = await _feed(feed, ENGAGED_FEED)
    return [
        *_mutation_figures("likePost, one hot post", liked, liked_settle, len(fans)),
        *_mutation_figures("unlikePost, one hot post", unliked, unliked_settle, len(fans)),
        *_feed_figures("plain", plain, None),
        *_feed_figures("with likeCount commentCount viewerHasLiked", engaged, plain),
    ]


async def _fans(
    bench: BenchRun, feed: Feed, anonymous: GraphQLClient, count: int
) -> list[GraphQLClient]:
    """``count`` people, made once (deterministic names) and signed in by token: a log-in
    each would cost an argon2 hash."""
    bench.say(f"{NAME}: {count} fans")
    names = [f"bench.fan.{number:04d}" for number in range(count)]
    settings = bench.target.settings
    return [
        anonymous.signed_in(issue_token(fan, settings))
        for fan in await import_users(feed.clients, names)
    ]


async def _like_count(client: GraphQLClient, post: str) -> int:
    return int((await client.data(COUNT, {"id": post}))["post"]["likeCount"])


async def _everyone(
    bench: BenchRun, fans: list[GraphQLClient], mutation: str, post: str, settled_at: int
) -> tuple[WrkResult, float]:
    """Every fan sends ``mutation`` once by wrk, ``CONCURRENCY`` at a time; the load and
    the seconds from its end until the like count reads ``settled_at``."""
    sent = [graphql(mutation, {"id": post}, fan) for fan in fans]
    load = await run_wrk(bench, sent, once=True, processes=PROCESSES, connections=CONCURRENCY)
    ended = time.perf_counter()

    async def exact() -> bool:
        return await _like_count(fans[0], post) == settled_at

    await wait_until(exact, within=SETTLE_WITHIN_SECONDS, interval=0.05)
    return load, time.perf_counter() - ended


async def _feed(feed: Feed, query: str) -> WrkResult:
    await feed.reader.client.data(query, {"first": PAGE})  # caches warm
    return await feed.with_wrk(query)


def _mutation_figures(
    metric: str, load: WrkResult, settle_seconds: float, fans: int
) -> list[Figure]:
    return [
        Figure(
            scenario=NAME,
            metric=f"{metric} (per s)",
            value=load.per_second,
            unit="/s",
            concurrency=load.concurrency,
            notes=f"{fans} different people; {load.summary()}",
            details=load.details(),
        ),
        *latency_figures(NAME, metric, load),
        Figure(
            scenario=NAME,
            metric=f"{metric}: count exact after the last answer",
            value=settle_seconds,
            unit="s",
        ),
    ]


def _feed_figures(shape: str, run: WrkResult, plain: WrkResult | None) -> list[Figure]:
    metric = f"homeFeed(first: {PAGE}) {shape}, wrk"
    baseline = plain.per_second if plain is not None else None
    return [
        run.rate_figure(NAME, f"{metric} (pages/s)", baseline=baseline),
        Figure(
            scenario=NAME,
            metric=f"{metric} p99",
            value=run.p99_seconds * 1000,
            unit="ms",
            baseline=plain.p99_seconds * 1000 if plain is not None else None,
            concurrency=CONNECTIONS,
        ),
        Figure(
            scenario=NAME,
            metric=f"{metric} CQL requests per page",
            value=run.cql_per_request(),
            unit="CQL/page",
            concurrency=CONNECTIONS,
        ),
    ]
