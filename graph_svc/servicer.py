"""Translates GraphService RPCs to the domain and back; domain errors become statuses
in pictor.service's interceptor."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from graph_svc.accounts import Accounts
from graph_svc.follows import FollowGraph
from graph_svc.profiles import Profiles, user_proto
from graph_svc.store import AccountStore, Edge, EdgeStore, Side
from graph_svc.users import normalize_username
from pictor.common.v1 import common_pb2
from pictor.errors import InvalidInput, NotFound
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.paging import after_id, check_batch, page_size

PAGE_DEFAULT = 20
STREAM_PAGE_DEFAULT = 1000
# Accounts ImportUsers creates at once.
IMPORT_USERS_IN_FLIGHT = 64
# Edges per ImportFollows call: held in memory while grouped by partition.
IMPORT_MAX = 200_000
STREAM_PAGE_MAX = 5000

Context = grpc.aio.ServicerContext


def _edge_proto(edge: Edge) -> graph_pb2.FollowEdge:
    proto = graph_pb2.FollowEdge(user_id=edge.user_id, cursor=str(edge.user_id))
    if edge.followed_at is not None:
        proto.followed_at.FromDatetime(edge.followed_at)
    return proto


class GraphServicer(graph_pb2_grpc.GraphServiceServicer):
    def __init__(
        self,
        accounts: Accounts,
        users: AccountStore,
        edges: EdgeStore,
        graph: FollowGraph,
        profiles: Profiles,
    ) -> None:
        self._accounts = accounts
        self._profiles = profiles
        self._users = users
        self._edges = edges
        self._graph = graph

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
        user_id = await self._users.find_id(normalize_username(request.username))
        users = await self._users.get_many([user_id]) if user_id is not None else []
        if not users:
            raise NotFound(f"no user named {request.username!r}")
        return graph_pb2.GetUserByUsernameResponse(user=user_proto(users[0]))

    async def BatchGetUsers(
        self, request: graph_pb2.BatchGetUsersRequest, context: Context
    ) -> graph_pb2.BatchGetUsersResponse:
        check_batch(len(request.user_ids))
        if not request.profiles_only:
            users = await self._users.get_many(request.user_ids)
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
        followed = await self._edges.following_among(request.viewer_id, request.target_ids)
        return graph_pb2.BatchCheckFollowsResponse(
            follows=[target in followed for target in request.target_ids]
        )

    async def ListFollowers(
        self, request: graph_pb2.ListFollowersRequest, context: Context
    ) -> graph_pb2.ListFollowersResponse:
        edges, next_token = await self._page(Side.FOLLOWERS, request.user_id, request.page)
        return graph_pb2.ListFollowersResponse(edges=edges, page=next_token)

    async def ListFollowing(
        self, request: graph_pb2.ListFollowingRequest, context: Context
    ) -> graph_pb2.ListFollowingResponse:
        edges, next_token = await self._page(Side.FOLLOWING, request.user_id, request.page)
        return graph_pb2.ListFollowingResponse(edges=edges, page=next_token)

    async def _page(
        self, side: Side, user_id: int, page: common_pb2.PageRequest
    ) -> tuple[list[graph_pb2.FollowEdge], common_pb2.PageResponse]:
        size, after = page_size(page.page_size, PAGE_DEFAULT), after_id(page.page_token)
        # One extra row says whether another page exists.
        edges = await self._edges.page(side, user_id, after, size + 1)
        shown = [_edge_proto(edge) for edge in edges[:size]]
        more = len(edges) > size
        return shown, common_pb2.PageResponse(next_page_token=shown[-1].cursor if more else "")

    async def StreamFollowers(
        self, request: graph_pb2.StreamFollowersRequest, context: Context
    ) -> AsyncIterator[graph_pb2.StreamFollowersResponse]:
        size = page_size(request.page_size, STREAM_PAGE_DEFAULT, STREAM_PAGE_MAX)
        after = None
        while True:
            edges = await self._edges.page(Side.FOLLOWERS, request.user_id, after, size)
            if edges:
                yield graph_pb2.StreamFollowersResponse(
                    follower_ids=[edge.user_id for edge in edges]
                )
            if len(edges) < size:
                return
            after = edges[-1].user_id

    async def ImportUsers(
        self, request_iterator: AsyncIterator[graph_pb2.ImportUsersRequest], context: Context
    ) -> AsyncIterator[graph_pb2.ImportUsersResponse]:
        chunk: list[graph_pb2.ImportUsersRequest] = []
        async for request in request_iterator:
            chunk.append(request)
            if len(chunk) == IMPORT_USERS_IN_FLIGHT:
                for response in await self._import_users(chunk):
                    yield response
                chunk = []
        for response in await self._import_users(chunk):
            yield response

    async def _import_users(
        self, chunk: list[graph_pb2.ImportUsersRequest]
    ) -> list[graph_pb2.ImportUsersResponse]:
        """A chunk of accounts at once (each is a lightweight transaction), answered in
        order; a name repeated within the chunk is imported once, by its first request."""
        first_of: dict[str, int] = {}
        for index, request in enumerate(chunk):
            first_of.setdefault(request.username.strip().lower(), index)
        firsts = sorted(set(first_of.values()))
        results = dict(
            zip(
                firsts,
                await asyncio.gather(
                    *(
                        self._accounts.import_account(
                            chunk[i].username, chunk[i].display_name, chunk[i].password_hash
                        )
                        for i in firsts
                    )
                ),
                strict=True,
            )
        )
        responses = []
        for index, request in enumerate(chunk):
            first = first_of[request.username.strip().lower()]
            user_id, created = results[first]
            responses.append(
                graph_pb2.ImportUsersResponse(user_id=user_id, created=created and first == index)
            )
        return responses

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
        if request.post_count < 0 or request.version <= 0:
            raise InvalidInput("a post count and its version must be positive")
        await self._users.set_post_count(request.user_id, request.post_count, request.version)
        return graph_pb2.SetPostCountResponse()
