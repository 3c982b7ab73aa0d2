"""Comments as the contract shows them (engagement.graphql): a post's comments, oldest
first, each with its author loaded with the page."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import strawberry

from gateway import ids
from gateway.context import Info
from gateway.errors import ErrorCode, GatewayError
from gateway.selection import names_below
from gateway.types.node import Node
from gateway.types.page import PageInfo
from gateway.types.user import User, shown_authors
from pictor.post.v1 import post_pb2

if TYPE_CHECKING:
    from gateway.types.post import Post

PostType = Annotated["Post", strawberry.lazy("gateway.types.post")]


@strawberry.type
class Comment(Node):
    id: strawberry.ID
    text: str
    created_at: datetime
    comment_id: strawberry.Private[int]
    post_id: strawberry.Private[int]
    # Loaded with the page when the query asks for author; None if the account is gone.
    author_profile: strawberry.Private[User | None]

    @strawberry.field
    def author(self) -> User:
        if self.author_profile is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "the author of this comment no longer exists")
        return self.author_profile

    @strawberry.field
    async def post(self, info: Info) -> PostType:
        from gateway.types.post import posts_for

        found = await info.context.posts.load(self.post_id)
        if found is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "the post of this comment no longer exists")
        (shown,) = await posts_for(info, [found])
        return shown


async def comments_for(info: Info, protos: Sequence[post_pb2.Comment]) -> list[Comment]:
    """The comments as the query below ``info``'s field shows them: their authors
    loaded in one call, and only if asked for."""
    shown = await shown_authors(info.context, [c.author_id for c in protos], names_below(info))
    return [
        Comment(
            id=strawberry.ID(ids.encode("Comment", comment.id)),
            comment_id=comment.id,
            post_id=comment.post_id,
            author_profile=shown.get(comment.author_id),
            text=comment.text,
            created_at=comment.created_at.ToDatetime(tzinfo=UTC),
        )
        for comment in protos
    ]


async def load_comment(info: Info, comment_id: int) -> Comment | None:
    """The comment, if it exists (a deleted post's comments are gone with it)."""
    response = await info.context.clients.post.BatchGetComments(
        post_pb2.BatchGetCommentsRequest(comment_ids=[comment_id])
    )
    shown = await comments_for(info, response.comments)
    return shown[0] if shown else None


@strawberry.type
class CommentEdge:
    cursor: str
    node: Comment


@strawberry.type
class CommentConnection:
    edges: list[CommentEdge]
    page_info: PageInfo

    @classmethod
    async def of(cls, info: Info, listed: post_pb2.ListCommentsResponse) -> CommentConnection:
        """A page of a post's comments, as listed by post_svc."""
        comments = await comments_for(info, [edge.comment for edge in listed.edges])
        return cls(
            edges=[
                CommentEdge(cursor=edge.cursor, node=comment)
                for edge, comment in zip(listed.edges, comments, strict=True)
            ],
            page_info=PageInfo.after(listed.edges, listed.page.next_page_token),
        )
