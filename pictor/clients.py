"""gRPC clients for the services: one channel per service per process, a deadline on
every call, trace context carried in metadata when traces are exported."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from opentelemetry.instrumentation.grpc import aio_client_interceptors

from pictor.common.v1 import common_pb2
from pictor.config import ServiceName, Settings
from pictor.feed.v1 import feed_pb2_grpc
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.media.v1 import media_pb2_grpc
from pictor.post.v1 import post_pb2_grpc
from pictor.telemetry import traced_rpcs

# graph_svc's largest ListFollowing page: a whole list in the fewest calls.
FOLLOWING_PAGE = 100

# Calls safe to repeat: reads, and writes whose repeat changes nothing (follow and
# unfollow, like and unlike, media status moves, absolute post counts).
IDEMPOTENT: dict[str, tuple[str, ...]] = {
    "pictor.graph.v1.GraphService": (
        "GetUserByUsername",
        "BatchGetUsers",
        "BatchCheckFollows",
        "ListFollowers",
        "ListFollowing",
        "GetAvatar",
        "Authenticate",
        "Follow",
        "Unfollow",
        "SetPostCount",
    ),
    "pictor.post.v1.PostService": (
        "BatchGetPosts",
        "ListUserPosts",
        "RecentPostIds",
        "ListLikes",
        "ListComments",
        "BatchGetComments",
        "UpdateMedia",
        "LikePost",
        "UnlikePost",
    ),
    "pictor.feed.v1.FeedService": ("GetHomeFeed", "ListNotifications", "GetNotification"),
    "pictor.media.v1.MediaService": ("SignUrls",),
}

# Every call waits for its channel to be ready (within its deadline) rather than fail
# at once while the channel reconnects to a restarting service; a call that is safe
# to repeat is retried when it meets UNAVAILABLE (a server going away mid-call).
SERVICE_CONFIG = {
    "methodConfig": [
        {"name": [{}], "waitForReady": True},
        {
            "name": [
                {"service": service, "method": method}
                for service, methods in IDEMPOTENT.items()
                for method in methods
            ],
            "waitForReady": True,
            "retryPolicy": {
                "maxAttempts": 4,
                "initialBackoff": "0.05s",
                "maxBackoff": "0.5s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        },
    ]
}

_CHANNEL_OPTIONS = [
    ("grpc.service_config", json.dumps(SERVICE_CONFIG)),
    # A restarted service is found again within a second, however long it was away
    # (gRPC's default backoff grows to two minutes).
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
    # With a dns:/// address resolving to every pod (a headless Service), calls spread
    # over all of them instead of pinning one connection to one pod.
    ("grpc.lb_policy_name", "round_robin"),
    # Must stay above the servers' minimum ping interval (pictor.service), or they GOAWAY.
    ("grpc.keepalive_time_ms", 60_000),
    ("grpc.keepalive_timeout_ms", 10_000),
    ("grpc.max_receive_message_length", 16 * 1024 * 1024),
]


class _Deadlined:
    """A multi-callable whose calls get a default timeout when they set none."""

    __slots__ = ("_call", "_seconds")

    def __init__(self, call: Any, seconds: float) -> None:
        self._call = call
        self._seconds = seconds

    def __call__(self, request: Any, *, timeout: float | None = None, **kwargs: Any) -> Any:
        return self._call(request, timeout=self._seconds if timeout is None else timeout, **kwargs)


class DeadlineChannel:
    """A channel giving every call without a deadline of its own a default one
    (streaming calls, such as uploads and live feeds, a longer one than unary).

    A wrapper of the multi-callables rather than an interceptor: grpc.aio's
    interceptor machinery costs more CPU than a small call itself.
    """

    def __init__(self, channel: grpc.aio.Channel, unary_seconds: float, stream_seconds: float):
        self._channel = channel
        self._unary = unary_seconds
        self._stream = stream_seconds

    def unary_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _Deadlined(self._channel.unary_unary(*args, **kwargs), self._unary)

    def unary_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _Deadlined(self._channel.unary_stream(*args, **kwargs), self._stream)

    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return _Deadlined(self._channel.stream_unary(*args, **kwargs), self._stream)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return _Deadlined(self._channel.stream_stream(*args, **kwargs), self._stream)

    async def close(self) -> None:
        await self._channel.close()


def open_channel(
    address: str, settings: Settings, extra: Sequence[grpc.aio.ClientInterceptor] = ()
) -> DeadlineChannel:
    interceptors = [*(aio_client_interceptors() if traced_rpcs() else ()), *extra]
    channel = grpc.aio.insecure_channel(
        address, options=_CHANNEL_OPTIONS, interceptors=interceptors or None
    )
    return DeadlineChannel(
        channel, settings.grpc_deadline_seconds, settings.grpc_stream_deadline_seconds
    )


@dataclass
class ServiceClients:
    """Stubs for every service, over channels opened once per process."""

    channels: dict[ServiceName, DeadlineChannel]
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


async def all_following(graph: graph_pb2_grpc.GraphServiceStub, user_id: int) -> list[int]:
    """Everyone the user follows, as graph_svc lists them, page after page."""
    followees: list[int] = []
    token = ""
    while True:
        response = await graph.ListFollowing(
            graph_pb2.ListFollowingRequest(
                user_id=user_id,
                page=common_pb2.PageRequest(page_size=FOLLOWING_PAGE, page_token=token),
            )
        )
        followees += [edge.user_id for edge in response.edges]
        token = response.page.next_page_token
        if not token:
            return followees
