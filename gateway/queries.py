from __future__ import annotations

import grpc
import strawberry

from gateway import described, ids
from gateway.context import Info
from gateway.selection import names_below
from gateway.types.comment import load_comment
from gateway.types.node import Node
from gateway.types.notification import load_notification
from gateway.types.page import PageInfo
from gateway.types.post import Post, PostConnection, posts_for
from gateway.types.user import User, asks_for_counts
from pictor.feed.v1 import feed_pb2
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2


async def load_user(info: Info, user_id: int) -> User | None:
    with_counts = asks_for_counts(names_below(info))
    user = (await info.context.profiles([user_id], with_counts))[user_id]
    return User.from_proto(user, with_counts=with_counts) if user is not None else None


async def load_post(info: Info, post_id: int) -> Post | None:
    """The post, if the viewer may see it: everyone once it is READY, only its author
    before (or after a failure)."""
    context = info.context
    post = await context.posts.load(post_id)
    if post is None:
        return None
    if post.media.status != post_pb2.MEDIA_STATUS_READY and post.author_id != context.viewer_id:
        return None
    (shown,) = await posts_for(info, [post])
    return shown


@strawberry.type
class Query:
    @described.field("The signed-in user, null when anonymous.")
    async def viewer(self, info: Info) -> User | None:
        viewer = info.context.viewer_id
        return await load_user(info, viewer) if viewer is not None else None

    @strawberry.field
    async def user(self, info: Info, username: str) -> User | None:
        try:
            response = await info.context.clients.graph.GetUserByUsername(
                graph_pb2.GetUserByUsernameRequest(username=username)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return User.from_proto(response.user, with_counts=True)

    @strawberry.field
    async def post(self, info: Info, id: strawberry.ID) -> Post | None:
        return await load_post(info, ids.decode("Post", id))

    @strawberry.field
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        kind, value = ids.decode_any(id)
        if isinstance(value, str):
            return await load_notification(info, value)
        if kind == "User":
            return await load_user(info, value)
        if kind == "Comment":
            return await load_comment(info, value)
        return await load_post(info, value)

    @described.field("Reverse-chronological posts of everyone the viewer follows. Requires auth.")
    async def home_feed(
        self, info: Info, first: int | None = 12, after: str | None = None
    ) -> PostConnection:
        context = info.context
        response = await context.clients.feed.GetHomeFeed(
            feed_pb2.GetHomeFeedRequest(
                viewer_id=context.require_viewer(),
                page_size=context.page_size(first, 12),
                cursor=after or "",
            )
        )
        # Counts and the viewer's likes, when asked, come in the same call as the posts.
        asked = names_below(info)
        found = await context.post_loader(asked).load_many(
            [item.post_id for item in response.items]
        )
        # A post deleted after the timeline was read is dropped, never shown.
        return await PostConnection.of(
            info,
            [(item.cursor, post) for item, post in zip(response.items, found, strict=True) if post],
            PageInfo.after(response.items, response.next_cursor),
            asked,
        )
