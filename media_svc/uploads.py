"""The two ways a photo comes in, ending in the same place: the original stored at
``uploads/<post>``, the post PROCESSING, and a ``media.uploaded`` event for the worker.

1. Pre-signed: a PUT URL bound to the type the post declared, then confirm, which
   checks the object is there and not too large.
2. Streamed: the type is sniffed from the first bytes (whatever the client labelled
   them), bytes that are no photo are refused at once, then chunks are written to the
   object store as they arrive (multipart upload, one part in memory at most), refused
   past the size limit with nothing kept.

Either way the worker sniffs and decodes the bytes again before anything is served.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

from media_svc.config import MediaSettings
from media_svc.formats import PHOTO_CONTENT_TYPES, SNIFF_BYTES, sniff_format
from media_svc.kinds import MediaKind
from media_svc.objects import ObjectStore
from media_svc.post_status import TERMINAL
from pictor import events
from pictor.errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge
from pictor.live import LiveChannels, LiveListener
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient

# How often a streamed upload reports the bytes received so far.
PROGRESS_EVERY_BYTES = 1024 * 1024
UNKNOWN_PROGRESS = -1.0


def megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MiB"


@dataclass(frozen=True)
class Uploads:
    objects: ObjectStore
    # A post's photo or an avatar: the same flows, other records and object folders.
    kind: MediaKind
    events_redis: RedisClient
    settings: MediaSettings
    # The process's live subscription, where watchers hear status changes.
    live: LiveChannels

    async def authored_post(self, post_id: int, requester_id: int) -> post_pb2.Post:
        post = await self.kind.records.get(post_id)
        if post is None:
            raise NotFound("no such post")
        if post.author_id != requester_id:
            raise Forbidden("only the author may upload, confirm or watch this post")
        return post

    async def create_upload(
        self, post_id: int, author_id: int
    ) -> tuple[str, list[media_pb2.UploadHeader], datetime]:
        """A PUT URL bound to the type the post declared, as post_svc normalised it (the
        request's ``content_type`` only repeats what the client declared).

        The URL's lifetime counts from the post's creation: post_svc deletes a post still
        PENDING after that lifetime (and a grace), so no URL outlives the post."""
        post = await self.authored_post(post_id, author_id)
        self._check_pending(post)
        content_type = post.media.declared_content_type
        if not content_type:
            raise InvalidInput("a pre-signed upload needs the photo's content type")
        age = datetime.now(UTC) - post.created_at.ToDatetime(tzinfo=UTC)
        ttl_seconds = int(self.settings.upload_url_ttl_seconds - age.total_seconds())
        if ttl_seconds < 1:
            raise Conflict("the time to upload this post's photo has passed; create a new post")
        url, expires_at = await self.objects.presign_put(
            self.kind.layout.upload_key(post_id), content_type, ttl_seconds
        )
        headers = [media_pb2.UploadHeader(name="Content-Type", value=content_type)]
        return url, headers, expires_at

    async def confirm(self, post_id: int, requester_id: int) -> None:
        """Starts processing the bytes PUT at the pre-signed URL; repeating it is harmless."""
        post = await self.authored_post(post_id, requester_id)
        if post.media.status != post_pb2.MEDIA_STATUS_PENDING:
            return
        stored = await self.objects.head(self.kind.layout.upload_key(post_id))
        if stored is None:
            raise InvalidInput(
                "nothing was uploaded for this post; PUT the photo to uploadUrl first"
            )
        if stored.size > self.settings.max_upload_bytes:
            await self.objects.delete([self.kind.layout.upload_key(post_id)])
            limit = megabytes(self.settings.max_upload_bytes)
            await self.kind.records.fail(post_id, f"the photo is larger than {limit}")
            raise PayloadTooLarge(f"a photo may be at most {limit}")
        await self._start_processing(post_id)

    async def receive(
        self, requests: AsyncIterator[media_pb2.StreamUploadRequest]
    ) -> AsyncIterator[media_pb2.StreamUploadResponse]:
        """Writes a streamed upload to the object store, reporting progress, then starts
        processing and follows it to the end. Its type is sniffed from the first bytes
        (``UploadStart.content_type``, the client's label, is not trusted); bytes that
        are no photo, or too many, abort the upload and nothing is kept."""
        first = await anext(requests, None)
        if first is None or not first.HasField("start"):
            raise InvalidInput("a streamed upload starts with an UploadStart message")
        start = first.start
        post = await self.authored_post(start.post_id, start.requester_id)
        self._check_pending(post)
        head, chunks = await _head(_chunks(requests))
        limit = self.settings.max_upload_bytes
        writer = self.objects.multipart(
            self.kind.layout.upload_key(start.post_id), _photo_content_type(head)
        )
        reported = 0
        try:
            async for chunk in chunks:
                if writer.size + len(chunk) > limit:
                    raise PayloadTooLarge(f"a photo may be at most {megabytes(limit)}")
                await writer.write(chunk)
                if writer.size - reported >= PROGRESS_EVERY_BYTES:
                    reported = writer.size
                    yield media_pb2.StreamUploadResponse(bytes_received=writer.size)
            sha256 = await writer.complete()
        except BaseException:
            await writer.abort()
            raise
        # Processing starts before the client hears the bytes are in, so a client that
        # hangs up at that point has lost nothing.
        await self._start_processing(start.post_id)
        yield media_pb2.StreamUploadResponse(
            received=media_pb2.UploadReceived(bytes_received=writer.size, sha256=sha256)
        )
        if start.acknowledge_only:
            return
        async for status in self.watch(start.post_id):
            yield media_pb2.StreamUploadResponse(status=status)

    async def watch(self, post_id: int) -> AsyncGenerator[media_pb2.UploadStatus, None]:
        """The post's status now, then every change and progress report, until READY or
        FAILED (or the processing timeout)."""
        listener = LiveListener(self.live)
        try:
            await listener.listen([events.upload_status_channel(self.kind.name, post_id)])
            # Subscribed before reading the current status, so no change falls between.
            current = await self._current(post_id)
            yield current
            if current.status in TERMINAL:
                return
            deadline = time.monotonic() + self.settings.processing_timeout_seconds
            while (left := deadline - time.monotonic()) > 0:
                data = await listener.next(left)
                if data is None:
                    return
                status = _status_from_message(post_id, data)
                yield status
                if status.status in TERMINAL:
                    return
        finally:
            await listener.aclose()

    async def _current(self, post_id: int) -> media_pb2.UploadStatus:
        post = await self.kind.records.get(post_id)
        if post is None:
            raise NotFound("no such post")
        media = post.media
        return media_pb2.UploadStatus(
            post_id=post_id, status=media.status, progress=UNKNOWN_PROGRESS, message=media.error
        )

    def _check_pending(self, post: post_pb2.Post) -> None:
        if post.media.status != post_pb2.MEDIA_STATUS_PENDING:
            raise Conflict("this post already has its photo")

    async def _start_processing(self, post_id: int) -> None:
        await self.kind.records.processing(post_id)
        await events.publish(
            self.events_redis, events.MEDIA_UPLOADED, {"post_id": post_id, "kind": self.kind.name}
        )


async def _chunks(
    requests: AsyncIterator[media_pb2.StreamUploadRequest],
) -> AsyncIterator[bytes]:
    async for request in requests:
        if not request.chunk:
            raise InvalidInput("after UploadStart, every message carries bytes")
        yield request.chunk


async def _head(chunks: AsyncIterator[bytes]) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first SNIFF_BYTES of the upload (fewer if it is shorter), and every chunk,
    those it was read from included."""
    read: list[bytes] = []
    while sum(map(len, read)) < SNIFF_BYTES and (chunk := await anext(chunks, None)):
        read.append(chunk)

    async def replayed() -> AsyncIterator[bytes]:
        for chunk in read:
            yield chunk
        async for chunk in chunks:
            yield chunk

    return b"".join(read)[:SNIFF_BYTES], replayed()


def _photo_content_type(head: bytes) -> str:
    if not head:
        raise InvalidInput("the upload was empty")
    content_type = PHOTO_CONTENT_TYPES.get(sniff_format(head) or "")
    if content_type is None:
        accepted = ", ".join(sorted(PHOTO_CONTENT_TYPES))
        raise InvalidInput(f"the upload is not a photo in a format we take ({accepted})")
    return content_type


def _status_from_message(post_id: int, data: bytes | str) -> media_pb2.UploadStatus:
    update = events.read_upload_status(data)
    return media_pb2.UploadStatus(
        post_id=post_id,
        status=post_pb2.MediaStatus.Value(f"MEDIA_STATUS_{update.status}"),
        progress=update.progress if update.progress is not None else UNKNOWN_PROGRESS,
        message=update.message,
    )
