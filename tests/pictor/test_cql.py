"""The CQL schema comes from versioned migrations; the async bridge reads and writes."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from gateway.config import GatewaySettings
from pictor.cql import CqlSession
from pictor.migrations import migrate, pending_migrations


async def test_migrations_record_the_schema_version(cql: CqlSession) -> None:
    rows = await cql.read("SELECT version, name FROM schema_migrations")
    assert sorted(row.version for row in rows) == [m.version for m in pending_migrations()]


async def test_migrating_again_changes_nothing(settings: GatewaySettings, cql: CqlSession) -> None:
    before = await cql.read("SELECT version, applied_at FROM schema_migrations")
    version = await migrate(settings)
    after = await cql.read("SELECT version, applied_at FROM schema_migrations")
    assert version == max(m.version for m in pending_migrations())
    assert sorted(after) == sorted(before)


async def test_round_trip_through_a_migrated_table(cql: CqlSession) -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    await cql.write(
        "INSERT INTO users (user_id, username, display_name, bio, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (424242, "round.trip", "Round Trip", "", created),
    )
    rows = await cql.read("SELECT username, created_at FROM users WHERE user_id = ?", (424242,))
    assert [(row.username, row.created_at.replace(tzinfo=UTC)) for row in rows] == [
        ("round.trip", created)
    ]


async def test_lightweight_transaction_has_one_winner(cql: CqlSession) -> None:
    claim = "INSERT INTO users_by_username (username, user_id) VALUES (?, ?) IF NOT EXISTS"
    results = await asyncio.gather(*(cql.write(claim, ("lwt.race", n)) for n in range(1, 6)))
    applied = [rows[0].applied for rows in results]
    assert applied.count(True) == 1


async def test_read_page_walks_every_row_once(cql: CqlSession) -> None:
    for n in range(7):
        await cql.write(
            "INSERT INTO users_by_username (username, user_id) VALUES (?, ?)", (f"page.{n}", n)
        )
    seen: list[str] = []
    state = None
    while True:
        rows, state = await cql.read_page(
            "SELECT username FROM users_by_username", (), page_size=3, paging_state=state
        )
        seen.extend(row.username for row in rows)
        if state is None:
            break
    page_names = [name for name in seen if name.startswith("page.")]
    assert sorted(page_names) == [f"page.{n}" for n in range(7)]
    assert len(set(seen)) == len(seen)
