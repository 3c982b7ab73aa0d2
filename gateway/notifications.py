"""The viewer's notifications: the page, marking them read, and the live subscription
(each a root field, merged into the schema's Query, Mutation and Subscription)."""

from __future__ import annotations

from collections.abc import AsyncGenerator

import strawberry

from gateway import described
from gateway.context import Info
from gateway.types.notification import (
    Notification,
    NotificationConnection,
    NotificationEdge,
    notifications_for,
)
from gateway.types.page import PageInfo
from pictor.feed.v1 import feed_pb2

PAGE_DEFAULT = 20


@strawberry.type
class NotificationQuery:
    @described.field("The viewer's notifications, newest first. Requires auth.")
    async def notifications(
        self, info: Info, first: int | None = PAGE_DEFAULT, after: str | None = None
    ) -> NotificationConnection:
        context = info.context
        response = await context.clients.feed.ListNotifications(
            feed_pb2.ListNotificationsRequest(
                viewer_id=context.require_viewer(),
                page_size=context.page_size(first, PAGE_DEFAULT),
                cursor=after or "",
            )
        )
        shown = await notifications_for(info, response.notifications)
        return NotificationConnection(
            edges=[NotificationEdge(cursor=cursor, node=node) for cursor, node in shown],
            page_info=PageInfo.after(response.notifications, response.next_cursor),
            unread_count=response.unread_count,
        )


@strawberry.type
class NotificationMutation:
    @described.mutation("Marks every notification up to now as read; returns how many changed.")
    async def mark_notifications_read(self, info: Info) -> int:
        context = info.context
        response = await context.clients.feed.MarkNotificationsRead(
            feed_pb2.MarkNotificationsReadRequest(viewer_id=context.require_viewer())
        )
        return int(response.changed)


@strawberry.type
class NotificationSubscription:
    @strawberry.subscription
    async def notification_added(self, info: Info) -> AsyncGenerator[Notification, None]:
        context = info.context
        call = context.clients.feed.StreamNotifications(
            feed_pb2.StreamNotificationsRequest(viewer_id=context.require_viewer())
        )
        async for response in context.each_event(call):
            for _cursor, notification in await notifications_for(info, [response.notification]):
                yield notification
