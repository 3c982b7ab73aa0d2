from __future__ import annotations

from collections.abc import Mapping
from enum import Enum

import strawberry

from pictor.post.v1 import post_pb2


@strawberry.enum
class MediaStatus(Enum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    READY = "READY"
    FAILED = "FAILED"

    @classmethod
    def from_proto(cls, status: post_pb2.MediaStatus.ValueType) -> MediaStatus:
        name = post_pb2.MediaStatus.Name(status).removeprefix("MEDIA_STATUS_")
        return cls[name] if name in cls.__members__ else cls.PENDING


@strawberry.type(
    description="One stored size of a photo. url is signed and expires; fetch it, never build it."
)
class ImageRendition:
    name: str = strawberry.field(description="thumb (square crop), small, medium or large")
    width: int
    height: int
    content_type: str = strawberry.field(description="mime type, e.g. image/jpeg or image/webp")
    # Signed for the whole page at once when the query asks for url (gateway.selection).
    url: str


@strawberry.type
class Media:
    status: MediaStatus
    width: int | None = strawberry.field(
        description="Largest rendition's dimensions, known once READY."
    )
    height: int | None
    blurhash: str | None = strawberry.field(
        description="BlurHash of the photo, for a placeholder while renditions load."
    )
    renditions: list[ImageRendition]
    error: str | None = strawberry.field(
        description="Why processing failed, when status is FAILED."
    )

    @classmethod
    def from_proto(cls, media: post_pb2.Media, signed_urls: Mapping[str, str]) -> Media:
        """The media as shown; ``signed_urls`` has the renditions' URLs by object key
        when the query asks for them."""
        ready = media.status == post_pb2.MEDIA_STATUS_READY
        return cls(
            status=MediaStatus.from_proto(media.status),
            width=media.width if ready else None,
            height=media.height if ready else None,
            blurhash=media.blurhash or None,
            renditions=[
                ImageRendition(
                    name=rendition.name,
                    width=rendition.width,
                    height=rendition.height,
                    content_type=rendition.content_type,
                    url=signed_urls.get(rendition.object_key, ""),
                )
                for rendition in media.renditions
            ]
            if ready
            else [],
            error=media.error or None,
        )


def rendition_keys(posts: list[post_pb2.Post]) -> list[str]:
    """The object keys of the renditions that would be shown (READY posts only)."""
    return [
        rendition.object_key
        for post in posts
        if post.media.status == post_pb2.MEDIA_STATUS_READY
        for rendition in post.media.renditions
    ]
