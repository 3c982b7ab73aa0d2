"""The two kinds of media the service processes, a post's photo and a user's avatar,
through the same upload and rendition pipeline: where each keeps its objects, which
service keeps its status, and which renditions it gets."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from media_svc.avatar_records import AvatarRecords
from media_svc.objects import AVATAR_OBJECTS, POST_OBJECTS, Layout, ObjectStore
from media_svc.post_status import PostStatus
from pictor import events
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient

POST, AVATAR = events.POST_UPLOAD, events.AVATAR_UPLOAD


class MediaRecords(Protocol):
    """The service that owns a kind of media record and its status (post_svc for
    posts, graph_svc for avatars), as media_svc calls it."""

    async def get(self, media_id: int) -> post_pb2.Post | None:
        """The record as a post: its id, owner (``author_id``) and media."""
        ...

    async def processing(self, media_id: int) -> None: ...

    async def ready(self, media_id: int, media: post_pb2.Media) -> bool:
        """Marks it READY with its renditions; False if its renditions are not wanted
        (deleted, FAILED, or superseded)."""
        ...

    async def fail(self, media_id: int, reason: str) -> None: ...


@dataclass(frozen=True)
class MediaKind:
    name: str
    records: MediaRecords
    layout: Layout
    # Every rendition a centred square (avatars), rather than the photo's shape.
    square: bool = False


def media_kinds(
    clients: ServiceClients, objects: ObjectStore, events_redis: RedisClient
) -> dict[str, MediaKind]:
    """A post's photo and an avatar, by the name media.uploaded gives them."""
    return {
        POST: MediaKind(POST, PostStatus(clients.post), POST_OBJECTS),
        AVATAR: MediaKind(
            AVATAR, AvatarRecords(clients.graph, objects, events_redis), AVATAR_OBJECTS, True
        ),
    }
