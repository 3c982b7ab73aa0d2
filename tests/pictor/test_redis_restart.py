"""Redis restarts (and comes back empty): the workers reconnect and carry on, and the
first call on each pooled connection succeeds, minutes later too.

Runs against a Redis of its own (started here, killed here), so the shared one
that the rest of the suite and the dev stack use is never touched.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as redis

from feed_svc.keys import WORKER_GROUP as GROUP
from gateway.config import GatewaySettings
from infra.local import stack
from pictor import events
from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    data,
    error_codes,
    extra_part,
    free_port,
    one_off_gateway,
    settings_env,
    sign_up,
    wait_until,
)

LOG_IN = "mutation($u: String!, $p: String!) { logIn(username: $u, password: $p) { token } }"


def private_redis(test_stack: IsolatedStack, port: int) -> stack.Part:
    """A Redis that keeps nothing on disk: a restart comes back empty."""
    return stack.Part(
        name=f"redis-{port}",
        command=lambda: [
            str(stack.install_redis()),
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        ready=lambda: stack._redis_ready(port),
        start_timeout=20,
        env={},
        run_dir=test_stack.run_dir,
        log_dir=test_stack.log_dir,
    )


def restart(part: stack.Part) -> None:
    pid = part.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    stack.stop(part)  # reaps it and clears its pid file
    stack.start(part)


@pytest.fixture
def settings_with_private_redis(
    test_stack: IsolatedStack,
) -> Iterator[tuple[GatewaySettings, stack.Part]]:
    port = free_port()
    settings = test_stack.settings.model_copy(
        update={
            "redis_url": f"redis://127.0.0.1:{port}/0",
            "feed_worker_addr": f"127.0.0.1:{free_port()}",
            "feed_worker_metrics_port": free_port(),
        }
    )
    with extra_part(private_redis(test_stack, port)) as server:
        yield settings, server


async def test_the_feed_worker_reconnects_and_consumes_after_a_redis_restart(
    test_stack: IsolatedStack, settings_with_private_redis: tuple[GatewaySettings, stack.Part]
) -> None:
    settings, server = settings_with_private_redis
    address = settings.feed_worker_addr
    worker = stack.Part(
        name="feed_worker-redis-restart",
        command=lambda: [sys.executable, "-m", "feed_svc.worker"],
        ready=lambda: stack.grpc_serving(address),
        start_timeout=60,
        env=settings_env(settings),
        run_dir=test_stack.run_dir,
        log_dir=test_stack.log_dir,
    )
    client = redis.from_url(settings.redis_url)
    try:
        with extra_part(worker):
            restart(server)

            # An event published after the restart, into a Redis that lost everything.
            message_id = await events.publish(
                client, events.POST_DELETED, {"post_id": 1, "author_id": 1}
            )

            async def consumed() -> bool:
                for group in await client.xinfo_groups(events.POST_DELETED):
                    if group["name"].decode() == GROUP:
                        delivered = group["last-delivered-id"].decode()
                        return bool(delivered == message_id and group["pending"] == 0)
                return False

            await wait_until(consumed, within=20, interval=0.1)
            assert worker.pid() is not None, "the worker died"
    finally:
        await client.aclose()


@pytest.fixture
async def log_in(
    test_stack: IsolatedStack,
    http: httpx.AsyncClient,
    settings_with_private_redis: tuple[GatewaySettings, stack.Part],
) -> AsyncIterator[Callable[[], Awaitable[dict[str, Any]]]]:
    """Logs one person in, as often as called, through a gateway on the private Redis."""
    settings, _ = settings_with_private_redis
    person = await sign_up(http, "regular")
    variables = {"u": person.username, "p": "a fine password"}
    async with one_off_gateway(test_stack, "gateway-private-redis", settings) as gateway:
        client = GraphQLClient(gateway)

        async def logging_in() -> dict[str, Any]:
            return await client.execute(LOG_IN, variables)

        yield logging_in


async def test_pooled_connections_work_at_once_after_a_redis_restart(
    test_stack: IsolatedStack,
    settings_with_private_redis: tuple[GatewaySettings, stack.Part],
    log_in: Callable[[], Awaitable[dict[str, Any]]],
) -> None:
    settings, server = settings_with_private_redis
    for _ in range(5):
        data(await log_in())

    restart(server)

    results = [await log_in() for _ in range(10)]
    assert [result.get("errors") for result in results] == [None] * 10
    assert urlsplit(settings.redis_url).port != urlsplit(test_stack.settings.redis_url).port


async def test_a_redis_outage_is_unavailable_and_ends_when_redis_is_back(
    settings_with_private_redis: tuple[GatewaySettings, stack.Part],
    log_in: Callable[[], Awaitable[dict[str, Any]]],
) -> None:
    _, server = settings_with_private_redis
    data(await log_in())

    stack.stop(server)
    assert error_codes(await log_in()) == ["UNAVAILABLE"]

    stack.start(server)
    data(await log_in())
