"""Watching uploads (media_svc.uploads), against the test stack's post_svc and Redis as
the services open it (a Redis Cluster under the cluster topology)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncGenerator

import grpc
import httpx
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway import ids
from gateway.config import GatewaySettings
from media_svc.config import MediaSettings
from media_svc.kinds import POST, MediaKind
from media_svc.objects import POST_OBJECTS, ObjectStore
from media_svc.post_status import PostStatus
from media_svc.uploads import Uploads
from pictor.clients import ServiceClients
from pictor.live import LiveChannels
from pictor.media.v1 import media_pb2, media_pb2_grpc
from pictor.post.v1 import post_pb2
from pictor.s3 import open_s3
from tests.feed_svc.conftest import redis_of
from tests.harness import IsolatedStack, extra_part, free_port, one_off_part, sign_up

# More uploads watched at once than the process has Redis connections.
WATCHED = 6
HEARD_WITHIN_SECONDS = 10


async def heard(watch: AsyncGenerator[media_pb2.UploadStatus, None]) -> int | None:
    """The next status a watch yields, or None once it has ended."""
    async with asyncio.timeout(HEARD_WITHIN_SECONDS):
        status = await anext(watch, None)
    return status.status if status is not None else None


async def test_watchers_of_many_uploads_share_their_process_connection(
    http: httpx.AsyncClient, clients: ServiceClients, settings: GatewaySettings
) -> None:
    """A process with two Redis connections follows six uploads to the end: each
    watcher sees its post PENDING, then READY when post_svc moves it, then the end."""
    author = ids.decode("User", (await sign_up(http, "watched")).id)
    few = settings.model_copy(update={"redis_max_connections": 2})
    async with (
        redis_of(few) as client,
        LiveChannels(client).reading() as channels,
        open_s3(settings) as s3,
    ):
        kind = MediaKind(POST, PostStatus(clients.post), POST_OBJECTS)
        objects = ObjectStore(s3, settings.s3_bucket)
        uploads = Uploads(objects, kind, client, MediaSettings(), channels)
        posts = [
            (
                await clients.post.CreatePost(
                    post_pb2.CreatePostRequest(author_id=author, content_type="image/jpeg")
                )
            ).post.id
            for _ in range(WATCHED)
        ]
        watches = [uploads.watch(post_id) for post_id in posts]
        try:
            assert [await heard(watch) for watch in watches] == [
                post_pb2.MEDIA_STATUS_PENDING
            ] * WATCHED
            for post_id in posts:
                ready = post_pb2.Media(status=post_pb2.MEDIA_STATUS_READY, width=1, height=1)
                await clients.post.UpdateMedia(
                    post_pb2.UpdateMediaRequest(post_id=post_id, media=ready)
                )

            assert [await heard(watch) for watch in watches] == [
                post_pb2.MEDIA_STATUS_READY
            ] * WATCHED
            assert [await heard(watch) for watch in watches] == [None] * WATCHED
        finally:
            for watch in watches:
                await watch.aclose()


async def test_an_upload_followed_while_media_svc_stops_is_followed_to_its_end(
    http: httpx.AsyncClient, clients: ServiceClients, test_stack: IsolatedStack
) -> None:
    """SIGTERM drains the calls in flight: a watch still hears its upload turn READY
    after the service stopped serving new calls, and ends there."""
    author = ids.decode("User", (await sign_up(http, "draining")).id)
    created = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(author_id=author, content_type="image/jpeg")
    )
    post_id = created.post.id
    settings = test_stack.settings.model_copy(update={"media_addr": f"127.0.0.1:{free_port()}"})
    part = one_off_part(test_stack, "media_svc-draining", settings)
    with extra_part(part):
        async with grpc.aio.insecure_channel(settings.media_addr) as channel:
            health = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=30
            )
            assert (await health.read()).status == health_pb2.HealthCheckResponse.SERVING
            watch = media_pb2_grpc.MediaServiceStub(channel).WatchUpload(
                media_pb2.WatchUploadRequest(post_id=post_id, requester_id=author), timeout=30
            )
            assert (await watch.read()).status.status == post_pb2.MEDIA_STATUS_PENDING

            pid = part.pid()
            assert pid is not None
            os.kill(pid, signal.SIGTERM)
            assert (await health.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING
            ready = post_pb2.Media(status=post_pb2.MEDIA_STATUS_READY, width=1, height=1)
            await clients.post.UpdateMedia(
                post_pb2.UpdateMediaRequest(post_id=post_id, media=ready)
            )

            assert (await watch.read()).status.status == post_pb2.MEDIA_STATUS_READY
            assert await watch.read() == grpc.aio.EOF
