"""Likes, comments and alt text: the mutations (merged into the schema's Mutation). The
lists of who liked a post and of its comments, its counts and the viewer's like are
read with the posts (gateway.types.post), not here."""

from __future__ import annotations

import strawberry

from gateway import described, ids
from gateway.context import Info
from gateway.ratelimit import Action
from gateway.types.comment import Comment, comments_for
from gateway.types.post import Post, posts_for
from pictor.post.v1 import post_pb2


@strawberry.type
class EngagementMutation:
    @described.mutation("Idempotent.")
    async def like_post(self, info: Info, post_id: strawberry.ID) -> Post:
        return await _set_liked(info, post_id, liked=True)

    @described.mutation("Idempotent.")
    async def unlike_post(self, info: Info, post_id: strawberry.ID) -> Post:
        return await _set_liked(info, post_id, liked=False)

    @described.mutation("1 to 2,200 characters.")
    async def add_comment(self, info: Info, post_id: strawberry.ID, text: str) -> Comment:
        context = info.context
        response = await context.clients.post.AddComment(
            post_pb2.AddCommentRequest(
                post_id=ids.decode("Post", post_id),
                author_id=await context.act(Action.COMMENT),
                text=text,
            )
        )
        (comment,) = await comments_for(info, [response.comment])
        return comment

    @described.mutation("The comment's author or the post's author may delete.")
    async def delete_comment(self, info: Info, id: strawberry.ID) -> bool:
        context = info.context
        await context.clients.post.DeleteComment(
            post_pb2.DeleteCommentRequest(
                comment_id=ids.decode("Comment", id), requester_id=await context.act(Action.COMMENT)
            )
        )
        return True

    @described.mutation("Only the author.")
    async def set_alt_text(self, info: Info, post_id: strawberry.ID, alt_text: str) -> Post:
        context = info.context
        response = await context.clients.post.SetAltText(
            post_pb2.SetAltTextRequest(
                post_id=ids.decode("Post", post_id),
                requester_id=context.require_viewer(),
                alt_text=alt_text,
            )
        )
        (post,) = await posts_for(info, [response.post])
        return post


async def _set_liked(info: Info, post_id: strawberry.ID, *, liked: bool) -> Post:
    """The viewer (counted against their like limit) likes or unlikes the post."""
    context = info.context
    post, user = ids.decode("Post", post_id), await context.act(Action.LIKE)
    if liked:
        await context.clients.post.LikePost(post_pb2.LikePostRequest(post_id=post, user_id=user))
    else:
        await context.clients.post.UnlikePost(
            post_pb2.UnlikePostRequest(post_id=post, user_id=user)
        )
    return await Post.fetch(info, post)
