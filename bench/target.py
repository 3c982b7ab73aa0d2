"""The stack a benchmark drives: where its gateway answers, how to find each part's
process, and the settings that bound what a scenario may do (auth rate limit, upload
size, how many photos the media worker takes at once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from gateway.config import GatewaySettings
from harness.processes import command_lines
from infra.local import stack
from media_svc.config import MediaSettings


def datastore_pid(marker: str) -> int | None:
    """The pid of the first process whose command line holds ``marker``."""
    found = (pid for pid, line in command_lines().items() if marker in " ".join(line))
    return next(found, None)


@dataclass(frozen=True)
class Target:
    gateway_url: str
    settings: GatewaySettings
    media: MediaSettings
    # A part's pid by its stack name (``gateway``, ``media_svc``...), None if not running.
    part_pid: Callable[[str], int | None]
    # A datastore run as several nodes (the cluster topology's Redis and Cassandra) by
    # its name: each node is metered as a process of its own, found by its pid file.
    nodes: Mapping[str, Sequence[stack.Part]] = field(default_factory=dict)

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
        nodes have others), Redis by the address it serves. The cluster's nodes are
        found by their pid files (``nodes``)."""
        redis = urlsplit(self.settings.redis_url)
        return {
            "cassandra": f"cassandra.storagedir={stack.STATE / 'cassandra'} ",
            "redis": f"redis-server {redis.hostname or '127.0.0.1'}:{redis.port or 6379}",
            "minio": "minio server",
        }

    def pid(self, name: str) -> int | None:
        """A part's pid; a datastore run as several nodes, the first running node's."""
        if name in self.nodes:
            return next(iter(self.pids(name).values()), None)
        marker = self.datastores().get(name)
        return self.part_pid(name) if marker is None else datastore_pid(marker)

    def pids(self, *names: str) -> dict[str, int]:
        """The running ones among the named parts, for a CPU meter; a datastore run as
        several nodes by each node's name (``redis-6381``, ``cassandra-2``...)."""
        found: dict[str, int | None] = {}
        for name in names:
            nodes = self.nodes.get(name)
            found |= {node.name: node.pid() for node in nodes} if nodes else {name: self.pid(name)}
        return {name: pid for name, pid in found.items() if pid is not None}

    def members(self, name: str) -> list[str]:
        """The processes a part runs as, named as ``pids`` names them."""
        nodes = self.nodes.get(name)
        return [node.name for node in nodes] if nodes else [name]

    def ready(self) -> bool:
        return stack.http_ok(f"{self.gateway_url}/readyz")
