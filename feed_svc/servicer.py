"""Translates FeedService RPCs to the timeline policy and back; domain errors become
statuses in pictor.service's interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from feed_svc.entries import Entry
from feed_svc.timeline import HomeTimelines
from pictor.errors import InvalidInput
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.paging import page_size
from pictor.service import Context

PAGE_DEFAULT = 12


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
    def __init__(self, timelines: HomeTimelines) -> None:
        self._timelines = timelines

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
        async for post_id in self._timelines.watch(request.viewer_id):
            yield feed_pb2.WatchHomeFeedResponse(post_id=post_id)
