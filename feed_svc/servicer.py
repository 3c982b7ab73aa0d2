"""Translates FeedService RPCs to the timeline policy and back; domain errors become
statuses in pictor.service's interceptor."""

from __future__ import annotations

from collections.abc import AsyncIterator

from feed_svc.entries import Entry
from feed_svc.notifications import Cursor, NotificationId, Notifications
from feed_svc.timeline import HomeTimelines
from pictor.errors import InvalidInput
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.paging import page_size
from pictor.service import Context

PAGE_DEFAULT = 12
NOTIFICATIONS_PAGE_DEFAULT = 20


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
    def __init__(self, timelines: HomeTimelines, notifications: Notifications) -> None:
        self._timelines = timelines
        self._notifications = notifications

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

    async def ListNotifications(
        self, request: feed_pb2.ListNotificationsRequest, context: Context
    ) -> feed_pb2.ListNotificationsResponse:
        size = page_size(request.page_size, NOTIFICATIONS_PAGE_DEFAULT)
        after = Cursor.parse(request.cursor) if request.cursor else None
        shown, more, unread = await self._notifications.page(request.viewer_id, size, after)
        return feed_pb2.ListNotificationsResponse(
            notifications=shown,
            next_cursor=shown[-1].cursor if more and shown else "",
            unread_count=unread,
        )

    async def GetNotification(
        self, request: feed_pb2.GetNotificationRequest, context: Context
    ) -> feed_pb2.GetNotificationResponse:
        found = await self._notifications.one(request.viewer_id, NotificationId.parse(request.id))
        return feed_pb2.GetNotificationResponse(notification=found)

    async def MarkNotificationsRead(
        self, request: feed_pb2.MarkNotificationsReadRequest, context: Context
    ) -> feed_pb2.MarkNotificationsReadResponse:
        changed = await self._notifications.mark_read(request.viewer_id)
        return feed_pb2.MarkNotificationsReadResponse(changed=changed)

    async def StreamNotifications(
        self, request: feed_pb2.StreamNotificationsRequest, context: Context
    ) -> AsyncIterator[feed_pb2.StreamNotificationsResponse]:
        async for notification in self._notifications.watch(request.viewer_id):
            yield feed_pb2.StreamNotificationsResponse(notification=notification)
