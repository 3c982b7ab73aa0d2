"""Translates GraphService RPCs to the domain and back. RPCs not overridden here
answer UNIMPLEMENTED (the generated base class)."""

from __future__ import annotations

import grpc

from graph_svc.store import UserStore
from graph_svc.users import User, normalize_username
from pictor.errors import InvalidInput, NotFound
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc

# A batch bigger than any page the gateway asks for.
BATCH_MAX = 500


def _user_proto(user: User) -> graph_pb2.User:
    proto = graph_pb2.User(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
    )
    proto.created_at.FromDatetime(user.created_at)
    return proto


class GraphServicer(graph_pb2_grpc.GraphServiceServicer):
    def __init__(self, users: UserStore) -> None:
        self._users = users

    async def GetUserByUsername(
        self,
        request: graph_pb2.GetUserByUsernameRequest,
        context: grpc.aio.ServicerContext[
            graph_pb2.GetUserByUsernameRequest, graph_pb2.GetUserByUsernameResponse
        ],
    ) -> graph_pb2.GetUserByUsernameResponse:
        user = await self._users.get_by_username(normalize_username(request.username))
        if user is None:
            raise NotFound(f"no user named {request.username!r}")
        return graph_pb2.GetUserByUsernameResponse(user=_user_proto(user))

    async def BatchGetUsers(
        self,
        request: graph_pb2.BatchGetUsersRequest,
        context: grpc.aio.ServicerContext[
            graph_pb2.BatchGetUsersRequest, graph_pb2.BatchGetUsersResponse
        ],
    ) -> graph_pb2.BatchGetUsersResponse:
        if len(request.user_ids) > BATCH_MAX:
            raise InvalidInput(f"at most {BATCH_MAX} ids per batch")
        users = await self._users.get_many(request.user_ids)
        return graph_pb2.BatchGetUsersResponse(users=[_user_proto(user) for user in users])
