"""The graph_svc calls media_svc makes for avatars (a MediaRecords, as post_status is
for posts): read an avatar upload, move its status forward, announce each move to
whoever watches the upload, and remove the objects of the avatar a READY one replaced."""

from __future__ import annotations

import grpc

from media_svc.objects import AVATAR_OBJECTS, ObjectStore
from media_svc.post_status import GONE_OR_DONE
from pictor import events
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient


class AvatarRecords:
    def __init__(
        self,
        graph: graph_pb2_grpc.GraphServiceStub,
        objects: ObjectStore,
        events_redis: RedisClient,
    ) -> None:
        self._graph = graph
        self._objects = objects
        self._events = events_redis

    async def get(self, media_id: int) -> post_pb2.Post | None:
        response = await self._graph.GetAvatar(graph_pb2.GetAvatarRequest(avatar_id=media_id))
        if not response.HasField("avatar"):
            return None
        avatar = response.avatar
        return post_pb2.Post(id=avatar.avatar_id, author_id=avatar.user_id, media=avatar.media)

    async def processing(self, media_id: int) -> None:
        await self._move(media_id, post_pb2.Media(status=post_pb2.MEDIA_STATUS_PROCESSING))

    async def ready(self, media_id: int, media: post_pb2.Media) -> bool:
        """Marks it READY; False if it is FAILED or a newer avatar is the user's. The
        replaced avatar's objects go before READY is announced, so whoever sees it
        sees them gone."""
        media.status = post_pb2.MEDIA_STATUS_READY
        try:
            moved = await self._move(media_id, media, announce=False)
        except grpc.aio.AioRpcError as error:
            if error.code() in GONE_OR_DONE:
                return False
            raise
        if moved.replaced_avatar_id:
            prefix = AVATAR_OBJECTS.renditions_prefix(moved.replaced_avatar_id)
            await self._objects.delete_prefix(prefix)
        if moved.moved:
            await self._announce(media_id, media)
        return moved.current

    async def fail(self, media_id: int, reason: str) -> None:
        failed = post_pb2.Media(status=post_pb2.MEDIA_STATUS_FAILED, error=reason)
        try:
            await self._move(media_id, failed)
        except grpc.aio.AioRpcError as error:
            if error.code() not in GONE_OR_DONE:
                raise

    async def _move(
        self, media_id: int, media: post_pb2.Media, *, announce: bool = True
    ) -> graph_pb2.UpdateAvatarMediaResponse:
        moved: graph_pb2.UpdateAvatarMediaResponse = await self._graph.UpdateAvatarMedia(
            graph_pb2.UpdateAvatarMediaRequest(avatar_id=media_id, media=media)
        )
        if moved.moved and announce:
            await self._announce(media_id, media)
        return moved

    async def _announce(self, media_id: int, media: post_pb2.Media) -> None:
        status = post_pb2.MediaStatus.Name(media.status).removeprefix("MEDIA_STATUS_")
        update = events.UploadStatusMessage(status=status, message=media.error)
        await events.announce_upload_status(self._events, events.AVATAR_UPLOAD, media_id, update)
