"""Follow and unfollow latency through GraphQL, beside the GraphQL floor measured in
the same run, and logIn latency (argon2id, deliberately slow).

Every follow makes a new edge and every unfollow removes one: each (follower,
followee) pair is used once, so no call is an idempotent no-op.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from itertools import permutations

from bench.accounts import PASSWORD, sign_up_many
from bench.report import Figure, latency_figures
from bench.run import BenchRun
from bench.scenarios.floor import TYPENAME, viewer_floor, warm_up
from bench.stats import LoadResult, Operation, run_load
from harness.accounts import Person, log_in

NAME = "follows"
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id followerCount } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id followerCount } }"
CONCURRENCY = 8
# One log-in already keeps both cores busy (argon2id, parallelism 4); more at once
# would only queue, so this measures what one costs.
LOG_IN_CONCURRENCY = 1
PROCESSES = ("gateway", "graph_svc", "cassandra")


@dataclass(frozen=True)
class Counts:
    users: int
    operations: int
    log_ins: int


FULL = Counts(users=50, operations=400, log_ins=30)
SMOKE = Counts(users=3, operations=3, log_ins=2)


def _percentile_figures(
    metric: str,
    result: LoadResult,
    baseline: LoadResult | None,
    notes: str = "",
) -> list[Figure]:
    return latency_figures(NAME, metric, result, baseline, notes=notes)


async def run(bench: BenchRun) -> list[Figure]:
    counts = SMOKE if bench.smoke else FULL
    pairs = list(permutations(range(counts.users), 2))
    if counts.operations > len(pairs):
        raise ValueError(f"{counts.users} users make only {len(pairs)} distinct follows")
    chosen = random.Random(5).sample(pairs, counts.operations)
    processes = bench.target.pids(*PROCESSES)

    async with bench.graphql() as anonymous:
        bench.say(f"{NAME}: signing up {counts.users} users")
        accounts = await sign_up_many(anonymous, bench.allowance, "bench.follows", counts.users)

        bench.say(f"{NAME}: {counts.operations} floor queries, follows, unfollows")
        await warm_up(accounts, CONCURRENCY)
        bare = await viewer_floor(
            accounts, counts.operations, CONCURRENCY, processes, query=TYPENAME
        )
        floor = await viewer_floor(accounts, counts.operations, CONCURRENCY, processes)
        follows = await run_load(
            _edges(accounts, chosen, FOLLOW),
            concurrency=CONCURRENCY,
            count=counts.operations,
            processes=processes,
        )
        unfollows = await run_load(
            _edges(accounts, chosen, UNFOLLOW),
            concurrency=CONCURRENCY,
            count=counts.operations,
            processes=processes,
        )

        bench.say(f"{NAME}: {counts.log_ins} log-ins")
        waited_before = bench.allowance.waited_seconds
        # Reserved up front, so no wait for the rate limit's next minute falls inside.
        await bench.allowance.take(counts.log_ins)
        waited = bench.allowance.waited_seconds - waited_before
        log_ins = await run_load(
            lambda index: log_in(anonymous, accounts[index % len(accounts)].username, PASSWORD),
            concurrency=LOG_IN_CONCURRENCY,
            count=counts.log_ins,
            processes=processes,
        )

    limit = bench.allowance.per_minute
    paced = f"waited {waited:.0f}s for the next minute; " if waited >= 1 else ""
    return [
        *_percentile_figures("{ __typename } (HTTP+GraphQL, no backend)", bare, None),
        *_percentile_figures("{ viewer { id } } (floor)", floor, bare),
        *_percentile_figures("follow", follows, floor),
        *_percentile_figures("unfollow", unfollows, floor),
        *_percentile_figures(
            "logIn",
            log_ins,
            floor,
            notes=f"auth limit {limit}/min/address; {paced}",
        ),
    ]


def _edges(accounts: list[Person], pairs: list[tuple[int, int]], mutation: str) -> Operation:
    """One follow or unfollow per index: the pair's follower acts on its followee."""

    async def edge(index: int) -> None:
        follower, followee = pairs[index]
        await accounts[follower].client.data(mutation, {"id": accounts[followee].id})

    return edge
