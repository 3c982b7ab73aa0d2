"""Every service process: health, reflection, and a graceful stop on SIGTERM."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from infra.local import stack
from pictor.config import ServiceName
from tests.harness import IsolatedStack, extra_part, free_port, one_off_part, wait_until

SERVICES: list[tuple[ServiceName, str]] = [
    ("graph", "pictor.graph.v1.GraphService"),
    ("post", "pictor.post.v1.PostService"),
    ("feed", "pictor.feed.v1.FeedService"),
    ("media", "pictor.media.v1.MediaService"),
]


@pytest.fixture(params=SERVICES, ids=[service for service, _ in SERVICES])
async def service(
    test_stack: IsolatedStack, request: pytest.FixtureRequest
) -> AsyncIterator[tuple[grpc.aio.Channel, str]]:
    """A channel to one service of the test stack, and the service's full name."""
    name, full_name = request.param
    async with grpc.aio.insecure_channel(test_stack.settings.service_addr(name)) as channel:
        yield channel, full_name


async def test_service_answers_its_health_check(service: tuple[grpc.aio.Channel, str]) -> None:
    channel, full_name = service
    health = health_pb2_grpc.HealthStub(channel)
    for name in ("", full_name):
        response = await health.Check(health_pb2.HealthCheckRequest(service=name), timeout=2)
        assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_service(service: tuple[grpc.aio.Channel, str]) -> None:
    channel, full_name = service
    reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
    call = reflection.ServerReflectionInfo(
        iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=2
    )
    names = [
        listed.name async for response in call for listed in response.list_services_response.service
    ]
    assert full_name in names
    assert "grpc.health.v1.Health" in names


async def test_sigterm_drains_then_exits_cleanly(test_stack: IsolatedStack) -> None:
    """On SIGTERM a service reports NOT_SERVING to watchers, stops, and exits 0."""
    settings = test_stack.settings.model_copy(update={"feed_addr": f"127.0.0.1:{free_port()}"})
    part = one_off_part(test_stack, "feed_svc-sigterm", settings)
    with extra_part(part):
        pid = part.pid()
        assert pid is not None
        async with grpc.aio.insecure_channel(settings.feed_addr) as channel:
            watch = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=30
            )
            first = await watch.read()
            assert first.status == health_pb2.HealthCheckResponse.SERVING

            os.kill(pid, signal.SIGTERM)
            update = await watch.read()
            assert update.status == health_pb2.HealthCheckResponse.NOT_SERVING

        async def exited() -> bool:
            return stack.exit_code(part) is not None

        await wait_until(exited, within=settings.shutdown_grace_seconds + 10)
        assert stack.exit_code(part) == 0
