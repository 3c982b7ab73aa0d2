"""The per-request context: who is asking, the service clients, and fresh DataLoaders
so that a page of any size costs a constant number of gRPC calls."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import strawberry
from starlette.requests import Request
from starlette.websockets import WebSocket
from strawberry.dataloader import DataLoader

from gateway.auth import viewer_from_authorization
from gateway.config import GatewaySettings
from gateway.errors import ErrorCode, GatewayError
from gateway.ratelimit import Action, AuthRateLimiter, ViewerRateLimiter
from media_svc.limits import SIGN_URLS_MAX
from pictor.clients import ServiceClients
from pictor.common.v1 import common_pb2
from pictor.graph.v1 import graph_pb2
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2

# Post fields post_svc reads with the posts (from its caches) when a query names them.
POST_COUNTS = frozenset({"likeCount", "commentCount"})
VIEWER_LIKED = "viewerHasLiked"

Event = TypeVar("Event")


@dataclass
class Context:
    request: Request | WebSocket
    settings: GatewaySettings
    clients: ServiceClients
    limiter: AuthRateLimiter
    viewer_limiter: ViewerRateLimiter
    # Set by Strawberry from graphql-transport-ws connection_init.
    connection_params: dict[str, Any] | None = None
    # Profiles without counts (served from graph_svc's cache), and counts apart.
    users: DataLoader[int, graph_pb2.User | None] = field(init=False)
    user_counts: DataLoader[int, graph_pb2.User | None] = field(init=False)
    posts: DataLoader[int, post_pb2.Post | None] = field(init=False)
    viewer_follows: DataLoader[int, bool] = field(init=False)
    # Rendition URLs asked for one by one (avatars), signed together per tick.
    signed_urls: DataLoader[str, str] = field(init=False)
    # Posts with their counts and/or the viewer's like, by which of the two.
    _engaged_posts: dict[tuple[bool, bool], DataLoader[int, post_pb2.Post | None]] = field(
        init=False
    )
    _signed_urls: dict[str, str] = field(init=False)
    _viewer: tuple[int | None] | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        self.fresh_loaders()

    @classmethod
    def of(cls, request: Request | WebSocket, settings: GatewaySettings) -> Context:
        """A request's context, with what the app's lifespan opened (``request.state``)."""
        state = request.state
        return cls(
            request=request,
            settings=settings,
            clients=state.clients,
            limiter=state.limiter,
            viewer_limiter=state.viewer_limiter,
        )

    def fresh_loaders(self) -> None:
        """New, empty DataLoaders. A subscription's context lives as long as its
        connection, so it takes fresh ones for each event rather than serve stale data."""
        self.users = DataLoader(functools.partial(self._load_users, profiles_only=True))
        self.user_counts = DataLoader(functools.partial(self._load_users, profiles_only=False))
        self.posts = DataLoader(self._load_posts)
        self.viewer_follows = DataLoader(self._load_viewer_follows)
        self.signed_urls = DataLoader(self._load_signed_urls)
        self._engaged_posts = {}
        self._signed_urls = {}

    async def each_event(self, events: AsyncIterable[Event]) -> AsyncIterator[Event]:
        """A subscription's events (a backend's server stream), each read with fresh
        DataLoaders."""
        async for event in events:
            self.fresh_loaders()
            yield event

    def posts_request(
        self, post_ids: list[int], asked: frozenset[str] = frozenset()
    ) -> post_pb2.BatchGetPostsRequest:
        """A read of posts, with the counts and the viewer's like if ``asked`` (field
        names below, ``names_below``) names them: one call for the posts and those."""
        viewer = self.viewer_id
        return post_pb2.BatchGetPostsRequest(
            post_ids=post_ids,
            with_counts=not POST_COUNTS.isdisjoint(asked),
            with_viewer_liked=VIEWER_LIKED in asked and viewer is not None,
            viewer_id=viewer or 0,
        )

    def post_loader(self, asked: frozenset[str]) -> DataLoader[int, post_pb2.Post | None]:
        """Posts by id as ``posts_request`` reads them for what is asked."""
        request = self.posts_request([], asked)
        extras = (request.with_counts, request.with_viewer_liked)
        if extras == (False, False):
            return self.posts
        loader = self._engaged_posts.get(extras)
        if loader is None:
            loader = self._engaged_posts[extras] = DataLoader(
                functools.partial(self._load_posts, asked=asked)
            )
        return loader

    def _authorization(self) -> str | None:
        if isinstance(self.request, WebSocket):
            params = self.connection_params or {}
            value = params.get("authorization") or params.get("Authorization")
            return value if isinstance(value, str) else None
        return self.request.headers.get("authorization")

    @property
    def viewer_id(self) -> int | None:
        """The signed-in user, or None when anonymous; decoded once per HTTP request
        (a WebSocket's connection parameters arrive after its context is made)."""
        if self._viewer is not None:
            return self._viewer[0]
        viewer = viewer_from_authorization(self._authorization(), self.settings)
        if isinstance(self.request, Request):
            self._viewer = (viewer,)
        return viewer

    @property
    def client_address(self) -> str:
        client = self.request.client
        return client.host if client else "unknown"

    def require_viewer(self) -> int:
        viewer = self.viewer_id
        if viewer is None:
            raise GatewayError(ErrorCode.UNAUTHENTICATED, "sign in first")
        return viewer

    async def act(self, action: Action) -> int:
        """The signed-in viewer, counted against their per-minute limit for action."""
        viewer = self.require_viewer()
        await self.viewer_limiter.count(viewer, action)
        return viewer

    def page_size(self, first: int | None, default: int) -> int:
        """A connection's ``first``, defaulted when null and capped at max_page_size."""
        if first is None:
            return default
        if not 1 <= first <= self.settings.max_page_size:
            raise GatewayError(
                ErrorCode.BAD_USER_INPUT,
                f"first must be between 1 and {self.settings.max_page_size}",
            )
        return first

    def page_request(
        self, first: int | None, after: str | None, *, default: int
    ) -> common_pb2.PageRequest:
        """A connection's ``first`` and ``after`` as a service's page request."""
        return common_pb2.PageRequest(
            page_size=self.page_size(first, default), page_token=after or ""
        )

    async def profiles(
        self, ids: list[int], with_counts: bool = False
    ) -> dict[int, graph_pb2.User | None]:
        """Users by id (None for those that do not exist), with their counts or not."""
        loader = self.user_counts if with_counts else self.users
        return dict(zip(ids, await loader.load_many(ids), strict=True))

    async def sign(self, keys: list[str]) -> dict[str, str]:
        """Signed URLs for the object keys, in one call for those not signed yet."""
        unsigned = list(dict.fromkeys(key for key in keys if key not in self._signed_urls))
        chunks = [
            unsigned[at : at + SIGN_URLS_MAX] for at in range(0, len(unsigned), SIGN_URLS_MAX)
        ]
        responses = await asyncio.gather(
            *(
                self.clients.media.SignUrls(media_pb2.SignUrlsRequest(object_keys=chunk))
                for chunk in chunks
            )
        )
        for chunk, response in zip(chunks, responses, strict=True):
            self._signed_urls.update(zip(chunk, response.urls, strict=True))
        return self._signed_urls

    async def _load_signed_urls(self, keys: list[str]) -> list[str]:
        signed = await self.sign(keys)
        return [signed[key] for key in keys]

    async def _load_users(
        self, ids: list[int], *, profiles_only: bool
    ) -> list[graph_pb2.User | None]:
        response = await self.clients.graph.BatchGetUsers(
            graph_pb2.BatchGetUsersRequest(user_ids=ids, profiles_only=profiles_only)
        )
        found = {user.id: user for user in response.users}
        return [found.get(user_id) for user_id in ids]

    async def _load_posts(
        self, ids: list[int], asked: frozenset[str] = frozenset()
    ) -> list[post_pb2.Post | None]:
        response = await self.clients.post.BatchGetPosts(self.posts_request(ids, asked))
        found = {post.id: post for post in response.posts}
        return [found.get(post_id) for post_id in ids]

    async def _load_viewer_follows(self, ids: list[int]) -> list[bool]:
        viewer = self.viewer_id
        if viewer is None:
            return [False] * len(ids)
        response = await self.clients.graph.BatchCheckFollows(
            graph_pb2.BatchCheckFollowsRequest(viewer_id=viewer, target_ids=ids)
        )
        return list(response.follows)


# What a resolver is handed: the request's Context, and no root value.
Info = strawberry.Info[Context, None]
