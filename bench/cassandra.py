"""What Cassandra itself says, from its virtual tables (``system_views``): how many
requests it has coordinated for a keyspace, and whether it is busy compacting. Read
server-side, so the figures need nothing from the services and count every client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pictor.cql import CqlSession

# Per table of every keyspace, counts since the node started.
_REQUEST_TABLES = {
    "reads": "coordinator_read_latency",
    "range_reads": "coordinator_scan_latency",
    "writes": "coordinator_write_latency",
}
_SYSTEM_PREFIX = "system"


@dataclass(frozen=True)
class CqlRequests:
    """Requests the node coordinated: for one keyspace by kind, summed over its
    tables, and in all for each other keyspace that is not Cassandra's own (another
    stack on the same node, such as a test session's, competes for it)."""

    counts: dict[str, int]
    other_keyspaces: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def __sub__(self, earlier: CqlRequests) -> CqlRequests:
        return CqlRequests(
            {kind: n - earlier.counts.get(kind, 0) for kind, n in self.counts.items()},
            {
                name: n - earlier.other_keyspaces.get(name, 0)
                for name, n in self.other_keyspaces.items()
            },
        )


async def requests(cql: CqlSession, keyspace: str) -> CqlRequests:
    counts = dict.fromkeys(_REQUEST_TABLES, 0)
    others: dict[str, int] = {}
    for kind, table in _REQUEST_TABLES.items():
        for row in await cql.read(f"SELECT keyspace_name, count FROM system_views.{table}"):
            if row.keyspace_name == keyspace:
                counts[kind] += row.count
            elif not row.keyspace_name.startswith(_SYSTEM_PREFIX):
                others[row.keyspace_name] = others.get(row.keyspace_name, 0) + row.count
    return CqlRequests(counts, others)


async def compactions(cql: CqlSession) -> dict[str, Any]:
    """Compactions running and waiting: a node busy compacting (after a seed, say)
    serves reads slower and takes CPU from everything else."""
    running = await cql.read(
        "SELECT keyspace_name, table_name, kind FROM system_views.sstable_tasks"
    )
    (pool,) = await cql.read(
        "SELECT pending_tasks, active_tasks FROM system_views.thread_pools WHERE name = ?",
        ("CompactionExecutor",),
    )
    return {
        "active": int(pool.active_tasks),
        "pending": int(pool.pending_tasks),
        "running": [f"{row.kind} {row.keyspace_name}.{row.table_name}" for row in running],
    }
