"""Fixtures of the cluster tests (``make test-cluster``: the session runs on the
cluster topology, with a Redis Cluster of its own whose nodes these tests kill)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from gateway.config import GatewaySettings
from infra.local import stack
from pictor.redis_client import PooledCluster, open_redis
from tests.cluster.redis_nodes import NODES


@pytest.fixture
async def cluster_client(settings: GatewaySettings) -> AsyncIterator[PooledCluster]:
    client = open_redis(settings)
    assert isinstance(client, PooledCluster), "the session is not on the cluster topology"
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def healthy_afterwards(settings: GatewaySettings) -> Iterator[None]:
    """A test that kills nodes leaves the cluster whole for the next one."""
    yield
    for part in NODES.nodes():
        stack.start(part)
    NODES.form()
