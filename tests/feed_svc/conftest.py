"""Helpers for home feed tests: READY posts made through post_svc's real lifecycle
(the media pipeline has tests of its own), following, reading whole feeds, watching
them live, waiting for events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import pytest
import redis.asyncio as redis
import websockets
from websockets import Subprotocol

from feed_svc.keys import celebrity_key, live_key
from gateway import ids
from gateway.config import GatewaySettings
from harness.events import FEED_WORKER_STREAMS
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from pictor.redis_client import RedisClient, open_redis
from tests.harness import GraphQLClient, IsolatedStack, Person, data, settle, wait_until

HOME_FEED = """
query($first: Int, $after: String) {
  homeFeed(first: $first, after: $after) {
    edges { cursor node { id author { id } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@dataclass
class Feeds:
    clients: ServiceClients
    redis: RedisClient

    async def create_pending(self, author_global_id: str, caption: str = "") -> str:
        """A post waiting for its photo."""
        created = await self.clients.post.CreatePost(
            post_pb2.CreatePostRequest(
                author_id=ids.decode("User", author_global_id),
                caption=caption,
                content_type="image/jpeg",
            )
        )
        return ids.encode("Post", created.post.id)

    async def publish(self, author_global_id: str, caption: str = "") -> str:
        """A READY post by the author, as the media worker would leave it."""
        post = await self.create_pending(author_global_id, caption)
        await self.clients.post.UpdateMedia(
            post_pb2.UpdateMediaRequest(
                post_id=ids.decode("Post", post),
                media=post_pb2.Media(status=post_pb2.MEDIA_STATUS_READY, width=1, height=1),
            )
        )
        return post

    async def delete(self, author_global_id: str, post_global_id: str) -> None:
        await self.clients.post.DeletePost(
            post_pb2.DeletePostRequest(
                post_id=ids.decode("Post", post_global_id),
                requester_id=ids.decode("User", author_global_id),
            )
        )

    async def is_celebrity(self, user_global_id: str) -> bool:
        """Whether feed_svc pulls the user's posts at read time rather than pushing."""
        return bool(await self.redis.exists(celebrity_key(ids.decode("User", user_global_id))))

    async def settle(self) -> None:
        await settle(self.redis, FEED_WORKER_STREAMS)

    async def read_all(self, reader: GraphQLClient, page_size: int = 5) -> list[str]:
        """Every post id of the reader's home feed, page by page."""
        seen: list[str] = []
        after = None
        while True:
            page = data(await reader.execute(HOME_FEED, {"first": page_size, "after": after}))[
                "homeFeed"
            ]
            seen += [edge["node"]["id"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                return seen
            after = page["pageInfo"]["endCursor"]


FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id } }"
HOME_FEED_UPDATES = "subscription { homeFeedUpdates { id author { id } } }"
# How long a post may take from READY to a live subscriber on the test stack.
ARRIVAL_SECONDS = 10


async def follow(reader: Person, author: Person) -> None:
    data(await reader.client.execute(FOLLOW, {"id": author.id}))


async def unfollow(reader: Person, author: Person) -> None:
    data(await reader.client.execute(UNFOLLOW, {"id": author.id}))


@asynccontextmanager
async def watching(
    test_stack: IsolatedStack, feeds: Feeds, viewer: Person
) -> AsyncIterator[asyncio.Queue[str]]:
    """The viewer's homeFeedUpdates, open until the block ends: post ids as they arrive.
    Yields once the subscription is live (feed_svc has marked the viewer watching)."""
    url = test_stack.gateway_url.replace("http://", "ws://") + "/graphql"
    arrived: asyncio.Queue[str] = asyncio.Queue()
    async with websockets.connect(
        url, subprotocols=[Subprotocol("graphql-transport-ws")]
    ) as socket_:
        init = {"authorization": f"Bearer {viewer.client.token}"}
        await socket_.send(json.dumps({"type": "connection_init", "payload": init}))
        assert json.loads(await socket_.recv())["type"] == "connection_ack"
        subscribe = {"query": HOME_FEED_UPDATES}
        await socket_.send(json.dumps({"id": "1", "type": "subscribe", "payload": subscribe}))

        async def receive() -> None:
            async for raw in socket_:
                message = json.loads(raw)
                assert message["type"] == "next", message
                assert "errors" not in message["payload"], message["payload"]
                await arrived.put(message["payload"]["data"]["homeFeedUpdates"]["id"])

        receiving = asyncio.create_task(receive())
        viewer_id = ids.decode("User", viewer.id)

        async def live() -> bool:
            if receiving.done():
                receiving.result()  # the subscription failed: say how
            return bool(await feeds.redis.exists(live_key(viewer_id)))

        try:
            await wait_until(live, within=10)
            yield arrived
        finally:
            receiving.cancel()


async def next_post(arrived: asyncio.Queue[str]) -> str:
    async with asyncio.timeout(ARRIVAL_SECONDS):
        return await arrived.get()


@asynccontextmanager
async def redis_of(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    """Redis opened as the services open it: a Redis Cluster under the cluster topology."""
    client = open_redis(settings)
    try:
        yield client
    finally:
        if isinstance(client, redis.Redis):
            # open_redis hands the client a pool it does not own: close that too.
            await client.aclose(close_connection_pool=True)
        else:
            await client.aclose()


@pytest.fixture
async def feeds(clients: ServiceClients, settings: GatewaySettings) -> AsyncIterator[Feeds]:
    async with redis_of(settings) as client:
        yield Feeds(clients, client)
