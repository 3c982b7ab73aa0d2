"""CQL access for asyncio code: scylla-driver's callback futures bridged into awaitables,
statements prepared once, token-aware routing, and the configured consistency levels:
LOCAL_QUORUM writes and LOCAL_ONE reads by default, LOCAL_QUORUM for a read that must see
the writes acknowledged before it (``fresh=True``). On a ring of three replicas a
LOCAL_ONE read may ask the one replica a write has not reached yet."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from cassandra import ConsistencyLevel
from cassandra.cluster import (
    EXEC_PROFILE_DEFAULT,
    Cluster,
    ExecutionProfile,
    ResponseFuture,
    Session,
)
from cassandra.policies import (
    DCAwareRoundRobinPolicy,
    ExponentialReconnectionPolicy,
    TokenAwarePolicy,
)
from cassandra.query import (
    BatchStatement,
    BatchType,
    PreparedStatement,
    SimpleStatement,
    Statement,
)

from pictor.config import Settings

# ScyllaDB speaks protocol v4; Cassandra 5 does too.
_PROTOCOL_VERSION = 4
# A schema change on a loaded ring of three nodes on two cores has been seen to take,
# and to need for agreement, more than the driver's ten seconds.
_DDL_SECONDS = 60
_SCHEMA_AGREEMENT_SECONDS = 60


class SchemaDisagreement(Exception):
    """The nodes of the ring did not come to one schema after a change."""


def _resolve(future: asyncio.Future[Any], result: Any) -> None:
    if not future.done():
        future.set_result(result)


def _reject(future: asyncio.Future[Any], error: BaseException) -> None:
    if not future.done():
        future.set_exception(error)


def _settle(response: ResponseFuture, *, all_pages: bool) -> asyncio.Future[list[Any]]:
    """An asyncio future for the rows of ``response`` (every page, or just the first).

    The driver calls back on its own I/O thread; results cross to the loop with
    ``call_soon_threadsafe``.
    """
    loop = asyncio.get_running_loop()
    settled: asyncio.Future[list[Any]] = loop.create_future()
    rows: list[Any] = []

    def on_page(page: list[Any] | None) -> None:
        # The driver swallows exceptions raised in callbacks; never let one escape,
        # or the awaiting coroutine would wait forever.
        try:
            rows.extend(page or ())
            if all_pages and response.has_more_pages:
                response.start_fetching_next_page()
                return
        except Exception as error:
            loop.call_soon_threadsafe(_reject, settled, error)
            return
        loop.call_soon_threadsafe(_resolve, settled, rows)

    def on_error(error: BaseException) -> None:
        loop.call_soon_threadsafe(_reject, settled, error)

    response.add_callbacks(on_page, on_error)
    return settled


class CqlSession:
    """An open session with a cache of prepared statements."""

    def __init__(self, cluster: Cluster, session: Session, settings: Settings) -> None:
        self._cluster = cluster
        self._session = session
        self._prepared: dict[str, PreparedStatement] = {}
        self._write_cl: int = ConsistencyLevel.name_to_value[settings.cql_write_consistency]
        self._read_cl: int = ConsistencyLevel.name_to_value[settings.cql_read_consistency]
        self._fresh_read_cl: int = ConsistencyLevel.name_to_value[
            settings.cql_fresh_read_consistency
        ]

    @classmethod
    async def connect(cls, settings: Settings, *, use_keyspace: bool = True) -> CqlSession:
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(
                DCAwareRoundRobinPolicy(local_dc=settings.cql_local_dc)
            ),
            consistency_level=ConsistencyLevel.name_to_value[settings.cql_read_consistency],
        )
        cluster = Cluster(
            contact_points=list(settings.cql_hosts),
            port=settings.cql_port,
            protocol_version=_PROTOCOL_VERSION,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            # A node that comes back is used again within seconds (the driver's default
            # backoff grows to ten minutes).
            reconnection_policy=ExponentialReconnectionPolicy(base_delay=0.5, max_delay=2.0),
        )
        keyspace = settings.cql_keyspace if use_keyspace else None
        # connect() blocks on network round trips; keep it off the event loop.
        session = await asyncio.to_thread(cluster.connect, keyspace)
        return cls(cluster, session, settings)

    async def prepare(self, query: str) -> PreparedStatement:
        prepared = self._prepared.get(query)
        if prepared is None:
            prepared = await asyncio.to_thread(self._session.prepare, query)
            self._prepared[query] = prepared
        return prepared

    async def _bind(self, query: str, params: Sequence[Any], consistency: int) -> Statement:
        bound = (await self.prepare(query)).bind(params)
        bound.consistency_level = consistency
        # Lightweight transactions agree within the local datacenter.
        bound.serial_consistency_level = ConsistencyLevel.LOCAL_SERIAL
        return bound

    def _read_consistency(self, fresh: bool) -> int:
        return self._fresh_read_cl if fresh else self._read_cl

    async def read(
        self, query: str, params: Sequence[Any] = (), *, fresh: bool = False
    ) -> list[Any]:
        """Every row the query selects, at the read consistency level (``fresh``: one
        that sees every write acknowledged before this read)."""
        statement = await self._bind(query, params, self._read_consistency(fresh))
        return await _settle(self._session.execute_async(statement), all_pages=True)

    async def read_page(
        self,
        query: str,
        params: Sequence[Any],
        page_size: int,
        paging_state: bytes | None,
        *,
        fresh: bool = False,
    ) -> tuple[list[Any], bytes | None]:
        """One page of rows and the driver's paging state for the next (None at the end)."""
        statement = await self._bind(query, params, self._read_consistency(fresh))
        statement.fetch_size = page_size
        response = self._session.execute_async(statement, paging_state=paging_state)
        rows = await _settle(response, all_pages=False)
        return rows, response._paging_state

    async def write(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """Runs a write at the write consistency level; returns the rows an LWT answers."""
        statement = await self._bind(query, params, self._write_cl)
        return await _settle(self._session.execute_async(statement), all_pages=True)

    async def read_serial(self, query: str, params: Sequence[Any] = ()) -> list[Any]:
        """A linearizable read (LOCAL_SERIAL): sees every committed lightweight transaction."""
        statement = await self._bind(query, params, ConsistencyLevel.LOCAL_SERIAL)
        return await _settle(self._session.execute_async(statement), all_pages=True)

    async def write_batch(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> list[Any]:
        """A logged batch at the write consistency level.

        With conditions (a lightweight transaction) every statement must target the
        same partition; the rows returned say whether it applied and, if not, hold the
        current values of the rows it conditioned on.
        """
        batch = BatchStatement(
            batch_type=BatchType.LOGGED,
            consistency_level=self._write_cl,
            serial_consistency_level=ConsistencyLevel.LOCAL_SERIAL,
        )
        for query, params in statements:
            batch.add(await self.prepare(query), params)
        return await _settle(self._session.execute_async(batch), all_pages=True)

    async def execute_ddl(self, query: str) -> None:
        """A schema change (these cannot be prepared), once every node has it: the next
        statement may run on any node, and the driver gives up waiting for agreement
        after ten seconds with only a warning."""
        statement = SimpleStatement(query, consistency_level=ConsistencyLevel.ALL)
        response = self._session.execute_async(statement, timeout=_DDL_SECONDS)
        await _settle(response, all_pages=True)
        if not response.is_schema_agreed:
            agreed = await asyncio.to_thread(
                self._session.wait_for_schema_agreement, wait_time=_SCHEMA_AGREEMENT_SECONDS
            )
            if not agreed:
                raise SchemaDisagreement(
                    f"nodes still disagree on the schema {_SCHEMA_AGREEMENT_SECONDS} s after: "
                    f"{query}"
                )

    async def close(self) -> None:
        await asyncio.to_thread(self._cluster.shutdown)
