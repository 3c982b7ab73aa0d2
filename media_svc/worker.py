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
from media_svc.kinds import POST, MediaKind, media_kinds
from media_svc.objects import ObjectStore
from media_svc.post_status import TERMINAL
from pictor import events
from pictor.consumer import ConsumerSettings, Fields, StreamConsumer
from pictor.errors import InvalidInput
from pictor.metrics import watch_stream
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient
from pictor.s3 import open_s3
from pictor.service import Connections, Worker, main, serve_worker

PROCESSING_GROUP = "media-workers"
CLEANUP_GROUP = "media-cleanup"
GAVE_UP = "processing failed; please upload the photo again"
RENDITIONS = Counter("pictor_renditions", "Renditions written to the object store.")


@dataclass(frozen=True)
class MediaWorker:
    objects: ObjectStore
    # By media.uploaded's kind field: a post's photo or an avatar.
    kinds: dict[str, MediaKind]
    events_redis: RedisClient
    settings: MediaSettings

    async def process(self, message_id: str, fields: Fields) -> None:
        """Handles one ``media.uploaded``: original in, renditions out, record READY."""
        post_id, kind = int(fields["post_id"]), self._kind(fields)
        records, upload = kind.records, kind.layout.upload_key(post_id)
        post = await records.get(post_id)
        if post is None:
            await self._forget(kind, post_id)
            return
        if post.media.status in TERMINAL:
            return
        await self._progress(kind, post_id, 0.1)
        original = await self.objects.head(upload)
        if original is None:
            await records.fail(post_id, "the uploaded photo is gone; upload it again")
            return
        data = await self.objects.read(upload)
        try:
            photo = await asyncio.to_thread(
                renditions.process, data, self.settings.max_pixels, kind.square
            )
        except InvalidInput as refusal:
            await records.fail(post_id, str(refusal))
            await self.objects.delete([upload])
            return
        del data
        await self._progress(kind, post_id, 0.6)
        stored = await self._store(kind, post_id, photo)
        RENDITIONS.inc(len(stored))
        await self._progress(kind, post_id, 0.9)
        if not await records.ready(post_id, _media(photo, stored)):
            # Deleted, given up on or superseded while we worked: keep nothing of it.
            await self._forget(kind, post_id)
            return
        # The original still carries its EXIF (GPS included); only renditions stay.
        await self.objects.delete([upload])

    async def give_up(self, message_id: str, fields: Fields, error: Exception) -> None:
        """After the last try: the record ends FAILED with a reason, its original removed."""
        post_id = fields.get("post_id", "")
        if not post_id.isdigit() or fields.get("kind", POST) not in self.kinds:
            return  # nothing to fail: the message itself was malformed
        kind = self._kind(fields)
        await kind.records.fail(int(post_id), GAVE_UP)
        await self.objects.delete([kind.layout.upload_key(int(post_id))])

    async def clean_up(self, message_id: str, fields: Fields) -> None:
        """Handles one ``post.deleted``: the post's objects go too."""
        await self._forget(self.kinds[POST], int(fields["post_id"]))

    def _kind(self, fields: Fields) -> MediaKind:
        return self.kinds[fields.get("kind", POST)]

    async def _store(
        self, kind: MediaKind, post_id: int, photo: renditions.ProcessedPhoto
    ) -> list[str]:
        keys = [
            kind.layout.rendition_key(post_id, r.name, r.content_type) for r in photo.renditions
        ]
        await asyncio.gather(
            *(
                self.objects.write(key, rendition.data, rendition.content_type)
                for key, rendition in zip(keys, photo.renditions, strict=True)
            )
        )
        return keys

    async def _forget(self, kind: MediaKind, post_id: int) -> None:
        await self.objects.delete_prefix(kind.layout.renditions_prefix(post_id))
        await self.objects.delete([kind.layout.upload_key(post_id)])

    async def _progress(self, kind: MediaKind, media_id: int, progress: float) -> None:
        await events.announce_upload_status(
            self.events_redis,
            kind.name,
            media_id,
            events.UploadStatusMessage("PROCESSING", progress),
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
    await serve_worker("media_worker", settings, _wire)


async def _wire(settings: MediaSettings, connections: Connections) -> list[Worker]:
    events_redis = connections.redis()
    clients = connections.services()
    objects = ObjectStore(await connections.enter(open_s3(settings)), settings.s3_bucket)
    consumer_settings = ConsumerSettings.of(settings, concurrency=settings.worker_concurrency)
    # Every upload is unique: libvips' operation cache would only hold memory.
    pyvips.cache_set_max(0)
    worker = MediaWorker(
        objects, media_kinds(clients, objects, events_redis), events_redis, settings
    )
    handlers = (
        (events.MEDIA_UPLOADED, PROCESSING_GROUP, worker.process, worker.give_up),
        (events.POST_DELETED, CLEANUP_GROUP, worker.clean_up, None),
    )
    consumers = []
    for stream, group, handle, give_up in handlers:
        consumers.append(
            StreamConsumer(
                events_redis, stream, group, handle, give_up=give_up, settings=consumer_settings
            )
        )
        watch_stream(events_redis, stream, group)
    return [consumer.run for consumer in consumers]


if __name__ == "__main__":
    main("media_worker", MediaSettings, run)
