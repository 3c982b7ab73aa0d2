"""Translates GraphService RPCs to the domain (accounts, follows, profiles) and back;
domain errors become statuses where pictor.service wraps every handler."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from functools import partial

from graph_svc.accounts import IMPORTS_IN_FLIGHT, Accounts, ImportedAccount
from graph_svc.avatars import Avatars, media_of
from graph_svc.follows import FollowGraph
from graph_svc.profiles import Profiles, user_proto
from graph_svc.store import AvatarRow
from graph_svc.users import Edge
from pictor.common.v1 import common_pb2
from pictor.errors import InvalidInput
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.paging import check_batch, page_size, read_page
from pictor.service import Context

PAGE_DEFAULT = 20
STREAM_PAGE_DEFAULT = 1000
STREAM_PAGE_MAX = 5000
# Edges per ImportFollows call: held in memory while grouped by partition.
IMPORT_MAX = 200_000


def _edge_proto(edge: Edge) -> graph_pb2.FollowEdge:
    proto = graph_pb2.FollowEdge(user_id=edge.user_id, cursor=str(edge.user_id))
    if edge.followed_at is not None:
        proto.followed_at.FromDatetime(edge.followed_at)
    return proto


def _edge_id(edge: Edge) -> int:
    return edge.user_id


async def _edge_page(
    read: Callable[[int, int | None, int], Awaitable[list[Edge]]],
    user_id: int,
    page: common_pb2.PageRequest,
) -> tuple[list[graph_pb2.FollowEdge], common_pb2.PageResponse]:
    edges, next_page = await read_page(page, PAGE_DEFAULT, partial(read, user_id), _edge_id)
    return [_edge_proto(edge) for edge in edges], next_page


def _avatar_proto(avatar: AvatarRow) -> graph_pb2.Avatar:
    return graph_pb2.Avatar(
        avatar_id=avatar.avatar_id, user_id=avatar.user_id, media=media_of(avatar)
    )


async def _imported_accounts(
    requests: AsyncIterator[graph_pb2.ImportUsersRequest],
) -> AsyncIterator[list[ImportedAccount]]:
    """The requests in chunks of what an import creates at once."""
    chunk: list[ImportedAccount] = []
    async for request in requests:
        chunk.append(ImportedAccount(request.username, request.display_name, request.password_hash))
        if len(chunk) == IMPORTS_IN_FLIGHT:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class GraphServicer(graph_pb2_grpc.GraphServiceServicer):
    def __init__(
        self, accounts: Accounts, graph: FollowGraph, profiles: Profiles, avatars: Avatars
    ) -> None:
        self._accounts = accounts
        self._graph = graph
        self._profiles = profiles
        self._avatars = avatars

    async def CreateUser(
        self, request: graph_pb2.CreateUserRequest, context: Context
    ) -> graph_pb2.CreateUserResponse:
        user = await self._accounts.sign_up(
            request.username, request.password, request.display_name, context.time_remaining()
        )
        return graph_pb2.CreateUserResponse(user=user_proto(user))

    async def Authenticate(
        self, request: graph_pb2.AuthenticateRequest, context: Context
    ) -> graph_pb2.AuthenticateResponse:
        user = await self._accounts.log_in(
            request.username, request.password, context.time_remaining()
        )
        return graph_pb2.AuthenticateResponse(user=user_proto(user))

    async def GetUserByUsername(
        self, request: graph_pb2.GetUserByUsernameRequest, context: Context
    ) -> graph_pb2.GetUserByUsernameResponse:
        user = await self._profiles.by_username(request.username)
        return graph_pb2.GetUserByUsernameResponse(user=user_proto(user))

    async def BatchGetUsers(
        self, request: graph_pb2.BatchGetUsersRequest, context: Context
    ) -> graph_pb2.BatchGetUsersResponse:
        check_batch(len(request.user_ids))
        if not request.profiles_only:
            users = await self._profiles.with_counts(request.user_ids)
            return graph_pb2.BatchGetUsersResponse(users=[user_proto(user) for user in users])
        response = graph_pb2.BatchGetUsersResponse()
        for record in await self._profiles.hydrate(request.user_ids):
            response.users.add().MergeFromString(record)
        return response

    async def Follow(
        self, request: graph_pb2.FollowRequest, context: Context
    ) -> graph_pb2.FollowResponse:
        changed, followee = await self._graph.follow(request.follower_id, request.followee_id)
        return graph_pb2.FollowResponse(changed=changed, followee=user_proto(followee))

    async def Unfollow(
        self, request: graph_pb2.UnfollowRequest, context: Context
    ) -> graph_pb2.UnfollowResponse:
        changed, followee = await self._graph.unfollow(request.follower_id, request.followee_id)
        return graph_pb2.UnfollowResponse(changed=changed, followee=user_proto(followee))

    async def BatchCheckFollows(
        self, request: graph_pb2.BatchCheckFollowsRequest, context: Context
    ) -> graph_pb2.BatchCheckFollowsResponse:
        check_batch(len(request.target_ids))
        followed = await self._graph.followed_among(request.viewer_id, request.target_ids)
        return graph_pb2.BatchCheckFollowsResponse(
            follows=[target in followed for target in request.target_ids]
        )

    async def ListFollowers(
        self, request: graph_pb2.ListFollowersRequest, context: Context
    ) -> graph_pb2.ListFollowersResponse:
        edges, page = await _edge_page(self._graph.followers, request.user_id, request.page)
        return graph_pb2.ListFollowersResponse(edges=edges, page=page)

    async def ListFollowing(
        self, request: graph_pb2.ListFollowingRequest, context: Context
    ) -> graph_pb2.ListFollowingResponse:
        edges, page = await _edge_page(self._graph.following, request.user_id, request.page)
        return graph_pb2.ListFollowingResponse(edges=edges, page=page)

    async def StreamFollowers(
        self, request: graph_pb2.StreamFollowersRequest, context: Context
    ) -> AsyncIterator[graph_pb2.StreamFollowersResponse]:
        size = page_size(request.page_size, STREAM_PAGE_DEFAULT, STREAM_PAGE_MAX)
        async for follower_ids in self._graph.stream_followers(request.user_id, size):
            yield graph_pb2.StreamFollowersResponse(follower_ids=follower_ids)

    async def ImportUsers(
        self, request_iterator: AsyncIterator[graph_pb2.ImportUsersRequest], context: Context
    ) -> AsyncIterator[graph_pb2.ImportUsersResponse]:
        async for chunk in _imported_accounts(request_iterator):
            for user_id, created in await self._accounts.import_accounts(chunk):
                yield graph_pb2.ImportUsersResponse(user_id=user_id, created=created)

    async def ImportFollows(
        self, request_iterator: AsyncIterator[graph_pb2.ImportFollowsRequest], context: Context
    ) -> graph_pb2.ImportFollowsResponse:
        edges: dict[int, list[int]] = {}
        total = 0
        async for request in request_iterator:
            edges.setdefault(request.follower_id, []).extend(request.followee_ids)
            total += len(request.followee_ids)
            if total > IMPORT_MAX:
                raise InvalidInput(f"at most {IMPORT_MAX} edges per import")
        return graph_pb2.ImportFollowsResponse(added=await self._graph.import_follows(edges))

    async def SetPostCount(
        self, request: graph_pb2.SetPostCountRequest, context: Context
    ) -> graph_pb2.SetPostCountResponse:
        await self._profiles.set_post_count(request.user_id, request.post_count, request.version)
        return graph_pb2.SetPostCountResponse()

    async def UpdateProfile(
        self, request: graph_pb2.UpdateProfileRequest, context: Context
    ) -> graph_pb2.UpdateProfileResponse:
        user = await self._profiles.update(
            request.user_id,
            request.display_name if request.HasField("display_name") else None,
            request.bio if request.HasField("bio") else None,
        )
        return graph_pb2.UpdateProfileResponse(user=user_proto(user))

    async def CreateAvatar(
        self, request: graph_pb2.CreateAvatarRequest, context: Context
    ) -> graph_pb2.CreateAvatarResponse:
        avatar = await self._avatars.create(request.user_id)
        return graph_pb2.CreateAvatarResponse(avatar=_avatar_proto(avatar))

    async def GetAvatar(
        self, request: graph_pb2.GetAvatarRequest, context: Context
    ) -> graph_pb2.GetAvatarResponse:
        avatar = await self._avatars.get(request.avatar_id)
        if avatar is None:
            return graph_pb2.GetAvatarResponse()
        return graph_pb2.GetAvatarResponse(avatar=_avatar_proto(avatar))

    async def UpdateAvatarMedia(
        self, request: graph_pb2.UpdateAvatarMediaRequest, context: Context
    ) -> graph_pb2.UpdateAvatarMediaResponse:
        moved = await self._avatars.update_media(request.avatar_id, request.media)
        return graph_pb2.UpdateAvatarMediaResponse(
            avatar=_avatar_proto(moved.avatar),
            moved=moved.moved,
            current=moved.current,
            replaced_avatar_id=moved.replaced or 0,
        )
