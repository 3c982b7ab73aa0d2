"""A migration is never changed once committed. A stack that applied it refuses to start
when its file changes (MigrationError: add a new migration instead), and the tests,
which start from an empty keyspace, would never notice: the checksums of the
migrations as first committed are kept in ``pictor/migrations/checksums.txt``."""

from __future__ import annotations

from pictor.migrations import MIGRATIONS_DIR, pending_migrations

RECORDED = MIGRATIONS_DIR / "checksums.txt"


def recorded() -> dict[str, str]:
    lines = RECORDED.read_text().splitlines()
    pairs = (line.split() for line in lines if line.strip() and not line.startswith("#"))
    return {name: checksum for name, checksum in pairs}


def test_no_committed_migration_has_changed_and_each_new_one_is_recorded() -> None:
    found = {f"{m.version:04d}_{m.name}": m.checksum for m in pending_migrations()}
    changed = sorted(name for name, checksum in recorded().items() if found.get(name) != checksum)
    assert changed == [], "changed or removed after it was committed: add a new migration"
    unrecorded = sorted(set(found) - set(recorded()))
    assert unrecorded == [], f"record each new migration's checksum in {RECORDED.name}"
