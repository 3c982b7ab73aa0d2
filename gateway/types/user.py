from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import ids
from gateway.context import Context
from gateway.types.node import Node
from gateway.types.page import PageInfo
from pictor.common.v1 import common_pb2
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2

if TYPE_CHECKING:
    from gateway.types.post import PostConnection

PostConnectionType = Annotated["PostConnection", strawberry.lazy("gateway.types.post")]


@strawberry.type
class User(Node):
    id: strawberry.ID
    username: str
    display_name: str | None
    bio: str | None
    follower_count: int
    following_count: int
    post_count: int
    user_id: strawberry.Private[int]

    @classmethod
    def from_proto(cls, user: graph_pb2.User) -> User:
        return cls(
            id=strawberry.ID(ids.encode("User", user.id)),
            user_id=user.id,
            username=user.username,
            display_name=user.display_name or None,
            bio=user.bio or None,
            follower_count=user.follower_count,
            following_count=user.following_count,
            post_count=user.post_count,
        )

    @strawberry.field(
        description="True when the signed-in viewer follows this user (false when anonymous)."
    )
    async def viewer_follows(self, info: strawberry.Info[Context, None]) -> bool:
        return await info.context.viewer_follows.load(self.user_id)

    @strawberry.field(description="Profile grid, newest first. Only READY posts.")
    async def posts(
        self, info: strawberry.Info[Context, None], first: int | None = 12, after: str | None = None
    ) -> PostConnectionType:
        from gateway.types.post import Post, PostConnection, PostEdge

        context = info.context
        response = await context.clients.post.ListUserPosts(
            post_pb2.ListUserPostsRequest(
                user_id=self.user_id,
                page=common_pb2.PageRequest(
                    page_size=context.page_size(first, 12), page_token=after
                ),
            )
        )
        edges = [
            PostEdge(cursor=edge.cursor, node=Post.from_proto(edge.post)) for edge in response.edges
        ]
        return PostConnection(
            edges=edges,
            page_info=PageInfo(
                has_next_page=bool(response.page.next_page_token),
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )

    @strawberry.field
    async def followers(
        self, info: strawberry.Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        context = info.context
        response = await context.clients.graph.ListFollowers(
            graph_pb2.ListFollowersRequest(
                user_id=self.user_id,
                page=common_pb2.PageRequest(
                    page_size=context.page_size(first, 20), page_token=after
                ),
            )
        )
        return await UserConnection.from_edges(context, response.edges, response.page)

    @strawberry.field
    async def following(
        self, info: strawberry.Info[Context, None], first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        context = info.context
        response = await context.clients.graph.ListFollowing(
            graph_pb2.ListFollowingRequest(
                user_id=self.user_id,
                page=common_pb2.PageRequest(
                    page_size=context.page_size(first, 20), page_token=after
                ),
            )
        )
        return await UserConnection.from_edges(context, response.edges, response.page)


@strawberry.type
class UserEdge:
    cursor: str
    node: User


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo

    @classmethod
    async def from_edges(
        cls,
        context: Context,
        edges: list[graph_pb2.FollowEdge],
        page: common_pb2.PageResponse,
    ) -> UserConnection:
        users = await context.users.load_many([edge.user_id for edge in edges])
        # An account deleted between the edge read and the user read is left out.
        built = [
            UserEdge(cursor=edge.cursor, node=User.from_proto(user))
            for edge, user in zip(edges, users, strict=True)
            if user is not None
        ]
        return cls(
            edges=built,
            page_info=PageInfo(
                has_next_page=bool(page.next_page_token),
                end_cursor=edges[-1].cursor if edges else None,
            ),
        )
