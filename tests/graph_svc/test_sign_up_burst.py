"""A burst of sign-ups at the production password-hashing cost: graph_svc takes what it
can hash within the callers' deadline and tells the rest, at once, to retry later
(RATE_LIMITED with a hint), instead of queueing them until their deadline passes.

The test stack hashes cheaply (tests/harness.py SERVICE_ENV); this test runs its own
graph_svc at the production argon2id cost behind its own gateway, whose deadline for
gRPC calls is short enough that thirty hashes cannot all fit in it on this kind of
machine (about 0.2 s of CPU each, two cores), so the burst is beyond capacity.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.harness import (
    SERVICE_ENV,
    SIGN_UP,
    GraphQLClient,
    IsolatedStack,
    data,
    one_off_graph_svc,
    unique_name,
)

BURST = 30
DEADLINE_SECONDS = 2.0


@pytest.fixture(scope="module")
def production_cost_gateway(test_stack: IsolatedStack) -> Iterator[str]:
    """A gateway and graph_svc hashing passwords at the production cost."""
    # Without the test stack's cheap hashing, graph_svc hashes at its default cost.
    production_cost = {name: None for name in SERVICE_ENV if name.startswith("PICTOR_ARGON2_")}
    with one_off_graph_svc(
        test_stack, "argon2", production_cost, grpc_deadline_seconds=DEADLINE_SECONDS
    ) as gateway_url:
        yield gateway_url


@pytest.fixture
async def anonymous(production_cost_gateway: str) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=production_cost_gateway, timeout=30) as http:
        yield GraphQLClient(http)


async def timed_sign_up(client: GraphQLClient, username: str) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    result = await client.execute(SIGN_UP, {"username": username, "password": "a fine password"})
    return result, time.monotonic() - started


async def test_a_burst_beyond_capacity_is_told_to_retry_never_timed_out(
    anonymous: GraphQLClient,
) -> None:
    names = [unique_name("burst") for _ in range(BURST)]
    answers = await asyncio.gather(*(timed_sign_up(anonymous, name) for name in names))

    signed_up, refused = [], []
    for name, (result, elapsed) in zip(names, answers, strict=True):
        # Every answer comes within the deadline: a success, or a refusal with a hint.
        assert elapsed < DEADLINE_SECONDS, (name, result, elapsed)
        if "errors" not in result:
            signed_up.append(name)
            continue
        [error] = result["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        assert error["extensions"]["retryAfterSeconds"] >= 1, error
        refused.append(name)
    assert signed_up, "the burst took nobody"
    assert refused, "the burst fitted in the deadline: it does not test the limit"

    # A refused sign-up wrote nothing: once the burst is over, the same name is free.
    retried = data(
        await anonymous.execute(SIGN_UP, {"username": refused[0], "password": "a fine password"})
    )
    assert retried["signUp"]["user"]["username"] == refused[0]
