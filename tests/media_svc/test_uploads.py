"""Watching uploads (media_svc.uploads) in-process, against the test stack's post_svc
and Redis as the services open it (a Redis Cluster under the cluster topology)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator

import httpx

from gateway import ids
from gateway.config import GatewaySettings
from media_svc.config import MediaSettings
from media_svc.kinds import POST, MediaKind
from media_svc.objects import POST_OBJECTS, ObjectStore
from media_svc.post_status import PostStatus
from media_svc.uploads import Uploads
from pictor.clients import ServiceClients
from pictor.live import LiveChannels
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2
from pictor.s3 import open_s3
from tests.feed_svc.conftest import redis_of
from tests.harness import sign_up

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
