"""Translates PostService RPCs to the lifecycle and back; domain errors become
statuses in pictor.service's interceptor."""

from __future__ import annotations

import grpc

from pictor.common.v1 import common_pb2
from pictor.errors import InvalidInput
from pictor.paging import after_id, check_batch, page_size
from pictor.post.v1 import post_pb2, post_pb2_grpc
from post_svc.lifecycle import PostLifecycle
from post_svc.store import PostStore

PAGE_DEFAULT = 12
# Recent post ids per author for a rebuild: feed_svc keeps a quarter of a timeline.
RECENT_DEFAULT = 200
RECENT_MAX = 1000

Context = grpc.aio.ServicerContext


class PostServicer(post_pb2_grpc.PostServiceServicer):
    def __init__(self, lifecycle: PostLifecycle, store: PostStore) -> None:
        self._lifecycle = lifecycle
        self._store = store

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
        size = page_size(request.page.page_size, PAGE_DEFAULT)
        after = after_id(request.page.page_token)
        posts = await self._store.profile_page(request.user_id, after, size + 1)
        edges = [
            post_pb2.PostEdge(post=post.to_proto(), cursor=str(post.id)) for post in posts[:size]
        ]
        more = len(posts) > size
        return post_pb2.ListUserPostsResponse(
            edges=edges,
            page=common_pb2.PageResponse(next_page_token=edges[-1].cursor if more else ""),
        )

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
