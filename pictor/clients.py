"""gRPC clients for the services: one channel per service per process, a deadline on
every call, trace context carried in metadata."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from pictor.config import ServiceName, Settings
from pictor.feed.v1 import feed_pb2_grpc
from pictor.graph.v1 import graph_pb2_grpc
from pictor.media.v1 import media_pb2_grpc
from pictor.post.v1 import post_pb2_grpc

_CHANNEL_OPTIONS = [
    # With a dns:/// address resolving to every pod (a headless Service), calls spread
    # over all of them instead of pinning one connection to one pod.
    ("grpc.lb_policy_name", "round_robin"),
    # Must stay above the servers' minimum ping interval (pictor.service), or they GOAWAY.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


class DeadlineInterceptor(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Gives every call that has no deadline of its own a default one.

    Streaming calls (uploads, live feeds) get a longer default than unary ones.
    """

    def __init__(self, unary_seconds: float, stream_seconds: float) -> None:
        self._unary_seconds = unary_seconds
        self._stream_seconds = stream_seconds

    @staticmethod
    def _with_timeout(details: grpc.aio.ClientCallDetails, seconds: float) -> Any:
        if details.timeout is not None:
            return details
        return grpc.aio.ClientCallDetails(
            method=details.method,
            timeout=seconds,
            metadata=details.metadata,
            credentials=details.credentials,
            wait_for_ready=details.wait_for_ready,
        )

    async def intercept_unary_unary(
        self, continuation: Callable[..., Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_timeout(details, self._unary_seconds), request)

    async def intercept_unary_stream(
        self, continuation: Callable[..., Awaitable[Any]], details: Any, request: Any
    ) -> Any:
        return await continuation(self._with_timeout(details, self._stream_seconds), request)

    async def intercept_stream_unary(
        self,
        continuation: Callable[..., Awaitable[Any]],
        details: Any,
        requests: AsyncIterator[Any],
    ) -> Any:
        return await continuation(self._with_timeout(details, self._stream_seconds), requests)

    async def intercept_stream_stream(
        self,
        continuation: Callable[..., Awaitable[Any]],
        details: Any,
        requests: AsyncIterator[Any],
    ) -> Any:
        return await continuation(self._with_timeout(details, self._stream_seconds), requests)


def open_channel(
    address: str, settings: Settings, extra: Sequence[grpc.aio.ClientInterceptor] = ()
) -> grpc.aio.Channel:
    interceptors = [
        *aio_client_interceptors(),
        DeadlineInterceptor(settings.grpc_deadline_seconds, settings.grpc_stream_deadline_seconds),
        *extra,
    ]
    return grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS, interceptors=interceptors)


@dataclass
class ServiceClients:
    """Stubs for every service, over channels opened once per process."""

    channels: dict[ServiceName, grpc.aio.Channel]
    graph: graph_pb2_grpc.GraphServiceStub
    post: post_pb2_grpc.PostServiceStub
    feed: feed_pb2_grpc.FeedServiceStub
    media: media_pb2_grpc.MediaServiceStub

    @classmethod
    def connect(
        cls, settings: Settings, interceptors: Sequence[grpc.aio.ClientInterceptor] = ()
    ) -> ServiceClients:
        names: tuple[ServiceName, ...] = ("graph", "post", "feed", "media")
        channels = {
            name: open_channel(settings.service_addr(name), settings, interceptors)
            for name in names
        }
        return cls(
            channels=channels,
            graph=graph_pb2_grpc.GraphServiceStub(channels["graph"]),
            post=post_pb2_grpc.PostServiceStub(channels["post"]),
            feed=feed_pb2_grpc.FeedServiceStub(channels["feed"]),
            media=media_pb2_grpc.MediaServiceStub(channels["media"]),
        )

    async def serving(self, name: ServiceName, within: float = 1.0) -> bool:
        """True when the service answers its health check with SERVING."""
        stub = health_pb2_grpc.HealthStub(self.channels[name])
        try:
            response = await stub.Check(health_pb2.HealthCheckRequest(), timeout=within)
        except grpc.aio.AioRpcError:
            return False
        return bool(response.status == health_pb2.HealthCheckResponse.SERVING)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
