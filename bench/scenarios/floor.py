"""The floor every GraphQL operation stands on: ``{ viewer { id } }`` with a token is
an HTTP round trip, JWT check, parse, validate, execute, and one DataLoader batch
(graph_svc BatchGetUsers, one CQL read). A mutation's ratio to it, both sent by wrk in
the same run, is what the mutation costs beyond that."""

from __future__ import annotations

from collections.abc import Sequence

from bench.run import BenchRun
from bench.wrk import CONNECTIONS, WrkResult, graphql, run_wrk
from harness.accounts import Person

VIEWER = "{ viewer { id } }"
# No resolver, no backend: the HTTP + GraphQL cost alone.
TYPENAME = "{ __typename }"


async def viewer_floor(
    bench: BenchRun,
    accounts: Sequence[Person],
    count: int,
    processes: Sequence[str] = (),
    query: str = VIEWER,
) -> WrkResult:
    """``count`` queries, the accounts taking turns, each sent once by wrk."""
    requests = [graphql(query, client=accounts[i % len(accounts)].client) for i in range(count)]
    return await run_wrk(bench, requests, once=True, processes=processes)


async def warm_up(bench: BenchRun, accounts: Sequence[Person]) -> None:
    """Opens connections and takes the gateway's first-request costs before anything
    is timed."""
    await viewer_floor(bench, accounts, 4 * CONNECTIONS)
