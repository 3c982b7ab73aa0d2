"""Translates PostService RPCs to the lifecycle and back; domain errors become
statuses where pictor.service wraps every handler."""

from __future__ import annotations

from functools import partial

from pictor.errors import InvalidInput
from pictor.paging import check_batch, read_page
from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.service import Context
from post_svc.comments import Comments
from post_svc.engagement import Engagement
from post_svc.lifecycle import PostLifecycle
from post_svc.likes import Likes
from post_svc.posts import Post

PAGE_DEFAULT = 12
# Recent post ids per author for a rebuild: feed_svc keeps a quarter of a timeline.
RECENT_DEFAULT = 200
RECENT_MAX = 1000


def _post_id(post: Post) -> int:
    return post.id


class PostServicer(post_pb2_grpc.PostServiceServicer):
    def __init__(
        self,
        lifecycle: PostLifecycle,
        likes: Likes,
        comments: Comments,
        engagement: Engagement,
    ) -> None:
        self._lifecycle = lifecycle
        self._likes = likes
        self._comments = comments
        self._engagement = engagement

    async def CreatePost(
        self, request: post_pb2.CreatePostRequest, context: Context
    ) -> post_pb2.CreatePostResponse:
        post = await self._lifecycle.create(
            request.author_id, request.caption, request.content_type
        )
        return post_pb2.CreatePostResponse(post=post.to_proto())

    async def BatchGetPosts(
        self, request: post_pb2.BatchGetPostsRequest, context: Context
    ) -> post_pb2.BatchGetPostsResponse:
        check_batch(len(request.post_ids))
        response = post_pb2.BatchGetPostsResponse()
        for record in await self._lifecycle.hydrate(request.post_ids):
            response.posts.add().MergeFromString(record)
        if request.with_counts or request.with_viewer_liked:
            found = await self._engagement.of_posts(
                [post.id for post in response.posts],
                request.viewer_id,
                counts=request.with_counts,
                liked=request.with_viewer_liked,
            )
            for post, engagement in zip(response.posts, found, strict=True):
                post.engagement.CopyFrom(engagement)
        return response

    async def ListUserPosts(
        self, request: post_pb2.ListUserPostsRequest, context: Context
    ) -> post_pb2.ListUserPostsResponse:
        posts, page = await read_page(
            request.page, PAGE_DEFAULT, partial(self._lifecycle.profile, request.user_id), _post_id
        )
        edges = [post_pb2.PostEdge(post=post.to_proto(), cursor=str(post.id)) for post in posts]
        return post_pb2.ListUserPostsResponse(edges=edges, page=page)

    async def RecentPostIds(
        self, request: post_pb2.RecentPostIdsRequest, context: Context
    ) -> post_pb2.RecentPostIdsResponse:
        check_batch(len(request.author_ids))
        limit = min(request.limit or RECENT_DEFAULT, RECENT_MAX)
        if limit < 1:
            raise InvalidInput("limit must be positive")
        found = await self._lifecycle.recent_ids(request.author_ids, limit)
        return post_pb2.RecentPostIdsResponse(
            authors=[
                post_pb2.AuthorPostIds(author_id=author_id, post_ids=post_ids)
                for author_id, post_ids in found.items()
            ]
        )

    async def UpdateMedia(
        self, request: post_pb2.UpdateMediaRequest, context: Context
    ) -> post_pb2.UpdateMediaResponse:
        post, moved = await self._lifecycle.update_media(request.post_id, request.media)
        return post_pb2.UpdateMediaResponse(post=post.to_proto(), changed=moved)

    async def DeletePost(
        self, request: post_pb2.DeletePostRequest, context: Context
    ) -> post_pb2.DeletePostResponse:
        await self._lifecycle.delete(request.post_id, request.requester_id)
        return post_pb2.DeletePostResponse()

    async def LikePost(
        self, request: post_pb2.LikePostRequest, context: Context
    ) -> post_pb2.LikePostResponse:
        await self._likes.like(request.post_id, request.user_id)
        return post_pb2.LikePostResponse()

    async def UnlikePost(
        self, request: post_pb2.UnlikePostRequest, context: Context
    ) -> post_pb2.UnlikePostResponse:
        await self._likes.unlike(request.post_id, request.user_id)
        return post_pb2.UnlikePostResponse()

    async def ListLikes(
        self, request: post_pb2.ListLikesRequest, context: Context
    ) -> post_pb2.ListLikesResponse:
        rows, page = await self._likes.who_liked(request.post_id, request.page)
        edges = [
            post_pb2.LikeEdge(user_id=user_id, cursor=str(like_id)) for like_id, user_id in rows
        ]
        return post_pb2.ListLikesResponse(edges=edges, page=page)

    async def AddComment(
        self, request: post_pb2.AddCommentRequest, context: Context
    ) -> post_pb2.AddCommentResponse:
        comment = await self._comments.add(request.post_id, request.author_id, request.text)
        return post_pb2.AddCommentResponse(comment=comment.to_proto())

    async def DeleteComment(
        self, request: post_pb2.DeleteCommentRequest, context: Context
    ) -> post_pb2.DeleteCommentResponse:
        await self._comments.delete(request.comment_id, request.requester_id)
        return post_pb2.DeleteCommentResponse()

    async def ListComments(
        self, request: post_pb2.ListCommentsRequest, context: Context
    ) -> post_pb2.ListCommentsResponse:
        comments, page = await self._comments.of_post(request.post_id, request.page)
        edges = [
            post_pb2.CommentEdge(comment=comment.to_proto(), cursor=str(comment.id))
            for comment in comments
        ]
        return post_pb2.ListCommentsResponse(edges=edges, page=page)

    async def BatchGetComments(
        self, request: post_pb2.BatchGetCommentsRequest, context: Context
    ) -> post_pb2.BatchGetCommentsResponse:
        check_batch(len(request.comment_ids))
        comments = await self._comments.by_ids(request.comment_ids)
        return post_pb2.BatchGetCommentsResponse(comments=[c.to_proto() for c in comments])

    async def SetAltText(
        self, request: post_pb2.SetAltTextRequest, context: Context
    ) -> post_pb2.SetAltTextResponse:
        post = await self._lifecycle.set_alt_text(
            request.post_id, request.requester_id, request.alt_text
        )
        return post_pb2.SetAltTextResponse(post=post.to_proto())
