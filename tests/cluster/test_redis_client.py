"""The cluster client behaves as the single-server one: a burst beyond its connections
waits for a free one (and fails as UNAVAILABLE only after the pool timeout), and the
first command on a pooled connection to a restarted node succeeds."""

from __future__ import annotations

import asyncio

from redis.exceptions import ConnectionError

from gateway.config import GatewaySettings
from pictor.redis_client import PooledCluster, open_redis
from tests.cluster import redis_nodes
from tests.harness import unique_name

BLOCK_MS = 200


def small_client(settings: GatewaySettings, wait_seconds: float) -> PooledCluster:
    client = open_redis(
        settings.model_copy(
            update={"redis_max_connections": 2, "redis_pool_timeout_seconds": wait_seconds}
        )
    )
    assert isinstance(client, PooledCluster)
    return client


async def blocking_reads(client: PooledCluster, count: int) -> list[object]:
    """``count`` reads that each hold a connection for BLOCK_MS, all at once, on keys
    spread over the nodes."""
    keys = [unique_name("nothing") for _ in range(count)]
    return await asyncio.gather(
        *(client.xread({key: "$"}, block=BLOCK_MS) for key in keys), return_exceptions=True
    )


async def test_a_burst_beyond_the_connections_waits_for_them(settings: GatewaySettings) -> None:
    client = small_client(settings, wait_seconds=10)
    try:
        results = await blocking_reads(client, 10)
    finally:
        await client.aclose()
    assert [result for result in results if isinstance(result, Exception)] == []


async def test_a_burst_waiting_longer_than_the_pool_timeout_is_unavailable(
    settings: GatewaySettings,
) -> None:
    client = small_client(settings, wait_seconds=BLOCK_MS / 1000 / 4)
    try:
        results = await blocking_reads(client, 10)
    finally:
        await client.aclose()
    refused = [result for result in results if isinstance(result, Exception)]
    assert refused
    assert all(isinstance(error, ConnectionError) for error in refused), refused


async def test_pooled_connections_work_at_once_after_a_node_restarts(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    key = unique_name("restart")
    await cluster_client.set(key, "kept")  # a pooled connection to the key's primary
    shard = await redis_nodes.shard_of(cluster_client, key)

    # Back within the cluster's node timeout: no failover. A restarted primary refuses
    # commands (CLUSTERDOWN) until it has heard from the cluster again: back means
    # serving, and every replica in sync.
    redis_nodes.kill(shard.primary)
    redis_nodes.bring_back(shard.primary)

    assert await cluster_client.get(key) == b"kept"
