"""Follow and unfollow latency through GraphQL, beside the GraphQL floor measured in
the same run, and logIn latency (argon2id, deliberately slow); all sent by wrk.

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
from bench.wrk import Request, graphql, run_wrk
from harness.accounts import LOG_IN

NAME = "follows"
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id followerCount } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id followerCount } }"
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


async def run(bench: BenchRun) -> list[Figure]:
    counts = SMOKE if bench.smoke else FULL
    pairs = list(permutations(range(counts.users), 2))
    if counts.operations > len(pairs):
        raise ValueError(f"{counts.users} users make only {len(pairs)} distinct follows")
    chosen = random.Random(5).sample(pairs, counts.operations)

    async with bench.graphql() as anonymous:
        bench.say(f"{NAME}: signing up {counts.users} users")
        accounts = await sign_up_many(anonymous, bench.allowance, "bench.follows", counts.users)

    def edges(mutation: str) -> list[Request]:
        return [
            graphql(mutation, {"id": accounts[followee].id}, accounts[follower].client)
            for follower, followee in chosen
        ]

    bench.say(f"{NAME}: {counts.operations} floor queries, follows, unfollows")
    await warm_up(bench, accounts)
    n = counts.operations
    bare = await viewer_floor(bench, accounts, n, PROCESSES, query=TYPENAME)
    floor = await viewer_floor(bench, accounts, n, PROCESSES)
    follows = await run_wrk(bench, edges(FOLLOW), once=True, processes=PROCESSES)
    unfollows = await run_wrk(bench, edges(UNFOLLOW), once=True, processes=PROCESSES)

    bench.say(f"{NAME}: {counts.log_ins} log-ins")
    waited_before = bench.allowance.waited_seconds
    # Reserved up front, so no wait for the rate limit's next minute falls inside.
    await bench.allowance.take(counts.log_ins)
    waited = bench.allowance.waited_seconds - waited_before
    log_ins = await run_wrk(
        bench,
        [
            graphql(
                LOG_IN, {"username": accounts[i % len(accounts)].username, "password": PASSWORD}
            )
            for i in range(counts.log_ins)
        ],
        once=True,
        processes=PROCESSES,
        connections=LOG_IN_CONCURRENCY,
    )

    paced = f"waited {waited:.0f}s for the next minute; " if waited >= 1 else ""
    limit = f"auth limit {bench.allowance.per_minute}/min/address; {paced}"
    return [
        *latency_figures(NAME, "{ __typename } (HTTP+GraphQL, no backend)", bare),
        *latency_figures(NAME, "{ viewer { id } } (floor)", floor, bare),
        *latency_figures(NAME, "follow", follows, floor),
        *latency_figures(NAME, "unfollow", unfollows, floor),
        *latency_figures(NAME, "logIn", log_ins, floor, notes=limit),
    ]
