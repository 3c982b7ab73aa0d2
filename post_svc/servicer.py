"""Translates PostService RPCs to the lifecycle and back; domain errors become
statuses where pictor.service wraps every handler."""

from __future__ import annotations

from functools import partial

from pictor.errors import InvalidInput
from pictor.paging import check_batch, read_page
from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.service import Context
from post_svc.lifecycle import PostLifecycle
from post_svc.posts import Post

PAGE_DEFAULT = 12
# Recent post ids per author for a rebuild: feed_svc keeps a quarter of a timeline.
RECENT_DEFAULT = 200
RECENT_MAX = 1000


def _post_id(post: Post) -> int:
    return post.id


class PostServicer(post_pb2_grpc.PostServiceServicer):
    def __init__(self, lifecycle: PostLifecycle) -> None:
        self._lifecycle = lifecycle

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
