"""The viewer's own profile: display name, bio and avatar (merged into the schema's
Mutation)."""

from __future__ import annotations

from typing import cast

import strawberry
from starlette.datastructures import UploadFile
from strawberry.file_uploads import Upload

from gateway import described
from gateway.context import Info
from gateway.errors import ErrorCode, GatewayError
from gateway.mutations import streamed
from gateway.ratelimit import Action
from gateway.types.user import User
from pictor.graph.v1 import graph_pb2
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2


@strawberry.type
class ProfileMutation:
    @described.mutation("Null arguments leave a field as it is.")
    async def update_profile(
        self, info: Info, display_name: str | None = None, bio: str | None = None
    ) -> User:
        context = info.context
        response = await context.clients.graph.UpdateProfile(
            graph_pb2.UpdateProfileRequest(
                user_id=context.require_viewer(), display_name=display_name, bio=bio
            )
        )
        return User.from_proto(response.user, with_counts=True)

    @strawberry.mutation
    async def update_avatar(self, info: Info, file: Upload) -> User:
        """Streams the photo to media_svc as a post's one-shot upload goes, and follows
        its processing to the end: the answer shows the new avatar READY (or says why
        it failed). Counted against the viewer's posting limit, as any upload."""
        context = info.context
        viewer = await context.act(Action.POST)
        created = await context.clients.graph.CreateAvatar(
            graph_pb2.CreateAvatarRequest(user_id=viewer)
        )
        start = media_pb2.UploadStart(
            post_id=created.avatar.avatar_id, requester_id=viewer, avatar=True
        )
        call = context.clients.media.StreamUpload(streamed(start, cast(UploadFile, file)))
        async for event in call:
            status = event.status
            if event.HasField("status") and status.status == post_pb2.MEDIA_STATUS_FAILED:
                raise GatewayError(ErrorCode.BAD_USER_INPUT, status.message or "not a photo")
        user = (await context.profiles([viewer], with_counts=True))[viewer]
        if user is None:
            raise GatewayError(ErrorCode.NOT_FOUND, "no such user")
        return User.from_proto(user, with_counts=True)
