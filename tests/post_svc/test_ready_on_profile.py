"""Whoever reads a post as READY finds it on its author's profile grid and in their post
count: both are written before the status turns, so there is no moment, however slow
the ring's conditional writes, at which the post reads READY and the grid or the
count lacks it. A status change that does not happen (the post deleted meanwhile)
leaves no entry behind.

The lifecycle runs here in the test, on the test stack's keyspace, Redis and
graph_svc, with its store noting what the grid holds the moment each status change
has been written."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import httpx
import pytest

from gateway import ids
from gateway.config import GatewaySettings
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.errors import NotFound, TryAgain
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2
from pictor.redis_client import open_redis
from pictor.snowflake import SnowflakeGenerator
from post_svc.cache import post_cache
from post_svc.lifecycle import PostLifecycle
from post_svc.posts import READY, Post, Status
from post_svc.store import PostStore
from tests.harness import sign_up

# Not the test stack's post_svc worker id, so the ids made here are its own.
WORKER_ID = 11


class GridWatchingStore(PostStore):
    """The real store; after each status change to READY it writes, it notes whether
    the post was then on its author's grid, and the author's post count."""

    def __init__(self, cql: CqlSession, clients: ServiceClients) -> None:
        super().__init__(cql)
        self._clients = clients
        self.on_grid_when_moved: list[bool] = []
        self.post_count_when_moved: list[int] = []
        # Run once, just before the next grid entry is written: another call racing.
        self.meanwhile: Callable[[], Awaitable[None]] | None = None
        # Status changes that come back not applied, though nothing refused them.
        self.moves_lost = 0

    async def show_on_profile(self, post: Post) -> bool:
        if self.meanwhile is not None:
            racing, self.meanwhile = self.meanwhile, None
            await racing()
        return await super().show_on_profile(post)

    async def move(
        self, post_id: int, media: post_pb2.Media, allowed_from: Sequence[Status]
    ) -> bool:
        if self.moves_lost:
            self.moves_lost -= 1
            return False  # as a conditional write the datastore lost under it
        moved = await super().move(post_id, media, allowed_from)
        post = await self.get(post_id, serial=True)
        if moved and post is not None and post.status == READY:
            grid = await self.profile_page(post.author_id, None, 50)
            self.on_grid_when_moved.append(post_id in {listed.id for listed in grid})
            found = await self._clients.graph.BatchGetUsers(
                graph_pb2.BatchGetUsersRequest(user_ids=[post.author_id])
            )
            self.post_count_when_moved.append(found.users[0].post_count)
        return moved


@pytest.fixture
async def store(cql: CqlSession, clients: ServiceClients) -> GridWatchingStore:
    return GridWatchingStore(cql, clients)


@pytest.fixture
async def lifecycle(
    store: GridWatchingStore, settings: GatewaySettings, clients: ServiceClients
) -> AsyncIterator[PostLifecycle]:
    redis = open_redis(settings)
    try:
        yield PostLifecycle(
            store, SnowflakeGenerator(WORKER_ID), redis, clients, post_cache(redis, 60)
        )
    finally:
        await redis.aclose()


async def author_id(http: httpx.AsyncClient) -> int:
    person = await sign_up(http, "gridded")
    return ids.decode("User", person.id)


def ready_media() -> post_pb2.Media:
    return post_pb2.Media(
        status=READY,
        width=64,
        height=48,
        renditions=[
            post_pb2.Rendition(
                name="thumb", content_type="image/webp", width=64, height=48, object_key="p/64"
            )
        ],
    )


async def test_a_post_is_on_the_grid_by_the_time_it_reads_ready(
    lifecycle: PostLifecycle, store: GridWatchingStore, http: httpx.AsyncClient
) -> None:
    post = await lifecycle.create(await author_id(http), "soon", "image/jpeg")

    await lifecycle.update_media(post.id, ready_media())

    assert store.on_grid_when_moved == [True]
    assert store.post_count_when_moved == [1]


async def test_a_post_deleted_as_it_turns_ready_leaves_no_grid_entry(
    lifecycle: PostLifecycle, store: GridWatchingStore, http: httpx.AsyncClient
) -> None:
    author = await author_id(http)
    post = await lifecycle.create(author, "gone", "image/jpeg")

    async def deleted_by_its_author() -> None:
        await lifecycle.delete(post.id, author)

    store.meanwhile = deleted_by_its_author
    with pytest.raises(NotFound):
        await lifecycle.update_media(post.id, ready_media())

    assert await store.profile_page(author, None, 50) == []
    assert store.on_grid_when_moved == []


async def test_a_status_change_that_did_not_take_is_retried_not_answered_as_done(
    lifecycle: PostLifecycle, store: GridWatchingStore, http: httpx.AsyncClient
) -> None:
    author = await author_id(http)
    post = await lifecycle.create(author, "again", "image/jpeg")
    store.moves_lost = 1

    with pytest.raises(TryAgain):
        await lifecycle.update_media(post.id, ready_media())
    assert await store.profile_page(author, None, 50) == []

    ready, moved = await lifecycle.update_media(post.id, ready_media())  # the retry
    assert (ready.status, moved) == (READY, True)
    assert [listed.id for listed in await store.profile_page(author, None, 50)] == [post.id]
