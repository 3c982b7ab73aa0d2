"""Rows of a partition together with their count, kept exactly equal.

The count is a static column of the same partition, changed in one conditional batch
with the row it counts (a single-partition lightweight transaction), so a retry,
a race or a crash can never leave the count different from the rows. Used for
follow edges (graph_svc) and a profile's posts (post_svc).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pictor.cql import CqlSession

# Attempts before giving up when other writers keep moving the count in between.
_CAS_ATTEMPTS = 64
# Rows per conditional batch in bulk inserts (under Cassandra's batch size warning).
_BULK_CHUNK = 50


class CountContention(Exception):
    pass


@dataclass(frozen=True)
class CountedTable:
    table: str
    owner: str  # partition key column
    item: str  # clustering column
    count: str  # static bigint column


class CountedRows:
    def __init__(self, cql: CqlSession, table: CountedTable) -> None:
        self._cql = cql
        self._t = table

    async def add(self, owner: int, item: int, values: Mapping[str, Any]) -> bool:
        """Inserts the row and counts it; False (and no change) if it was there."""
        return await self._change(owner, item, self._insert(owner, item, values), +1)

    async def add_many(self, owner: int, items: Mapping[int, Mapping[str, Any]]) -> int:
        """Inserts many rows into one partition, counted, in conditional batches of
        ``_BULK_CHUNK``; rows already there are skipped. Returns how many were added."""
        t = self._t
        present: set[int] = set()
        wanted = list(items)
        for start in range(0, len(wanted), _BULK_CHUNK):
            chunk = wanted[start : start + _BULK_CHUNK]
            rows = await self._cql.read(
                f"SELECT {t.item} FROM {t.table} WHERE {t.owner} = ? AND {t.item} IN ?",
                (owner, chunk),
            )
            present.update(getattr(row, t.item) for row in rows)
        missing = [item for item in wanted if item not in present]
        added = 0
        for start in range(0, len(missing), _BULK_CHUNK):
            added += await self._add_chunk(
                owner, {i: items[i] for i in missing[start : start + _BULK_CHUNK]}
            )
        return added

    async def _add_chunk(self, owner: int, items: dict[int, Mapping[str, Any]]) -> int:
        t = self._t
        count = await self._current(owner)
        for _ in range(_CAS_ATTEMPTS):
            if not items:
                return 0
            inserts = [self._insert(owner, item, values) for item, values in items.items()]
            rows = await self._cql.write_batch([self._recount(owner, count, len(items)), *inserts])
            if rows[0].applied:
                return len(items)
            # Drop rows someone else added meanwhile; retry with the count as it is now.
            for row in rows:
                items.pop(getattr(row, t.item, None), None)  # type: ignore[arg-type]
            count = next(getattr(row, t.count) for row in rows)
        raise CountContention(f"the {t.count} of {t.table} {owner} kept moving")

    async def remove(self, owner: int, item: int) -> bool:
        """Deletes the row and uncounts it; False (and no change) if it was not there."""
        t = self._t
        delete = f"DELETE FROM {t.table} WHERE {t.owner} = ? AND {t.item} = ? IF EXISTS"
        return await self._change(owner, item, (delete, (owner, item)), -1)

    async def count(self, owner: int) -> int:
        return await self._current(owner) or 0

    async def count_and_version(self, owner: int) -> tuple[int, int]:
        """The count and its write time, read linearizably: a later change has a
        larger version, so receivers can keep the newest report."""
        t = self._t
        rows = await self._cql.read_serial(
            f"SELECT {t.count}, WRITETIME({t.count}) AS version FROM {t.table} "
            f"WHERE {t.owner} = ? LIMIT 1",
            (owner,),
        )
        if not rows or rows[0].version is None:
            return 0, 0
        return getattr(rows[0], t.count) or 0, rows[0].version

    async def _current(self, owner: int) -> int | None:
        t = self._t
        rows = await self._cql.read(
            f"SELECT {t.count} FROM {t.table} WHERE {t.owner} = ? LIMIT 1", (owner,)
        )
        return getattr(rows[0], t.count) if rows else None

    async def _change(
        self, owner: int, item: int, row_statement: tuple[str, Sequence[Any]], delta: int
    ) -> bool:
        t = self._t
        count = await self._current(owner)
        for _ in range(_CAS_ATTEMPTS):
            rows = await self._cql.write_batch([self._recount(owner, count, delta), row_statement])
            if rows[0].applied:
                return True
            # A failed batch returns the rows it conditioned on, as they are now.
            row_there = any(getattr(row, t.item, None) == item for row in rows)
            if row_there == (delta > 0):
                return False
            count = next(getattr(row, t.count) for row in rows)
        raise CountContention(f"the {t.count} of {t.table} {owner} kept moving")

    def _insert(
        self, owner: int, item: int, values: Mapping[str, Any]
    ) -> tuple[str, Sequence[Any]]:
        """The row's insert, applied only if the row is not there yet."""
        t = self._t
        columns = [t.owner, t.item, *values]
        statement = (
            f"INSERT INTO {t.table} ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) IF NOT EXISTS"
        )
        return statement, (owner, item, *values.values())

    def _recount(self, owner: int, count: int | None, delta: int) -> tuple[str, Sequence[Any]]:
        """The count moved by delta, applied only if it is still ``count`` (None: unset)."""
        t = self._t
        statement = f"UPDATE {t.table} SET {t.count} = ? WHERE {t.owner} = ? IF {t.count} = ?"
        return statement, ((count or 0) + delta, owner, count)
