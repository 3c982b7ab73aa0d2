"""The post_svc calls media_svc makes: read a post, move its media status forward."""

from __future__ import annotations

import grpc

from pictor.post.v1 import post_pb2, post_pb2_grpc

TERMINAL = (post_pb2.MEDIA_STATUS_READY, post_pb2.MEDIA_STATUS_FAILED)
# post_svc's answers when a post is gone or already past the asked status.
GONE_OR_DONE = (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)


class PostStatus:
    def __init__(self, posts: post_pb2_grpc.PostServiceStub) -> None:
        self._posts = posts

    async def get(self, post_id: int) -> post_pb2.Post | None:
        response = await self._posts.BatchGetPosts(
            post_pb2.BatchGetPostsRequest(post_ids=[post_id])
        )
        return response.posts[0] if response.posts else None

    async def processing(self, post_id: int) -> None:
        await self._move(post_id, post_pb2.Media(status=post_pb2.MEDIA_STATUS_PROCESSING))

    async def ready(self, post_id: int, media: post_pb2.Media) -> bool:
        """Marks the post READY with its renditions; False if it was deleted or FAILED."""
        media.status = post_pb2.MEDIA_STATUS_READY
        return await self._move_unless_gone(post_id, media)

    async def fail(self, post_id: int, reason: str) -> None:
        await self._move_unless_gone(
            post_id, post_pb2.Media(status=post_pb2.MEDIA_STATUS_FAILED, error=reason)
        )

    async def _move(self, post_id: int, media: post_pb2.Media) -> None:
        await self._posts.UpdateMedia(post_pb2.UpdateMediaRequest(post_id=post_id, media=media))

    async def _move_unless_gone(self, post_id: int, media: post_pb2.Media) -> bool:
        try:
            await self._move(post_id, media)
        except grpc.aio.AioRpcError as error:
            if error.code() in GONE_OR_DONE:
                return False
            raise
        return True
