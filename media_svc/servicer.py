"""Translates MediaService RPCs to the upload flows and back; domain errors become
statuses where pictor.service wraps every handler."""

from __future__ import annotations

from collections.abc import AsyncIterator

from media_svc.limits import SIGN_URLS_MAX
from media_svc.objects import RENDITION_PREFIX
from media_svc.signing import UrlSigner
from media_svc.uploads import Uploads
from pictor.errors import InvalidInput
from pictor.media.v1 import media_pb2, media_pb2_grpc
from pictor.service import Context


class MediaServicer(media_pb2_grpc.MediaServiceServicer):
    def __init__(self, uploads: Uploads, avatar_uploads: Uploads, signer: UrlSigner) -> None:
        self._uploads = uploads
        self._avatar_uploads = avatar_uploads
        self._signer = signer

    async def CreateUpload(
        self, request: media_pb2.CreateUploadRequest, context: Context
    ) -> media_pb2.CreateUploadResponse:
        url, headers, expires_at = await self._uploads.create_upload(
            request.post_id, request.author_id
        )
        response = media_pb2.CreateUploadResponse(upload_url=url, upload_headers=headers)
        response.expires_at.FromDatetime(expires_at)
        return response

    async def ConfirmUpload(
        self, request: media_pb2.ConfirmUploadRequest, context: Context
    ) -> AsyncIterator[media_pb2.ConfirmUploadResponse]:
        await self._uploads.confirm(request.post_id, request.requester_id)
        async for status in self._uploads.watch(request.post_id):
            yield media_pb2.ConfirmUploadResponse(status=status)
            if request.acknowledge_only:
                return

    async def StreamUpload(
        self, request_iterator: AsyncIterator[media_pb2.StreamUploadRequest], context: Context
    ) -> AsyncIterator[media_pb2.StreamUploadResponse]:
        first = await anext(request_iterator, None)
        avatar = first is not None and first.start.avatar
        uploads = self._avatar_uploads if avatar else self._uploads
        async for response in uploads.receive(_replayed(first, request_iterator)):
            yield response

    async def WatchUpload(
        self, request: media_pb2.WatchUploadRequest, context: Context
    ) -> AsyncIterator[media_pb2.WatchUploadResponse]:
        await self._uploads.authored_post(request.post_id, request.requester_id)
        async for status in self._uploads.watch(request.post_id):
            yield media_pb2.WatchUploadResponse(status=status)

    async def SignUrls(
        self, request: media_pb2.SignUrlsRequest, context: Context
    ) -> media_pb2.SignUrlsResponse:
        keys = list(request.object_keys)
        if len(keys) > SIGN_URLS_MAX:
            raise InvalidInput(f"at most {SIGN_URLS_MAX} keys per call")
        # Only renditions are ever served; originals keep their EXIF and are never signed.
        if any(not key.startswith(RENDITION_PREFIX) for key in keys):
            raise InvalidInput("only rendition keys can be signed")
        urls, expires_at = await self._signer.sign(keys)
        response = media_pb2.SignUrlsResponse(urls=urls)
        response.expires_at.FromDatetime(expires_at)
        return response


async def _replayed(
    first: media_pb2.StreamUploadRequest | None,
    rest: AsyncIterator[media_pb2.StreamUploadRequest],
) -> AsyncIterator[media_pb2.StreamUploadRequest]:
    """The stream as it came, its first message (read to tell the kind) included."""
    if first is not None:
        yield first
    async for request in rest:
        yield request
