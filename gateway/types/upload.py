from __future__ import annotations

from datetime import datetime

import strawberry

from gateway import ids
from gateway.types.media import MediaStatus
from gateway.types.post import Post
from pictor.media.v1 import media_pb2


@strawberry.type
class UploadHeader:
    name: str
    value: str


@strawberry.type
class CreatePostPayload:
    post: Post
    upload_url: str = strawberry.field(
        description="Pre-signed URL: PUT the raw image bytes here, with uploadHeaders."
    )
    upload_headers: list[UploadHeader]
    expires_at: datetime


@strawberry.type
class UploadEvent:
    post_id: strawberry.ID
    status: MediaStatus
    progress: float | None = strawberry.field(
        description="0..1 while bytes or processing are under way, when known."
    )
    post: Post | None = strawberry.field(description="Set once status is READY.")
    message: str | None

    @classmethod
    def from_proto(cls, status: media_pb2.UploadStatus, post: Post | None) -> UploadEvent:
        return cls(
            post_id=strawberry.ID(ids.encode("Post", status.post_id)),
            status=MediaStatus.from_proto(status.status),
            progress=status.progress if status.progress >= 0 else None,
            post=post,
            message=status.message or None,
        )
