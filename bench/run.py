"""What every scenario is handed: the stack to drive, whether this is a smoke run,
and what the scenarios of one run share (the auth allowance, progress output)."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from bench.accounts import AuthAllowance
from bench.profile import Profiler
from bench.target import Target
from harness.graphql import GraphQLClient

# Generous: a 20 MiB upload or a queue of photos may take a while on a busy machine.
HTTP_TIMEOUT_SECONDS = 60.0


def _to_stderr(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@dataclass
class BenchRun:
    target: Target
    # Tiny counts that exercise every code path in seconds; no figure means anything.
    smoke: bool = False
    say: Callable[[str], None] = _to_stderr
    # Samples the processes of each scenario's timed part when given a folder.
    profiler: Profiler = field(default_factory=Profiler)
    allowance: AuthAllowance = field(init=False)

    def __post_init__(self) -> None:
        self.allowance = AuthAllowance(self.target.settings.auth_rate_limit)

    @asynccontextmanager
    async def graphql(self) -> AsyncIterator[GraphQLClient]:
        """An anonymous client of the target's gateway, with a connection pool large
        enough for any scenario's concurrency."""
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=self.target.gateway_url, timeout=HTTP_TIMEOUT_SECONDS, limits=limits
        ) as http:
            yield GraphQLClient(http)
