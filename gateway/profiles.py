"""The viewer's own profile: display name, bio and avatar (merged into the schema's
Mutation)."""

from __future__ import annotations

import strawberry

from gateway import described
from gateway.context import Context
from gateway.types.user import User
from pictor.graph.v1 import graph_pb2

Info = strawberry.Info[Context, None]


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
