"""Versioned, idempotent CQL migrations.

Files ``migrations/NNNN_name.cql`` apply in order; each applied version is recorded
in ``schema_migrations`` with its checksum. Every statement is itself idempotent
(``IF NOT EXISTS``), so a run that died half-way is finished by the next one.
Run: ``python -m pictor.migrations``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pictor.config import Settings
from pictor.cql import CqlSession
from pictor.logs import configure_logging

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.cql$")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: tuple[str, ...]
    checksum: str

    @classmethod
    def load(cls, path: Path) -> Migration:
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: expected NNNN_name.cql")
        text = path.read_text()
        code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
        statements = tuple(s.strip() for s in code.split(";") if s.strip())
        checksum = hashlib.sha256(text.encode()).hexdigest()
        return cls(int(match[1]), match[2], statements, checksum)


def pending_migrations() -> list[Migration]:
    migrations = [Migration.load(path) for path in sorted(MIGRATIONS_DIR.glob("*.cql"))]
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {MIGRATIONS_DIR}")
    return migrations


async def migrate(settings: Settings) -> int:
    """Creates the keyspace if needed and applies what is not yet applied.

    Returns the schema version now in force.
    """
    keyspace = settings.cql_keyspace
    if not _IDENTIFIER.match(keyspace):
        raise MigrationError(f"invalid keyspace name {keyspace!r}")
    cql = await CqlSession.connect(settings, use_keyspace=False)
    try:
        await cql.execute_ddl(
            f"CREATE KEYSPACE IF NOT EXISTS {keyspace} WITH replication = {settings.cql_replication}"
        )
        await cql.execute_ddl(
            f"CREATE TABLE IF NOT EXISTS {keyspace}.schema_migrations ("
            "version int PRIMARY KEY, name text, checksum text, applied_at timestamp)"
        )
        rows = await cql.read(
            f"SELECT version, checksum FROM {keyspace}.schema_migrations", fresh=True
        )
        applied = {row.version: row.checksum for row in rows}
        await cql.execute_ddl(f"USE {keyspace}")
        current = max(applied, default=0)
        for migration in pending_migrations():
            if migration.version in applied:
                if applied[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"migration {migration.version:04d}_{migration.name} was edited after "
                        "it was applied; add a new migration instead"
                    )
                continue
            log.info("applying migration %04d_%s", migration.version, migration.name)
            for statement in migration.statements:
                await cql.execute_ddl(statement)
            await cql.write(
                f"INSERT INTO {keyspace}.schema_migrations (version, name, checksum, applied_at) "
                "VALUES (?, ?, ?, ?)",
                (migration.version, migration.name, migration.checksum, datetime.now(UTC)),
            )
            current = max(current, migration.version)
        return current
    finally:
        await cql.close()


def main() -> None:
    settings = Settings()
    configure_logging("migrations", settings.log_level)
    version = asyncio.run(migrate(settings))
    log.info("keyspace %s at schema version %d", settings.cql_keyspace, version)


if __name__ == "__main__":
    main()
