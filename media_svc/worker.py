"""The media worker: turns an uploaded original into renditions, and cleans up after
deleted posts. Runs as its own process (``python -m media_svc.worker``) so photo
processing scales apart from the upload API.

Both consumers are idempotent. Rendition keys depend only on the post, so a message
processed twice overwrites its own objects; a post that is gone or already finished
is acknowledged without work; a post deleted mid-job has its fresh renditions removed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pyvips
from prometheus_client import Counter

from media_svc import renditions
from media_svc.config import MediaSettings
from media_svc.objects import ObjectStore, rendition_key, renditions_prefix, upload_key
from media_svc.post_status import TERMINAL, PostStatus
from pictor import events
from pictor.clients import ServiceClients
from pictor.consumer import ConsumerSettings, Fields, StreamConsumer
from pictor.errors import InvalidInput
from pictor.metrics import watch_stream
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient, open_redis
from pictor.s3 import open_s3
from pictor.service import main, run_server

PROCESSING_GROUP = "media-workers"
CLEANUP_GROUP = "media-cleanup"
GAVE_UP = "processing failed; please upload the photo again"
RENDITIONS = Counter("pictor_renditions", "Renditions written to the object store.")


@dataclass(frozen=True)
class MediaWorker:
    objects: ObjectStore
    posts: PostStatus
    events_redis: RedisClient
    settings: MediaSettings

    async def process(self, message_id: str, fields: Fields) -> None:
        """Handles one ``media.uploaded``: original in, renditions out, post READY."""
        post_id = int(fields["post_id"])
        post = await self.posts.get(post_id)
        if post is None:
            await self._forget(post_id)
            return
        if post.media.status in TERMINAL:
            return
        await self._progress(post_id, 0.1)
        original = await self.objects.head(upload_key(post_id))
        if original is None:
            await self.posts.fail(post_id, "the uploaded photo is gone; upload it again")
            return
        data = await self.objects.read(upload_key(post_id))
        try:
            photo = await asyncio.to_thread(renditions.process, data, self.settings.max_pixels)
        except InvalidInput as refusal:
            await self.posts.fail(post_id, str(refusal))
            await self.objects.delete([upload_key(post_id)])
            return
        del data
        await self._progress(post_id, 0.6)
        stored = await self._store(post_id, photo)
        RENDITIONS.inc(len(stored))
        await self._progress(post_id, 0.9)
        if not await self.posts.ready(post_id, _media(photo, stored)):
            # Deleted (or given up on) while we worked: keep nothing of it.
            await self._forget(post_id)
            return
        # The original still carries its EXIF (GPS included); only renditions stay.
        await self.objects.delete([upload_key(post_id)])

    async def give_up(self, message_id: str, fields: Fields, error: Exception) -> None:
        """After the last try: the post ends FAILED with a reason, its original removed."""
        post_id = fields.get("post_id", "")
        if not post_id.isdigit():
            return  # nothing to fail: the message itself was malformed
        await self.posts.fail(int(post_id), GAVE_UP)
        await self.objects.delete([upload_key(int(post_id))])

    async def clean_up(self, message_id: str, fields: Fields) -> None:
        """Handles one ``post.deleted``: the post's objects go too."""
        await self._forget(int(fields["post_id"]))

    async def _store(self, post_id: int, photo: renditions.ProcessedPhoto) -> list[str]:
        keys = [rendition_key(post_id, r.name, r.content_type) for r in photo.renditions]
        await asyncio.gather(
            *(
                self.objects.write(key, rendition.data, rendition.content_type)
                for key, rendition in zip(keys, photo.renditions, strict=True)
            )
        )
        return keys

    async def _forget(self, post_id: int) -> None:
        await self.objects.delete_prefix(renditions_prefix(post_id))
        await self.objects.delete([upload_key(post_id)])

    async def _progress(self, post_id: int, progress: float) -> None:
        await events.announce_upload_status(
            self.events_redis, post_id, events.UploadStatusMessage("PROCESSING", progress)
        )


def _media(photo: renditions.ProcessedPhoto, keys: list[str]) -> post_pb2.Media:
    return post_pb2.Media(
        width=photo.width,
        height=photo.height,
        blurhash=photo.blurhash,
        renditions=[
            post_pb2.Rendition(
                name=rendition.name,
                content_type=rendition.content_type,
                width=rendition.width,
                height=rendition.height,
                object_key=key,
            )
            for rendition, key in zip(photo.renditions, keys, strict=True)
        ],
    )


async def run(settings: MediaSettings) -> None:
    events_redis = open_redis(settings)
    clients = ServiceClients.connect(settings)
    consumer_settings = ConsumerSettings.of(settings, concurrency=settings.worker_concurrency)
    # Every upload is unique: libvips' operation cache would only hold memory.
    pyvips.cache_set_max(0)
    try:
        async with open_s3(settings) as s3:
            worker = MediaWorker(
                ObjectStore(s3, settings.s3_bucket),
                PostStatus(clients.post),
                events_redis,
                settings,
            )
            consumers = [
                StreamConsumer(
                    events_redis,
                    events.MEDIA_UPLOADED,
                    PROCESSING_GROUP,
                    worker.process,
                    give_up=worker.give_up,
                    settings=consumer_settings,
                ),
                StreamConsumer(
                    events_redis,
                    events.POST_DELETED,
                    CLEANUP_GROUP,
                    worker.clean_up,
                    settings=consumer_settings,
                ),
            ]
            for stream, group in (
                (events.MEDIA_UPLOADED, PROCESSING_GROUP),
                (events.POST_DELETED, CLEANUP_GROUP),
            ):
                watch_stream(events_redis, stream, group)
            await run_server("media_worker", settings, [], [consumer.run for consumer in consumers])
    finally:
        await clients.close()
        await events_redis.aclose()


if __name__ == "__main__":
    main("media_worker", MediaSettings, run)
