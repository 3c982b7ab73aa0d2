"""The gateway's /metrics as Prometheus scrapes it: each operation counted by name and
outcome, its latency observed, its errors counted by extensions.code."""

from __future__ import annotations

import httpx

from tests.harness import GraphQLClient, IsolatedStack, error_codes, sign_up, unique_name
from tests.prometheus import sample


def _name(prefix: str) -> str:
    # An operation name this test alone uses (the counters live for the whole session).
    return prefix + unique_name("").replace(".", "_")


async def test_an_operation_is_counted_by_name_and_outcome_with_its_latency(
    test_stack: IsolatedStack, graphql: GraphQLClient
) -> None:
    url = f"{test_stack.gateway_url}/metrics"
    name = _name("Probe")
    ok = {"operation": name, "outcome": "ok"}
    assert await sample(url, "pictor_gateway_operations_total", ok) is None

    # Named in the document only: the request carries no operationName.
    for _ in range(2):
        await graphql.execute(f"query {name} {{ __typename }}")

    assert await sample(url, "pictor_gateway_operations_total", ok) == 2
    assert await sample(url, "pictor_gateway_operation_seconds_count", {"operation": name}) == 2
    slowest = {"operation": name, "le": "+Inf"}
    assert await sample(url, "pictor_gateway_operation_seconds_bucket", slowest) == 2


async def test_errors_are_counted_by_code_and_the_outcome_says_whether_data_came(
    test_stack: IsolatedStack, http: httpx.AsyncClient, graphql: GraphQLClient
) -> None:
    url = f"{test_stack.gateway_url}/metrics"
    person = await sign_up(http)
    anonymous, taken = _name("Anonymous"), _name("Taken")

    feed = await graphql.execute(f"query {anonymous} {{ homeFeed {{ edges {{ cursor }} }} }}")
    assert error_codes(feed) == ["UNAUTHENTICATED"]
    again = await graphql.execute(
        f'mutation {taken} {{ signUp(username: "{person.username}", password: "not their password")'
        " { token } }"
    )
    assert error_codes(again) == ["CONFLICT"]

    for operation, code in ((anonymous, "UNAUTHENTICATED"), (taken, "CONFLICT")):
        failed = {"operation": operation, "outcome": "failed"}
        assert await sample(url, "pictor_gateway_operations_total", failed) == 1
        ok = {**failed, "outcome": "ok"}
        assert not await sample(url, "pictor_gateway_operations_total", ok)
        errors = {"operation": operation, "code": code}
        assert await sample(url, "pictor_gateway_errors_total", errors) == 1
