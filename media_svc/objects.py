"""media_svc's object store access (S3 API): raw uploads in, renditions out, signed URLs.

Keys are derived from the post (or avatar) id alone, so a retried step overwrites
rather than duplicates: ``uploads/<post>`` for the original, ``media/<post>/<size>.<ext>``
for renditions; an avatar's under ``uploads/avatars/`` and ``media/avatars/``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

# S3's smallest multipart part (except the last): the streamed upload buffers one.
PART_BYTES = 5 * 1024 * 1024
# Originals waiting for processing: never served (they carry their EXIF).
RAW_UPLOAD_PREFIX = "uploads/"
# Renditions: the only objects ever signed for reading.
RENDITION_PREFIX = "media/"
_EXTENSIONS = {"image/jpeg": "jpg", "image/webp": "webp"}


@dataclass(frozen=True)
class Layout:
    """Where one kind of media keeps its objects. Posts and avatars each have their
    own folders: their ids come from different services, which may repeat each
    other's."""

    uploads: str
    renditions: str

    def upload_key(self, media_id: int) -> str:
        return f"{self.uploads}{media_id}"

    def renditions_prefix(self, media_id: int) -> str:
        return f"{self.renditions}{media_id}/"

    def rendition_key(self, media_id: int, name: str, content_type: str) -> str:
        return f"{self.renditions_prefix(media_id)}{name}.{_EXTENSIONS[content_type]}"


POST_OBJECTS = Layout(RAW_UPLOAD_PREFIX, RENDITION_PREFIX)
AVATAR_OBJECTS = Layout(f"{RAW_UPLOAD_PREFIX}avatars/", f"{RENDITION_PREFIX}avatars/")


@dataclass(frozen=True)
class StoredUpload:
    size: int
    content_type: str


class ObjectStore:
    def __init__(self, s3: Any, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    async def expire_raw_uploads(self, prefix: str, days: int) -> None:
        """A bucket lifecycle rule: originals never confirmed (and multipart uploads
        never completed) are removed by the object store itself after ``days``."""
        rule = {
            "ID": "expire-raw-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "Expiration": {"Days": days},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": days},
        }
        await self._s3.put_bucket_lifecycle_configuration(
            Bucket=self._bucket, LifecycleConfiguration={"Rules": [rule]}
        )

    async def presign_put(
        self, key: str, content_type: str, ttl_seconds: int
    ) -> tuple[str, datetime]:
        url = await self._s3.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=ttl_seconds,
        )
        return url, datetime.now(UTC) + timedelta(seconds=ttl_seconds)

    async def presign_get(self, keys: Sequence[str], ttl_seconds: int) -> list[str]:
        return [
            await self._s3.generate_presigned_url(
                "get_object", Params={"Bucket": self._bucket, "Key": key}, ExpiresIn=ttl_seconds
            )
            for key in keys
        ]

    async def head(self, key: str) -> StoredUpload | None:
        try:
            head = await self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return StoredUpload(size=head["ContentLength"], content_type=head.get("ContentType", ""))

    async def read(self, key: str) -> bytes:
        response = await self._s3.get_object(Bucket=self._bucket, Key=key)
        async with response["Body"] as body:
            data: bytes = await body.read()
            return data

    async def write(self, key: str, data: bytes, content_type: str) -> None:
        await self._s3.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            CacheControl="public, max-age=31536000, immutable",
        )

    async def delete(self, keys: Sequence[str]) -> None:
        if keys:
            await self._s3.delete_objects(
                Bucket=self._bucket,
                Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
            )

    async def delete_prefix(self, prefix: str) -> None:
        paginator = self._s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            await self.delete([item["Key"] for item in page.get("Contents", [])])

    def multipart(self, key: str, content_type: str) -> MultipartWriter:
        return MultipartWriter(self._s3, self._bucket, key, content_type)


class MultipartWriter:
    """Writes a stream of chunks to one object as they arrive, holding at most one
    part in memory; hashes the bytes on the way."""

    def __init__(self, s3: Any, bucket: str, key: str, content_type: str) -> None:
        self._s3 = s3
        self._bucket = bucket
        self._key = key
        self._content_type = content_type
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._buffer = bytearray()
        self._sha256 = hashlib.sha256()
        self.size = 0

    async def write(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self.size += len(chunk)
        self._buffer += chunk
        if len(self._buffer) >= PART_BYTES:
            await self._flush()

    async def _flush(self) -> None:
        if self._upload_id is None:
            created = await self._s3.create_multipart_upload(
                Bucket=self._bucket, Key=self._key, ContentType=self._content_type
            )
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        part = await self._s3.upload_part(
            Bucket=self._bucket,
            Key=self._key,
            UploadId=self._upload_id,
            PartNumber=number,
            Body=bytes(self._buffer),
        )
        self._parts.append({"ETag": part["ETag"], "PartNumber": number})
        self._buffer.clear()

    async def complete(self) -> str:
        """Finishes the object; returns the hex SHA-256 of everything written."""
        if self._upload_id is None:
            # Small enough for one request.
            await self._s3.put_object(
                Bucket=self._bucket,
                Key=self._key,
                Body=bytes(self._buffer),
                ContentType=self._content_type,
            )
        else:
            if self._buffer:
                await self._flush()
            await self._s3.complete_multipart_upload(
                Bucket=self._bucket,
                Key=self._key,
                UploadId=self._upload_id,
                MultipartUpload={"Parts": self._parts},
            )
        self._buffer.clear()
        return self._sha256.hexdigest()

    async def abort(self) -> None:
        """Drops everything written so far: nothing of it stays in the bucket."""
        self._buffer.clear()
        if self._upload_id is not None:
            await self._s3.abort_multipart_upload(
                Bucket=self._bucket, Key=self._key, UploadId=self._upload_id
            )
            self._upload_id = None
