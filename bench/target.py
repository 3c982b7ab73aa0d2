"""The stack a benchmark drives: where its gateway answers, how to find each part's
process, and the settings that bound what a scenario may do (auth rate limit, upload
size, how many photos the media worker takes at once)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gateway.config import GatewaySettings
from infra.local import stack
from media_svc.config import MediaSettings


def datastore_pid(marker: str) -> int | None:
    """The pid of the first process whose command line holds ``marker``."""
    for entry in sorted(Path("/proc").iterdir(), key=lambda path: path.name):
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if marker in command:
            return int(entry.name)
    return None


@dataclass(frozen=True)
class Target:
    gateway_url: str
    settings: GatewaySettings
    media: MediaSettings
    # A part's pid by its stack name (``gateway``, ``media_svc``...), None if not running.
    part_pid: Callable[[str], int | None]

    @classmethod
    def local(cls, gateway_url: str | None = None) -> Target:
        """The stack `make up` runs, configured by this environment's PICTOR_* settings."""
        settings = GatewaySettings()
        parts = {part.name: part for part in stack.applications(settings)}

        def part_pid(name: str) -> int | None:
            part = parts.get(name)
            return part.pid() if part is not None else None

        return cls(gateway_url or stack.gateway_url(settings), settings, MediaSettings(), part_pid)

    def datastores(self) -> dict[str, str]:
        """What names each datastore of this stack in its command line. They may be
        another stack's or a test session's too, so they are found by command line,
        not by pid file: the single node's Cassandra by its data folder (the cluster's
        nodes have others), Redis by the address it serves."""
        redis = urlsplit(self.settings.redis_url)
        return {
            "cassandra": f"cassandra.storagedir={stack.STATE / 'cassandra'} ",
            "redis": f"redis-server {redis.hostname or '127.0.0.1'}:{redis.port or 6379}",
            "minio": "minio server",
        }

    def pid(self, name: str) -> int | None:
        marker = self.datastores().get(name)
        return self.part_pid(name) if marker is None else datastore_pid(marker)

    def pids(self, *names: str) -> dict[str, int]:
        """The running ones among the named parts, for a CPU meter."""
        found = {name: self.pid(name) for name in names}
        return {name: pid for name, pid in found.items() if pid is not None}

    def ready(self) -> bool:
        return stack.http_ok(f"{self.gateway_url}/readyz")
