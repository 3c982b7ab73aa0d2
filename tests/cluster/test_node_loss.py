"""Issue 14's node-loss test: under a steady mix of sign-ups, follows, uploads and feed
reads through the gateway of the cluster topology, one Cassandra node is killed (-9)
and brought back, then the Redis primary that serves the post.published stream.
Nothing acknowledged is lost (every post whose upload was answered reaches READY and
every follower's feed; every follower count equals its list); requests fail only
within a fault's window, and none once the part has been back a few seconds.

Prints, per fault, how long the part was down, its failover window (for Redis: until
the replica was promoted) and the client-visible errors by kind and code."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import httpx

from harness.processes import kill
from infra.local import cluster, stack
from pictor import events
from pictor.redis_client import PooledCluster
from tests.chaos.mixed_load import (
    Fault,
    Ledger,
    every_acknowledged_post_is_ready_and_in_every_feed,
    every_count_equals_its_list,
    pause,
    run_load,
)
from tests.cluster import redis_nodes
from tests.harness import IsolatedStack, wait_until

# Load before the first fault, after each part is back, and at the end, in seconds.
STEADY_SECONDS = 4.0
RECOVERY_SECONDS = 10.0
# Once a part is back, its callers have this long to notice (the CQL driver and the
# Redis cluster client reconnect and re-read the topology).
RECOVERY_GRACE_SECONDS = 3.0
# The Cassandra node stays dead this long: the load meets a ring of two.
CASSANDRA_DOWN_SECONDS = 5.0
LOST_CASSANDRA_NODE = cluster.CASSANDRA_HOSTS[-1]


@dataclass(frozen=True)
class Failover:
    fault: Fault
    # When the cluster served the part's data again without it (Redis: the replica
    # promoted; Cassandra: at once, a quorum of two is left).
    served_again: float


def _lose_cassandra_node() -> Failover:
    part = cluster.cassandra_node(LOST_CASSANDRA_NODE)
    killed = kill(part)
    time.sleep(CASSANDRA_DOWN_SECONDS)  # the outage itself, in a worker thread
    stack.start(part)  # returns once the node answers CQL
    cluster.wait_for_ring()
    return Failover(Fault(part.name, killed, time.monotonic()), served_again=killed)


async def _lose_redis_primary(client: PooledCluster) -> Failover:
    shard = await redis_nodes.shard_of(client, events.POST_PUBLISHED)
    killed = await asyncio.to_thread(kill, redis_nodes.NODES.node(shard.primary))

    async def promoted() -> bool:
        return await redis_nodes.is_primary(shard.replica)

    await wait_until(promoted, within=60, interval=0.1)
    served_again = time.monotonic()
    await asyncio.to_thread(redis_nodes.bring_back, shard.primary)
    fault = Fault(f"redis-{shard.primary} (primary)", killed, time.monotonic())
    return Failover(fault, served_again)


def _report(ledger: Ledger, failovers: list[Failover]) -> list[str]:
    lines = [
        f"node loss: {len(ledger.outcomes)} requests, {len(ledger.people)} sign-ups, "
        f"{len(ledger.follows)} follows and {len(ledger.posts)} uploads acknowledged"
    ]
    for failover in failovers:
        fault = failover.fault
        failed = ledger.failed_between(fault.killed, fault.back + RECOVERY_SECONDS)
        window = max((o.ended for o in failed), default=fault.killed) - fault.killed
        by_kind = Counter(f"{o.kind} {o.code}" for o in failed)
        lines.append(
            f"node loss: {fault.part}: down {fault.back - fault.killed:.1f}s, served again "
            f"after {failover.served_again - fault.killed:.1f}s; client-visible errors for "
            f"{window:.1f}s after the kill: {dict(sorted(by_kind.items())) or 'none'}"
        )
    return lines


async def test_nothing_acknowledged_is_lost_when_a_node_of_each_datastore_dies(
    test_stack: IsolatedStack,
    http: httpx.AsyncClient,
    cluster_client: PooledCluster,
    healthy_afterwards: None,
) -> None:
    ledger = Ledger()
    stopping = asyncio.Event()
    load = asyncio.create_task(run_load(http, ledger, stopping))
    failovers: list[Failover] = []
    try:
        await pause(stopping, STEADY_SECONDS)
        failovers.append(await asyncio.to_thread(_lose_cassandra_node))
        await pause(stopping, RECOVERY_SECONDS)
        failovers.append(await _lose_redis_primary(cluster_client))
        await pause(stopping, RECOVERY_SECONDS)
    finally:
        stopping.set()
        await load
        stack.start(cluster.cassandra_node(LOST_CASSANDRA_NODE))

    print("\n".join(_report(ledger, failovers)))
    faults = [failover.fault for failover in failovers]
    assert ledger.posts, "no upload was acknowledged: the load did not run"
    stray = [
        outcome
        for outcome in ledger.outcomes
        if outcome.code is not None
        and not any(
            fault.killed <= outcome.ended and outcome.started <= fault.back + RECOVERY_GRACE_SECONDS
            for fault in faults
        )
    ]
    # Outside every window: before the first kill, and from a grace after each part
    # was back (the recovery period) to the next kill or the end.
    assert stray == [], "requests failed outside a fault's window"
    await every_acknowledged_post_is_ready_and_in_every_feed(ledger)
    await every_count_equals_its_list(ledger)
