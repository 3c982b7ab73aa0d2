"""A notification as clients see it: its actor and post resolved at read time from
the ids feed_svc keeps (never names copied when it was made)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from enum import Enum

import grpc
import strawberry

from gateway import ids
from gateway.context import Info
from gateway.selection import names_below
from gateway.types.comment import Comment, comments_for
from gateway.types.node import Node
from gateway.types.page import PageInfo
from gateway.types.post import Post, posts_for
from gateway.types.user import User, asks_for_counts
from pictor.feed.v1 import feed_pb2
from pictor.post.v1 import post_pb2


@strawberry.enum
class NotificationKind(Enum):
    LIKE = "LIKE"
    COMMENT = "COMMENT"
    FOLLOW = "FOLLOW"
    FOLLOW_REQUEST = "FOLLOW_REQUEST"
    FOLLOW_ACCEPTED = "FOLLOW_ACCEPTED"


_KINDS = {
    feed_pb2.NOTIFICATION_KIND_LIKE: NotificationKind.LIKE,
    feed_pb2.NOTIFICATION_KIND_COMMENT: NotificationKind.COMMENT,
    feed_pb2.NOTIFICATION_KIND_FOLLOW: NotificationKind.FOLLOW,
}


@strawberry.type(
    description="Likes of the same post are grouped: 'ada and 12 others liked your post'."
)
class Notification(Node):
    id: strawberry.ID
    kind: NotificationKind
    actor: User = strawberry.field(description="The most recent actor.")
    actor_count: int = strawberry.field(
        description="How many distinct people this notification stands for (1 unless grouped)."
    )
    post: Post | None
    comment: Comment | None
    created_at: datetime
    read: bool


@strawberry.type
class NotificationEdge:
    cursor: str
    node: Notification


@strawberry.type
class NotificationConnection:
    edges: list[NotificationEdge]
    page_info: PageInfo
    unread_count: int


async def load_notification(info: Info, notification_id: str) -> Notification | None:
    """The viewer's notification by its id, as it stands now; None when it is not the
    viewer's (nobody's, when anonymous) or is gone. Shown through the same filter as a
    page of them. feed_svc owns the id's form and judges it for anonymous callers too
    (as viewer 0, whom no notification names), so a malformed id is BAD_USER_INPUT for
    anyone."""
    context = info.context
    try:
        response = await context.clients.feed.GetNotification(
            feed_pb2.GetNotificationRequest(viewer_id=context.viewer_id or 0, id=notification_id)
        )
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
    shown = await notifications_for(info, [response.notification])
    return shown[0][1] if shown else None


async def notifications_for(
    info: Info, protos: Sequence[feed_pb2.Notification]
) -> list[tuple[str, Notification]]:
    """The notifications (with their cursors) as the viewer may see them, actors,
    posts and comments read in one call each; one whose actor, post or comment is gone
    is left out. Where a viewer filter (blocks, private accounts) goes."""
    context = info.context
    with_counts = asks_for_counts(names_below(info))
    actors, posts, comments = await asyncio.gather(
        context.profiles(list(dict.fromkeys(p.actor_id for p in protos)), with_counts),
        _posts(info, [p.post_id for p in protos if p.post_id]),
        _comments(info, [p.comment_id for p in protos if p.comment_id]),
    )
    shown = []
    for proto in protos:
        actor = actors.get(proto.actor_id)
        post, comment = posts.get(proto.post_id), comments.get(proto.comment_id)
        if actor is None or (proto.post_id and post is None):
            continue
        if proto.comment_id and comment is None:
            continue
        notification = Notification(
            id=strawberry.ID(ids.encode(ids.NOTIFICATION, proto.id)),
            kind=_KINDS[proto.kind],
            actor=User.from_proto(actor, with_counts=with_counts),
            actor_count=proto.actor_count,
            post=post,
            comment=comment,
            created_at=datetime.fromtimestamp(proto.at_ms / 1000, tz=UTC),
            read=proto.read,
        )
        shown.append((proto.cursor, notification))
    return shown


async def _posts(info: Info, post_ids: list[int]) -> dict[int, Post]:
    found = await info.context.posts.load_many(list(dict.fromkeys(post_ids)))
    shown = await posts_for(info, [post for post in found if post is not None])
    return {post.post_id: post for post in shown}


async def _comments(info: Info, comment_ids: list[int]) -> dict[int, Comment]:
    if not comment_ids:
        return {}
    response = await info.context.clients.post.BatchGetComments(
        post_pb2.BatchGetCommentsRequest(comment_ids=list(dict.fromkeys(comment_ids)))
    )
    return {comment.comment_id: comment for comment in await comments_for(info, response.comments)}
