"""Translates FeedService RPCs to timelines and back; domain errors become statuses in
pictor.service's interceptor."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import grpc
import redis.asyncio as redis

from feed_svc.store import Entry, author_live_channel, live_channel
from feed_svc.timeline import Timelines
from pictor.errors import InvalidInput
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.paging import page_size

Context = grpc.aio.ServicerContext
PAGE_DEFAULT = 12
# A live subscription marks the viewer as watching for this long, renewed as it runs.
LIVE_TTL_SECONDS = 60


def _cursor(entry: Entry) -> str:
    return entry.member


def _after(cursor: str) -> Entry | None:
    if not cursor:
        return None
    try:
        return Entry.parse(cursor)
    except ValueError:
        raise InvalidInput("malformed cursor") from None


class FeedServicer(feed_pb2_grpc.FeedServiceServicer):
    def __init__(self, timelines: Timelines, client: redis.Redis) -> None:
        self._timelines = timelines
        self._redis = client

    async def GetHomeFeed(
        self, request: feed_pb2.GetHomeFeedRequest, context: Context
    ) -> feed_pb2.GetHomeFeedResponse:
        size = page_size(request.page_size, PAGE_DEFAULT)
        shown, more = await self._timelines.page(request.viewer_id, size, _after(request.cursor))
        items = [feed_pb2.FeedItem(post_id=e.post_id, cursor=_cursor(e)) for e in shown]
        return feed_pb2.GetHomeFeedResponse(
            items=items, next_cursor=items[-1].cursor if more and items else ""
        )

    async def WatchHomeFeed(
        self, request: feed_pb2.WatchHomeFeedRequest, context: Context
    ) -> AsyncIterator[feed_pb2.WatchHomeFeedResponse]:
        viewer = request.viewer_id
        pubsub = self._redis.pubsub()
        try:
            # Listening before the viewer is marked live, so no announcement is missed;
            # the timeline is built first, so pushes write it (and the celebrities whose
            # posts are merged, not pushed, are known).
            await pubsub.subscribe(live_channel(viewer))
            await self._timelines.prepare(viewer)
            celebrities = await self._timelines.pulled_authors(viewer)
            if celebrities:
                await pubsub.subscribe(*(author_live_channel(a) for a in celebrities))
            renewed = 0.0
            while True:
                if time.monotonic() - renewed > LIVE_TTL_SECONDS / 3:
                    await self._timelines.watching(viewer, LIVE_TTL_SECONDS)
                    renewed = time.monotonic()
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is not None:
                    yield feed_pb2.WatchHomeFeedResponse(post_id=int(message["data"]))
        finally:
            await pubsub.aclose()
