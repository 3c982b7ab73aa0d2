"""A second Pictor stack for the test session, and what tests drive it with (the
client, sign-up, ports and waits shared with the benchmarks come from ``harness``).

The datastores are shared with `make up` (started here if they are not running, and
stopped again at the end if this session started them); the test stack keeps its
data apart in its own keyspace, Redis database and bucket. The services and the
gateway run as real processes on free ports, configured through the environment
exactly as in production.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from gateway.config import GatewaySettings
from harness.accounts import SIGN_UP, Person, sign_up, unique_name
from harness.events import settle
from harness.graphql import GraphQLClient
from harness.net import free_port
from harness.subscriptions import Subscription
from harness.waiting import wait_until
from infra.local import graphiql, stack
from pictor.config import ServiceName

# Settings of single services that GatewaySettings does not carry. Hash strength is
# not under test; a cheap argon2 keeps hundreds of sign-ups fast.
SERVICE_ENV = {
    "PICTOR_ARGON2_TIME_COST": "1",
    "PICTOR_ARGON2_MEMORY_KIB": "8192",
    "PICTOR_ARGON2_PARALLELISM": "1",
    # A worker killed mid-job has its message reclaimed after this long.
    "PICTOR_WORKER_CLAIM_IDLE_MS": "1500",
    "PICTOR_WORKER_MAX_DELIVERIES": "3",
    # Low, so a few follows make an author a celebrity (and a few unfollows undo it).
    "PICTOR_CELEBRITY_THRESHOLD": "3",
}

# Processes with a /metrics port of their own (the gateway serves it on its HTTP port).
METERED: tuple[ServiceName, ...] = ("graph", "post", "feed", "media", "media_worker", "feed_worker")

TEST_RUN_DIR = stack.STATE / "test" / "run"
TEST_LOG_DIR = stack.STATE / "test" / "logs"

__all__ = [
    "METERED",
    "SERVICE_ENV",
    "SIGN_UP",
    "TEST_LOG_DIR",
    "TEST_RUN_DIR",
    "GraphQLClient",
    "IsolatedStack",
    "Person",
    "data",
    "error_codes",
    "extra_part",
    "free_port",
    "isolated_settings",
    "one_off_gateway",
    "one_off_graph_svc",
    "one_off_part",
    "settings_env",
    "settle",
    "sign_up",
    "subscribe",
    "unique_name",
    "wait_until",
]


def isolated_settings(**overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {
        "cql_keyspace": "pictor_test",
        "redis_url": "redis://127.0.0.1:6379/15",
        "s3_bucket": "pictor-test",
        "graph_addr": f"127.0.0.1:{free_port()}",
        "post_addr": f"127.0.0.1:{free_port()}",
        "feed_addr": f"127.0.0.1:{free_port()}",
        "media_addr": f"127.0.0.1:{free_port()}",
        "media_worker_addr": f"127.0.0.1:{free_port()}",
        "feed_worker_addr": f"127.0.0.1:{free_port()}",
        **{f"{process}_metrics_port": free_port() for process in METERED},
        "gateway_port": free_port(),
        "shutdown_grace_seconds": 3.0,
        # Tests sign up many users from one address; the limit has a test of its own.
        "auth_rate_limit": 100_000,
        "post_rate_limit": 100_000,
        "follow_rate_limit": 100_000,
        "like_rate_limit": 100_000,
        "comment_rate_limit": 100_000,
        "report_backend_calls": True,
    }
    values.update(overrides)
    return GatewaySettings(**values)


def settings_env(settings: GatewaySettings) -> dict[str, str]:
    """The PICTOR_* environment that makes a process read exactly these settings."""
    env = {}
    for name, value in settings.model_dump().items():
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, (tuple, list)):
            value = json.dumps(list(value))
        env[f"PICTOR_{name.upper()}"] = str(value)
    return {**env, **SERVICE_ENV}


@dataclass
class IsolatedStack:
    settings: GatewaySettings
    log_dir: Path = TEST_LOG_DIR
    run_dir: Path = TEST_RUN_DIR
    parts: dict[str, stack.Part] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return settings_env(self.settings)

    @property
    def gateway_url(self) -> str:
        return stack.gateway_url(self.settings)

    def start(self) -> None:
        graphiql.install()
        for part in stack.applications(self.settings, self.env, self.run_dir, self.log_dir):
            stack.stop(part)  # a leftover from an aborted session
            stack.start(part)
            self.parts[part.name] = part

    def stop(self) -> None:
        for part in reversed(self.parts.values()):
            stack.stop(part)

    def service_part(self, service: ServiceName) -> stack.Part:
        return self.parts[f"{service}_svc"]


# The public contract: the base schema and the extensions the gateway serves
# (privacy.graphql is not served yet).
CONTRACT_DIR = Path(__file__).resolve().parents[2] / "shared" / "contract"
CONTRACT_FILES = ("schema.graphql", "engagement.graphql")


def contract_sdl() -> str:
    """The served part of the contract, as one SDL document (extensions included)."""
    return "\n".join((CONTRACT_DIR / name).read_text() for name in CONTRACT_FILES)


def error_codes(result: Mapping[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in result.get("errors", [])]


def data(result: Mapping[str, Any]) -> dict[str, Any]:
    """The data of a result that must have no errors."""
    assert "errors" not in result, result["errors"]
    payload: dict[str, Any] = result["data"]
    return payload


async def subscribe(
    gateway_url: str, token: str | None, query: str, variables: Mapping[str, Any] | None = None
) -> list[dict[str, Any]]:
    """Runs a subscription until the server completes it; returns every ``next``
    payload (an error message ends it with that payload)."""
    payloads: list[dict[str, Any]] = []
    async with Subscription(gateway_url, token, query, variables) as subscription:
        async with asyncio.timeout(60):
            while True:
                kind, payload = await subscription.receive()
                if kind == "next":
                    payloads.append(payload)
                elif kind == "error":
                    payloads.append({"errors": payload})
                    return payloads
                elif kind == "complete":
                    return payloads


def one_off_part(test_stack: IsolatedStack, name: str, settings: GatewaySettings) -> stack.Part:
    """A service (``graph_svc``...) or the ``gateway`` run with other settings, for one test."""
    module = name.split("-")[0]
    if module == "gateway":
        url = f"{stack.gateway_url(settings)}/readyz"
        ready: Callable[[], bool] = lambda: stack.http_ok(url)  # noqa: E731
    else:
        service = module.removesuffix("_svc")
        # The test stack's process of the same service holds the usual metrics port.
        settings = settings.model_copy(update={f"{service}_metrics_port": free_port()})
        address = settings.service_addr(service)  # type: ignore[arg-type]
        ready = lambda: stack.grpc_serving(address)  # noqa: E731
    return stack.Part(
        name=name,
        command=lambda: [sys.executable, "-m", module],
        ready=ready,
        start_timeout=60,
        env=settings_env(settings),
        run_dir=test_stack.run_dir,
        log_dir=test_stack.log_dir,
    )


@contextmanager
def extra_part(part: stack.Part) -> Iterator[stack.Part]:
    """A process started for one test only."""
    stack.start(part)
    try:
        yield part
    finally:
        stack.stop(part)


@asynccontextmanager
async def one_off_gateway(
    test_stack: IsolatedStack, name: str, settings: GatewaySettings
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway run with ``settings``, on a port of its own, for one test (``name``:
    ``gateway-...``), and an HTTP client of it."""
    settings = settings.model_copy(update={"gateway_port": free_port()})
    with extra_part(one_off_part(test_stack, name, settings)):
        async with httpx.AsyncClient(base_url=stack.gateway_url(settings), timeout=10) as http:
            yield http


@contextmanager
def one_off_graph_svc(
    test_stack: IsolatedStack, name: str, env: Mapping[str, str | None], **overrides: Any
) -> Iterator[str]:
    """A graph_svc behind a gateway of its own, both on the test stack's settings but
    ``overrides``, graph_svc's environment changed by ``env`` (None unsets a variable),
    for one test module; yields the gateway's URL."""
    settings = test_stack.settings.model_copy(
        update={"graph_addr": f"127.0.0.1:{free_port()}", "gateway_port": free_port(), **overrides}
    )
    graph = one_off_part(test_stack, f"graph_svc-{name}", settings)
    changed = {**graph.env, **env}
    graph = dataclasses.replace(graph, env={k: v for k, v in changed.items() if v is not None})
    with extra_part(graph), extra_part(one_off_part(test_stack, f"gateway-{name}", settings)):
        yield stack.gateway_url(settings)
