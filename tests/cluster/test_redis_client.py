"""The cluster client behaves as the single-server one: a burst beyond its connections
waits for a free one (and fails as UNAVAILABLE only after the pool timeout), and the
first command on a pooled connection to a restarted node succeeds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.asyncio.cluster import ClusterNode, NodesManager
from redis.exceptions import ConnectionError

from gateway.config import GatewaySettings
from pictor import events
from pictor.redis_client import ClusterUnavailable, PooledCluster, open_redis
from tests.cluster import redis_nodes
from tests.harness import unique_name, wait_until

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
    # A pooled connection to the key's primary. Held by the replica too: if the restart
    # outlasts the node timeout on a busy machine, the replica takes over with the key.
    await cluster_client.set(key, "kept")
    await cluster_client.replicated(key, ("SET", key, "kept"))
    shard = await redis_nodes.shard_of(cluster_client, key)

    # Back within the cluster's node timeout: no failover. A restarted primary refuses
    # commands (CLUSTERDOWN) until it has heard from the cluster again: back means
    # serving, and every replica in sync.
    redis_nodes.kill(shard.primary)
    redis_nodes.bring_back(shard.primary)

    assert await cluster_client.get(key) == b"kept"


async def as_after_a_failover(client: PooledCluster, key: str) -> ClusterNode:
    """Makes the client's map, as it is after a failover until something corrects it,
    send the key's slot to a node that answers MOVED (there: the old primary, back as
    a replica); returns the node that really serves it."""
    await client.initialize()
    owner = client.get_node_from_key(key)
    assert owner is not None
    elsewhere = next(node for node in client.get_primaries() if node is not owner)
    client.nodes_manager.slots_cache[client.keyslot(key)] = [elsewhere]
    return owner


async def count_in_a_transaction(client: PooledCluster, key: str) -> int:
    """The gateway's rate-limit transaction."""
    async with client.pipeline(transaction=True) as pipe:
        pipe.incr(key)
        pipe.expire(key, 60)
        counted, _ = await pipe.execute()
    return int(counted)


async def test_a_transaction_sent_to_a_node_that_lost_the_slot_follows_it(
    cluster_client: PooledCluster,
) -> None:
    key = unique_name("moved")
    owner = await as_after_a_failover(cluster_client, key)

    assert await count_in_a_transaction(cluster_client, key) == 1
    assert cluster_client.get_node_from_key(key) == owner


async def test_a_transaction_redirected_past_its_tries_is_unavailable(
    cluster_client: PooledCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As while a failover settles: each try is redirected again (the node back as a
    replica hands out the old map for its first seconds). That is UNAVAILABLE, as
    while the slot has no primary, not an internal error."""
    key = unique_name("moving")
    await as_after_a_failover(cluster_client, key)

    async def learns_nothing(_nodes: NodesManager, _redirection: object) -> None:
        pass

    monkeypatch.setattr(NodesManager, "move_slot", learns_nothing)
    with pytest.raises(ClusterUnavailable):
        await count_in_a_transaction(cluster_client, key)


async def test_an_event_sent_to_a_node_that_lost_the_slot_follows_it(
    cluster_client: PooledCluster,
) -> None:
    stream = unique_name("events:moved")
    owner = await as_after_a_failover(cluster_client, stream)

    sent = await events.publish(cluster_client, stream, {"n": "1"})

    entries: Any = await cluster_client.xrange(stream)
    assert [entry_id for entry_id, _ in entries] == [sent.encode()]
    assert cluster_client.get_node_from_key(stream) == owner


async def waits_sent(client: PooledCluster) -> int:
    """WAIT commands the cluster's primaries have served."""
    await client.initialize()
    total = 0
    for primary in client.get_primaries():
        async with redis_nodes.asked_alone(int(primary.port)) as node:
            stats: Any = await node.info("commandstats")
        total += int(stats["cmdstat_wait"]["calls"]) if "cmdstat_wait" in stats else 0
    return total


async def test_messages_settling_at_once_share_one_replication_barrier(
    cluster_client: PooledCluster,
) -> None:
    key = unique_name("settled")
    await cluster_client.set(key, "written")
    await cluster_client.writes_replicated()
    before = await waits_sent(cluster_client)
    assert before >= 1, "WAIT is not counted where this test looks"

    await asyncio.gather(*(cluster_client.writes_replicated() for _ in range(100)))

    primaries = len(cluster_client.get_primaries())
    # One WAIT per primary for the first caller's barrier and at most one more for
    # those who asked while it ran; not one per caller.
    assert await waits_sent(cluster_client) - before <= 2 * primaries
    shard = await redis_nodes.shard_of(cluster_client, key)
    assert await replica_value(shard.replica, key) == b"written"


async def replica_value(port: int, key: str) -> bytes | None:
    async with redis_nodes.asked_alone(port) as node:
        value: Any = await node.get(key)
    return value if value is None else bytes(value)


async def test_a_primary_without_its_replica_does_not_hold_back_settling(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    """A replica lost (for as long as it takes to replace it) must not stop every
    consumer: its primary's writes are then as safe as the primary alone."""
    key = unique_name("alone")
    shard = await redis_nodes.shard_of(cluster_client, key)
    redis_nodes.kill(shard.replica)

    async def alone() -> bool:
        async with redis_nodes.asked_alone(shard.primary) as node:
            replication: Any = await node.info("replication")
        return int(replication["connected_slaves"]) == 0

    await wait_until(alone, within=30, interval=0.1)
    await cluster_client.set(key, "written")
    await cluster_client.writes_replicated()
    redis_nodes.bring_back(shard.replica)


async def test_pooled_transactions_work_at_once_after_a_node_restarts(
    cluster_client: PooledCluster, healthy_afterwards: None
) -> None:
    """As a command does: the gateway's rate-limit transaction met only connections the
    restarted node had closed, one per try, and answered UNAVAILABLE."""
    key = unique_name("restart-tx")
    # Several pooled connections to the key's primary, more than a transaction's tries.
    await asyncio.gather(*(count_in_a_transaction(cluster_client, key) for _ in range(8)))
    await cluster_client.replicated(key, ("SET", key, "8"))
    shard = await redis_nodes.shard_of(cluster_client, key)

    redis_nodes.kill(shard.primary)
    redis_nodes.bring_back(shard.primary)

    assert await count_in_a_transaction(cluster_client, key) == 9
