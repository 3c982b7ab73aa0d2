"""Fixtures of the cluster tests (``make test-cluster``: the session runs on the
cluster topology, with a Redis Cluster of its own whose nodes these tests kill)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway.config import GatewaySettings
from harness.accounts import PASSWORD
from infra.local import cluster, stack
from pictor.redis_client import PooledCluster, open_redis
from tests.cluster.redis_nodes import NODES
from tests.harness import SIGN_UP, GraphQLClient, unique_name, wait_until

# Once every node is back, how long the services have to serve through them again (the
# CQL driver and the Redis cluster client reconnect within seconds).
SERVING_AGAIN_SECONDS = 60


@pytest.fixture
async def cluster_client(settings: GatewaySettings) -> AsyncIterator[PooledCluster]:
    client = open_redis(settings)
    assert isinstance(client, PooledCluster), "the session is not on the cluster topology"
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def healthy_afterwards(http: httpx.AsyncClient) -> AsyncIterator[None]:
    """A test that kills nodes leaves the datastores whole, and the stack serving
    through them again, for the next one."""
    yield
    await asyncio.to_thread(_every_node_back)
    await wait_until(_serves(http), within=SERVING_AGAIN_SECONDS, interval=0.5)


def _every_node_back() -> None:
    """Each node not running is started; returns once the Redis Cluster is ok with
    every replica in sync and every node of the Cassandra ring is a normal member."""
    for part in NODES.nodes():
        stack.start(part)
    NODES.form()
    for node in cluster.ring():
        stack.start(node)
    cluster.wait_for_ring()


def _serves(http: httpx.AsyncClient) -> Callable[[], Awaitable[bool]]:
    """Whether a sign-up (Cassandra) and the new user's home feed (Redis) succeed
    through the gateway: the services have found the nodes again."""

    async def check() -> bool:
        anonymous = GraphQLClient(http)
        signed_up = await anonymous.execute(
            SIGN_UP, {"username": unique_name("alive"), "password": PASSWORD}
        )
        if "errors" in signed_up:
            return False
        person = anonymous.signed_in(signed_up["data"]["signUp"]["token"])
        feed = await person.execute("{ homeFeed(first: 1) { edges { node { id } } } }")
        return "errors" not in feed

    return check


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that kill nodes run after every other test of the session (in their
    order), so that one leaving a part broken fails alone, not the tests after it."""
    items.sort(key=lambda item: "healthy_afterwards" in getattr(item, "fixturenames", ()))
