from __future__ import annotations

from datetime import UTC, datetime

import strawberry

from gateway import ids
from gateway.context import Context
from gateway.errors import ErrorCode, GatewayError
from gateway.types.media import Media
from gateway.types.node import Node
from gateway.types.page import PageInfo
from gateway.types.user import User
from pictor.post.v1 import post_pb2


@strawberry.type
class Post(Node):
    id: strawberry.ID
    caption: str
    created_at: datetime
    media: Media
    post_id: strawberry.Private[int]
    author_id: strawberry.Private[int]

    @classmethod
    def from_proto(cls, post: post_pb2.Post) -> Post:
        return cls(
            id=strawberry.ID(ids.encode("Post", post.id)),
            post_id=post.id,
            author_id=post.author_id,
            caption=post.caption,
            created_at=post.created_at.ToDatetime(tzinfo=UTC),
            media=Media.from_proto(post.media),
        )

    @classmethod
    async def fetch(cls, context: Context, post_id: int) -> Post:
        """The post as stored now, not a value the request's DataLoader cached earlier."""
        response = await context.clients.post.BatchGetPosts(
            post_pb2.BatchGetPostsRequest(post_ids=[post_id])
        )
        if not response.posts:
            raise GatewayError(ErrorCode.NOT_FOUND, "no such post")
        return cls.from_proto(response.posts[0])

    @strawberry.field
    async def author(self, info: strawberry.Info[Context, None]) -> User:
        author = await info.context.users.load(self.author_id)
        if author is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "the author of this post no longer exists")
        return User.from_proto(author)


@strawberry.type
class PostEdge:
    cursor: str
    node: Post


@strawberry.type
class PostConnection:
    edges: list[PostEdge]
    page_info: PageInfo
