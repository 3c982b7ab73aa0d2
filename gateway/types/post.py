from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import strawberry

from gateway import described, ids
from gateway.context import Context, Info
from gateway.errors import ErrorCode, GatewayError
from gateway.selection import names_below
from gateway.types.media import Media, rendition_keys
from gateway.types.node import Node
from gateway.types.page import PageInfo
from gateway.types.user import User, UserConnection, shown_authors
from pictor.post.v1 import post_pb2

if TYPE_CHECKING:
    from gateway.types.comment import CommentConnection

CommentConnectionType = Annotated["CommentConnection", strawberry.lazy("gateway.types.comment")]


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
    # Read with the posts when the query names them (Context.posts_request).
    like_count: int
    comment_count: int
    viewer_has_liked: bool = strawberry.field(description="False when anonymous.")
    alt_text: str | None = strawberry.field(
        description="Text for screen readers, set by the author."
    )

    @described.field("Oldest first.")
    async def comments(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> CommentConnectionType:
        from gateway.types.comment import CommentConnection

        context = info.context
        request = post_pb2.ListCommentsRequest(
            post_id=self.post_id, page=context.page_request(first, after, default=20)
        )
        return await CommentConnection.of(info, await context.clients.post.ListComments(request))

    @described.field("Who liked it, newest first.")
    async def likes(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> UserConnection:
        context = info.context
        request = post_pb2.ListLikesRequest(
            post_id=self.post_id, page=context.page_request(first, after, default=20)
        )
        return await UserConnection.of(info, await context.clients.post.ListLikes(request))

    @strawberry.field
    def author(self) -> User:
        if self.author_profile is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "the author of this post no longer exists")
        return self.author_profile

    @classmethod
    async def fetch(cls, info: Info, post_id: int) -> Post:
        """The post as stored now, not a value the request's DataLoader cached earlier."""
        asked = names_below(info)
        response = await info.context.clients.post.BatchGetPosts(
            info.context.posts_request([post_id], asked)
        )
        if not response.posts:
            raise GatewayError(ErrorCode.NOT_FOUND, "no such post")
        (post,) = await posts_for(info, response.posts, asked)
        return post


async def posts_for(
    info: Info, protos: Sequence[post_pb2.Post], asked: frozenset[str] | None = None
) -> list[Post]:
    """The posts as the query below ``info``'s field shows them (``asked``, when the
    caller has read it already): their authors loaded, their renditions signed and
    their counts and the viewer's like read in one backend call each, and only if
    asked for; posts read with ``Context.post_loader(asked)`` carry the last already."""
    context = info.context
    asked = names_below(info) if asked is None else asked
    keys = rendition_keys(list(protos)) if "url" in asked else []
    shown, urls, engagement = await asyncio.gather(
        shown_authors(context, [post.author_id for post in protos], asked),
        context.sign(keys) if keys else _nothing(),
        _engagement(context, protos, asked),
    )
    return [
        Post(
            id=strawberry.ID(ids.encode("Post", post.id)),
            post_id=post.id,
            author_id=post.author_id,
            author_profile=shown.get(post.author_id),
            caption=post.caption,
            created_at=post.created_at.ToDatetime(tzinfo=UTC),
            media=Media.from_proto(post.media, urls),
            like_count=(shown_engagement := engagement.get(post.id, _NONE)).like_count,
            comment_count=shown_engagement.comment_count,
            viewer_has_liked=shown_engagement.viewer_has_liked,
            alt_text=post.alt_text or None,
        )
        for post in protos
    ]


_NONE = post_pb2.Engagement()


async def _engagement(
    context: Context, protos: Sequence[post_pb2.Post], asked: frozenset[str]
) -> dict[int, post_pb2.Engagement]:
    """Each post's counts and viewer's like, as far as asked: those it was read with,
    else read now in one call."""
    loader = context.post_loader(asked)
    if loader is context.posts:
        return {}
    if all(post.HasField("engagement") for post in protos):
        return {post.id: post.engagement for post in protos}
    found = await loader.load_many([post.id for post in protos])
    return {post.id: post.engagement for post in found if post is not None}


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
        cls,
        info: Info,
        listed: Sequence[tuple[str, post_pb2.Post]],
        page_info: PageInfo,
        asked: frozenset[str] | None = None,
    ) -> PostConnection:
        """A page of posts from their cursors and protos, shown as ``info`` asks."""
        posts = await posts_for(info, [post for _, post in listed], asked)
        edges = [
            PostEdge(cursor=cursor, node=post)
            for (cursor, _), post in zip(listed, posts, strict=True)
        ]
        return cls(edges=edges, page_info=page_info)
