from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC
from typing import cast

import grpc
import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from gateway import described, ids
from gateway.auth import issue_token
from gateway.context import Context, Info
from gateway.errors import with_retry_hint
from gateway.ratelimit import Action
from gateway.types.auth import AuthPayload
from gateway.types.post import Post, posts_for
from gateway.types.upload import CreatePostPayload, UploadHeader
from gateway.types.user import User
from pictor.graph.v1 import graph_pb2
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2

# Bytes per gRPC message when streaming an upload to media_svc.
UPLOAD_CHUNK_BYTES = 256 * 1024


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def sign_up(
        self, info: Info, username: str, password: str, display_name: str | None = None
    ) -> AuthPayload:
        context = info.context
        await context.limiter.count_attempt(context.client_address)
        try:
            response = await context.clients.graph.CreateUser(
                graph_pb2.CreateUserRequest(
                    username=username, password=password, display_name=display_name or ""
                )
            )
        except grpc.aio.AioRpcError as error:
            # Password hashing is bounded: a burst is told when to try again.
            raise with_retry_hint(error) from None
        return AuthPayload(
            token=issue_token(response.user.id, context.settings),
            user=User.from_proto(response.user, with_counts=True),
        )

    @strawberry.mutation
    async def log_in(self, info: Info, username: str, password: str) -> AuthPayload:
        context = info.context
        limiter = context.limiter
        await limiter.count_attempt(context.client_address)
        await limiter.check_username(username)
        try:
            response = await context.clients.graph.Authenticate(
                graph_pb2.AuthenticateRequest(username=username, password=password)
            )
        except grpc.aio.AioRpcError as error:
            if error.code() == grpc.StatusCode.UNAUTHENTICATED:
                await limiter.record_failure(username)
            raise with_retry_hint(error) from None
        await limiter.clear_failures(username)
        return AuthPayload(
            token=issue_token(response.user.id, context.settings),
            user=User.from_proto(response.user),
        )

    @described.mutation("Upload phase 1: creates a PENDING post and a pre-signed upload URL.")
    async def create_post(self, info: Info, caption: str, content_type: str) -> CreatePostPayload:
        context = info.context
        author = await context.act(Action.POST)
        created = await context.clients.post.CreatePost(
            post_pb2.CreatePostRequest(author_id=author, caption=caption, content_type=content_type)
        )
        try:
            upload = await context.clients.media.CreateUpload(
                media_pb2.CreateUploadRequest(
                    post_id=created.post.id,
                    author_id=author,
                    content_type=created.post.media.declared_content_type,
                )
            )
        except BaseException:
            await _abandon(context, created.post.id, author)
            raise
        return CreatePostPayload(
            post=(await posts_for(info, [created.post]))[0],
            upload_url=upload.upload_url,
            upload_headers=[
                UploadHeader(name=h.name, value=h.value) for h in upload.upload_headers
            ],
            expires_at=upload.expires_at.ToDatetime(tzinfo=UTC),
        )

    @described.mutation(
        "Upload phase 2: the bytes are at uploadUrl; start processing. Only the author may confirm."
    )
    async def confirm_upload(self, info: Info, post_id: strawberry.ID) -> Post:
        context = info.context
        number = ids.decode("Post", post_id)
        call = context.clients.media.ConfirmUpload(
            media_pb2.ConfirmUploadRequest(
                post_id=number, requester_id=context.require_viewer(), acknowledge_only=True
            )
        )
        # The one status says processing has started; uploadStatus follows the rest.
        async for _status in call:
            pass
        return await Post.fetch(info, number)

    @described.mutation(
        "One-shot upload through the gateway (multipart spec); "
        "bytes are streamed to the media service."
    )
    async def upload_post(self, info: Info, caption: str, file: Upload) -> Post:
        context = info.context
        # Strawberry types the scalar as bytes; Starlette hands over the part itself.
        upload = cast(UploadFile, file)
        author = await context.act(Action.POST)
        # No declared type: the file part's label is the client's guess (often
        # application/octet-stream); media_svc takes the type from the bytes.
        created = await context.clients.post.CreatePost(
            post_pb2.CreatePostRequest(author_id=author, caption=caption)
        )

        start = media_pb2.UploadStart(
            post_id=created.post.id, requester_id=author, acknowledge_only=True
        )
        call = context.clients.media.StreamUpload(streamed(start, upload))
        try:
            # Progress, then the received confirmation; processing has started by then.
            async for _event in call:
                pass
        except BaseException:
            # The upload never arrived whole, or was no photo.
            await _abandon(context, created.post.id, author)
            raise
        return await Post.fetch(info, created.post.id)

    @described.mutation("Only the author may delete. Removes the post from profiles and feeds.")
    async def delete_post(self, info: Info, id: strawberry.ID) -> bool:
        context = info.context
        await context.clients.post.DeletePost(
            post_pb2.DeletePostRequest(
                post_id=ids.decode("Post", id), requester_id=context.require_viewer()
            )
        )
        return True

    @described.mutation("Idempotent. Returns the followed user.")
    async def follow(self, info: Info, user_id: strawberry.ID) -> User:
        return await _set_following(info.context, user_id, following=True)

    @described.mutation("Idempotent. Returns the unfollowed user.")
    async def unfollow(self, info: Info, user_id: strawberry.ID) -> User:
        return await _set_following(info.context, user_id, following=False)


async def streamed(
    start: media_pb2.UploadStart, upload: UploadFile
) -> AsyncIterator[media_pb2.StreamUploadRequest]:
    """A multipart file part as media_svc's streamed upload: the start, then chunks."""
    yield media_pb2.StreamUploadRequest(start=start)
    while chunk := await upload.read(UPLOAD_CHUNK_BYTES):
        yield media_pb2.StreamUploadRequest(chunk=chunk)


async def _set_following(context: Context, user_id: strawberry.ID, *, following: bool) -> User:
    """The viewer (counted against their follow limit) follows or unfollows the user;
    the user as of the change, with their counts."""
    follower, followee = await context.act(Action.FOLLOW), ids.decode("User", user_id)
    graph = context.clients.graph
    response = await (
        graph.Follow(graph_pb2.FollowRequest(follower_id=follower, followee_id=followee))
        if following
        else graph.Unfollow(graph_pb2.UnfollowRequest(follower_id=follower, followee_id=followee))
    )
    return User.from_proto(response.followee, with_counts=True)


async def _abandon(context: Context, post_id: int, author: int) -> None:
    """Deletes a post whose upload could not start: no PENDING post is left behind."""
    await context.clients.post.DeletePost(
        post_pb2.DeletePostRequest(post_id=post_id, requester_id=author)
    )
