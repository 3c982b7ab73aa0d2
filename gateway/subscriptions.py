from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from gateway import described, ids
from gateway.context import Info
from gateway.types.media import MediaStatus
from gateway.types.post import Post
from gateway.types.upload import UploadEvent
from pictor.feed.v1 import feed_pb2
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2


@strawberry.type
class Subscription:
    @described.subscription(
        "Streams the post's processing until READY or FAILED, then completes. Author only."
    )
    async def upload_status(
        self, info: Info, post_id: strawberry.ID
    ) -> AsyncGenerator[UploadEvent, None]:
        context = info.context
        number = ids.decode("Post", post_id)
        call = context.clients.media.WatchUpload(
            media_pb2.WatchUploadRequest(post_id=number, requester_id=context.require_viewer())
        )
        async for response in context.each_event(call):
            ready = response.status.status == post_pb2.MEDIA_STATUS_READY
            post = await Post.fetch(info, number) if ready else None
            event = UploadEvent.from_proto(response.status, post)
            yield event
            if event.status in (MediaStatus.READY, MediaStatus.FAILED):
                return

    @described.subscription("Posts as they arrive in the viewer's home feed.")
    async def home_feed_updates(self, info: Info) -> AsyncGenerator[Post, None]:
        context = info.context
        call = context.clients.feed.WatchHomeFeed(
            feed_pb2.WatchHomeFeedRequest(viewer_id=context.require_viewer())
        )
        async for response in context.each_event(call):
            yield await Post.fetch(info, response.post_id)
