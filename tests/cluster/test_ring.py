"""The services' CQL sessions on the three-node ring: statements spread over every
node, and a node back from a crash is used again within seconds, while the two others
carry every read and quorum write in between.

What each node coordinated is read from the node itself (``system_views`` tables are
per node), through a connection that talks to that node only.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
from collections.abc import Iterator

import pytest
from cassandra import DriverException
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, Session
from cassandra.policies import WhiteListRoundRobinPolicy

from gateway.config import GatewaySettings
from infra.local import cluster, stack
from pictor.cql import CqlSession
from tests.harness import wait_until

# Ids far above any Snowflake id the test stack makes: rows only this module writes.
_IDS = itertools.count(2**62)


class Node:
    """One node of the ring, asked about itself."""

    def __init__(self, host: str) -> None:
        self.host = host
        self._cluster: Cluster | None = None
        self._session: Session | None = None

    def _connected(self) -> Session:
        if self._session is None:
            self._cluster = Cluster(
                [self.host],
                protocol_version=4,
                execution_profiles={
                    EXEC_PROFILE_DEFAULT: ExecutionProfile(
                        load_balancing_policy=WhiteListRoundRobinPolicy([self.host])
                    )
                },
            )
            self._session = self._cluster.connect()
        return self._session

    async def reads_coordinated(self, keyspace: str, table: str) -> int:
        def count() -> int:
            row = (
                self._connected()
                .execute(
                    "SELECT count FROM system_views.coordinator_read_latency "
                    "WHERE keyspace_name = %s AND table_name = %s",
                    (keyspace, table),
                )
                .one()
            )
            return int(row.count) if row else 0

        return await asyncio.to_thread(count)

    def close(self) -> None:
        """Drops the connection (also when the node went away: a new one is made on
        the next question)."""
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._session = None


@pytest.fixture
def nodes() -> Iterator[dict[str, Node]]:
    opened = {host: Node(host) for host in cluster.CASSANDRA_HOSTS}
    yield opened
    for node in opened.values():
        node.close()


async def reads_by_node(nodes: dict[str, Node], keyspace: str) -> dict[str, int]:
    return {host: await node.reads_coordinated(keyspace, "users") for host, node in nodes.items()}


async def read_user(cql: CqlSession, user_id: int) -> None:
    await cql.read("SELECT user_id FROM users WHERE user_id = ?", (user_id,))


async def test_reads_are_spread_over_the_three_nodes(
    cql: CqlSession, settings: GatewaySettings, nodes: dict[str, Node]
) -> None:
    before = await reads_by_node(nodes, settings.cql_keyspace)
    for user_id in itertools.islice(_IDS, 300):
        await read_user(cql, user_id)
    after = await reads_by_node(nodes, settings.cql_keyspace)
    coordinated = {host: after[host] - before[host] for host in nodes}
    # Each node owns about a third of the token ranges (4 tokens each, drawn at random).
    assert sum(coordinated.values()) >= 300
    assert all(count >= 30 for count in coordinated.values()), coordinated


async def test_a_node_back_from_a_crash_is_used_again_within_seconds(
    cql: CqlSession, settings: GatewaySettings, nodes: dict[str, Node]
) -> None:
    host = cluster.CASSANDRA_HOSTS[-1]
    victim = cluster.cassandra_node(host)
    pid = victim.pid()
    assert pid is not None, f"{victim.name} is not running"
    os.kill(pid, signal.SIGKILL)
    stack.stop(victim)  # reaps it and clears its pid file
    nodes[host].close()

    restarting = asyncio.create_task(asyncio.to_thread(stack.start, victim))
    written, failures = [], []
    # The two others carry every quorum write and every read while it is down.
    while not restarting.done():
        user_id = next(_IDS)
        try:
            await cql.write(
                "INSERT INTO users (user_id, username) VALUES (?, ?)", (user_id, "ring")
            )
            await read_user(cql, user_id)
            written.append(user_id)
        except DriverException as error:
            failures.append(error)
    await restarting
    assert len(written) >= 20
    # At most the statement in flight on the killed node's connection when it died.
    assert len(failures) <= 1, failures

    # Back: the driver uses it again within seconds (reconnection backoff capped at 2 s).
    back = nodes[host]

    async def coordinates_again() -> bool:
        before = await back.reads_coordinated(settings.cql_keyspace, "users")
        for user_id in itertools.islice(_IDS, 30):
            await read_user(cql, user_id)
        return await back.reads_coordinated(settings.cql_keyspace, "users") > before

    await wait_until(coordinates_again, within=15, interval=0.5)
    for user_id in written:
        await cql.write("DELETE FROM users WHERE user_id = ?", (user_id,))
