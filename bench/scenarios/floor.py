"""The floor every GraphQL operation stands on: ``{ viewer { id } }`` with a token is
an HTTP round trip, JWT check, parse, validate, execute, and one DataLoader batch
(graph_svc BatchGetUsers, one CQL read). A mutation's ratio to it is what the
mutation costs beyond that."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.stats import LoadResult, run_load
from harness.accounts import Person

VIEWER = "{ viewer { id } }"
# No resolver, no backend: the HTTP + GraphQL cost alone.
TYPENAME = "{ __typename }"


async def viewer_floor(
    accounts: Sequence[Person],
    count: int,
    concurrency: int,
    processes: Mapping[str, int],
    query: str = VIEWER,
) -> LoadResult:
    async def viewer(index: int) -> None:
        await accounts[index % len(accounts)].client.data(query)

    return await run_load(viewer, concurrency=concurrency, count=count, processes=processes)


async def warm_up(accounts: Sequence[Person], concurrency: int) -> None:
    """Opens the client's connections and takes the gateway's first-request costs
    before anything is timed."""
    await viewer_floor(accounts, 4 * concurrency, concurrency, {})
