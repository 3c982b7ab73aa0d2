"""A service that dies and comes back: the callers' channels notice at once, and
calls made while it restarts wait for it (within their deadline) instead of failing;
idempotent calls that meet a dying server are retried."""

from __future__ import annotations

import asyncio
import os
import signal

from infra.local import stack
from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    data,
    extra_part,
    free_port,
    one_off_gateway,
    one_off_part,
    sign_up,
    wait_until,
)

VIEWER = "{ viewer { id username } }"


async def test_no_call_fails_once_a_killed_service_answers_its_health_check_again(
    test_stack: IsolatedStack,
) -> None:
    settings = test_stack.settings.model_copy(update={"graph_addr": f"127.0.0.1:{free_port()}"})
    graph = one_off_part(test_stack, "graph_svc-recovery", settings)
    with extra_part(graph):
        async with one_off_gateway(test_stack, "gateway-recovery", settings) as http:
            person = await sign_up(http, "survivor")
            client = GraphQLClient(http, person.client.token)
            data(await client.execute(VIEWER))

            pid = graph.pid()
            assert pid is not None
            os.kill(pid, signal.SIGKILL)

            async def refused() -> bool:
                return "errors" in await client.execute(VIEWER)

            # The gateway has seen the service gone (its channel is reconnecting).
            await wait_until(refused, within=10, interval=0.05)
            stack.stop(graph)  # reaps the killed process and its pid file
            stack.start(graph)  # returns once graph_svc answers its health check

            results = await asyncio.gather(*(client.execute(VIEWER) for _ in range(40)))
            failed = [result["errors"] for result in results if "errors" in result]
            assert failed == []
