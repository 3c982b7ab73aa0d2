"""Helpers for home feed tests: READY posts made through post_svc's real lifecycle
(the media pipeline has tests of its own), reading whole feeds, waiting for events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
import redis.asyncio as redis

from feed_svc.keys import FANOUT_JOBS, celebrity_key
from gateway import ids
from gateway.config import GatewaySettings
from pictor import events
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from tests.harness import GraphQLClient, data, settle

FEED_STREAMS = [
    events.POST_PUBLISHED,
    events.POST_DELETED,
    events.FOLLOW_CHANGED,
    events.FOLLOWS_IMPORTED,
    FANOUT_JOBS,
]
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
    redis: redis.Redis

    async def publish(self, author_global_id: str, caption: str = "") -> str:
        """A READY post by the author, as the media worker would leave it."""
        author = ids.decode("User", author_global_id)
        created = await self.clients.post.CreatePost(
            post_pb2.CreatePostRequest(author_id=author, caption=caption, content_type="image/jpeg")
        )
        await self.clients.post.UpdateMedia(
            post_pb2.UpdateMediaRequest(
                post_id=created.post.id,
                media=post_pb2.Media(status=post_pb2.MEDIA_STATUS_READY, width=1, height=1),
            )
        )
        return ids.encode("Post", created.post.id)

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
        await settle(self.redis, FEED_STREAMS)

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


@pytest.fixture
async def feeds(clients: ServiceClients, settings: GatewaySettings) -> AsyncIterator[Feeds]:
    client = redis.from_url(settings.redis_url)
    yield Feeds(clients, client)
    await client.aclose()
