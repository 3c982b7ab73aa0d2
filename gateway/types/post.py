from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import strawberry

from gateway import ids
from gateway.context import Context
from gateway.errors import ErrorCode, GatewayError
from gateway.selection import names_below
from gateway.types.media import Media, rendition_keys
from gateway.types.node import Node
from gateway.types.page import PageInfo
from gateway.types.user import User, asks_for_counts
from pictor.post.v1 import post_pb2

Info = strawberry.Info[Context, None]


@strawberry.type
class Post(Node):
    id: strawberry.ID
    caption: str
    created_at: datetime
    media: Media
    post_id: strawberry.Private[int]
    author_id: strawberry.Private[int]
    # Loaded with the page when the query asks for author; None if the account is gone.
    author_profile: strawberry.Private[User | None]

    @strawberry.field
    def author(self) -> User:
        if self.author_profile is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "the author of this post no longer exists")
        return self.author_profile

    @classmethod
    async def fetch(cls, info: Info, post_id: int) -> Post:
        """The post as stored now, not a value the request's DataLoader cached earlier."""
        response = await info.context.clients.post.BatchGetPosts(
            post_pb2.BatchGetPostsRequest(post_ids=[post_id])
        )
        if not response.posts:
            raise GatewayError(ErrorCode.NOT_FOUND, "no such post")
        (post,) = await posts_for(info, response.posts)
        return post


async def posts_for(info: Info, protos: Sequence[post_pb2.Post]) -> list[Post]:
    """The posts as the query below ``info``'s field shows them: their authors loaded
    and their renditions signed in one backend call each, and only if asked for."""
    context = info.context
    asked = names_below(info)
    with_counts = asks_for_counts(asked)
    author_ids = list(dict.fromkeys(post.author_id for post in protos)) if "author" in asked else []
    keys = rendition_keys(list(protos)) if "url" in asked else []
    authors, urls = await asyncio.gather(
        context.profiles(author_ids, with_counts) if author_ids else _nothing(),
        context.sign(keys) if keys else _nothing(),
    )
    shown = {
        author_id: User.from_proto(profile, with_counts=with_counts)
        if profile is not None
        else None
        for author_id, profile in authors.items()
    }
    return [
        Post(
            id=strawberry.ID(ids.encode("Post", post.id)),
            post_id=post.id,
            author_id=post.author_id,
            author_profile=shown.get(post.author_id),
            caption=post.caption,
            created_at=post.created_at.ToDatetime(tzinfo=UTC),
            media=Media.from_proto(post.media, urls),
        )
        for post in protos
    ]


async def _nothing() -> dict[Any, Any]:
    return {}


@strawberry.type
class PostEdge:
    cursor: str
    node: Post


@strawberry.type
class PostConnection:
    edges: list[PostEdge]
    page_info: PageInfo

    @classmethod
    async def of(
        cls, info: Info, listed: Sequence[tuple[str, post_pb2.Post]], page_info: PageInfo
    ) -> PostConnection:
        """A page of posts from their cursors and protos, shown as ``info`` asks."""
        posts = await posts_for(info, [post for _, post in listed])
        edges = [
            PostEdge(cursor=cursor, node=post)
            for (cursor, _), post in zip(listed, posts, strict=True)
        ]
        return cls(edges=edges, page_info=page_info)
