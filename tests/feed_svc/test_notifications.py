"""The notification store's rules against real Redis: each feed is bounded (the
oldest trimmed with their actors), and an event older than what a feed holds, or
repeated, changes nothing; one notification read by its id through feed_svc, only by
its recipient; the pure naming and paging rules beside them."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator

import grpc
import pytest

from feed_svc.keys import notification_actors_key, notifications_key, notifications_unread_key
from feed_svc.notification_store import NotificationStore
from feed_svc.notifications import COMMENT, FOLLOW, LIKE, Cursor, NotificationId, Subject
from gateway.config import GatewaySettings
from pictor.clients import ServiceClients
from pictor.errors import InvalidInput
from pictor.feed.v1 import feed_pb2
from pictor.redis_client import RedisClient
from tests.feed_svc.conftest import redis_of

# Recipients of their own, so these tests share no keys with the stack's users.
_recipients = itertools.count(9_000_000_000)


@pytest.fixture
async def store(settings: GatewaySettings) -> AsyncIterator[tuple[NotificationStore, RedisClient]]:
    async with redis_of(settings) as client:
        yield NotificationStore(client), client


async def test_a_feed_keeps_the_newest_and_drops_the_rest_with_their_actors(
    store: tuple[NotificationStore, RedisClient],
) -> None:
    notifications, redis = store
    me = next(_recipients)
    for actor in range(1, 6):
        await notifications.add(me, f"follow:{actor}", actor, 1000 + actor, 0, keep=3)
    names = await notifications.names(me, None, 10)
    assert names == [("follow:5", 1005), ("follow:4", 1004), ("follow:3", 1003)]
    trimmed = [notification_actors_key(me, name) for name in ("follow:1", "follow:2")]
    assert await redis.exists(*trimmed) == 0
    assert await notifications.unread_count(me) == 3

    # An old follow replayed comes in below the kept ones and goes straight out again.
    assert not await notifications.add(me, "follow:1", 1, 1001, 0, keep=3)
    assert await notifications.names(me, None, 10) == names
    assert await redis.scard(notifications_unread_key(me)) == 3


async def test_repeats_and_stale_events_change_nothing(
    store: tuple[NotificationStore, RedisClient],
) -> None:
    notifications, redis = store
    me = next(_recipients)
    assert await notifications.add(me, "like:7", 21, 100, 7, keep=10)
    assert not await notifications.add(me, "like:7", 21, 100, 7, keep=10)
    assert await notifications.add(me, "like:7", 22, 110, 7, keep=10)
    assert await notifications.withdraw(me, "like:7", 22, 120)
    assert not await notifications.add(me, "like:7", 22, 110, 7, keep=10)  # older than the unlike
    assert not await notifications.withdraw(me, "like:7", 21, 90)  # older than the like
    (stored,) = await notifications.details(me, ["like:7"])
    assert (stored.actor_id, stored.actor_count, stored.at_ms) == (21, 1, 100)
    assert await redis.zscore(notifications_key(me), "like:7") == 100

    await notifications.forget_post(me, 7, 200)
    assert await redis.zcard(notifications_key(me)) == 0
    assert not await notifications.add(me, "like:7", 23, 300, 7, keep=10)


def test_names_and_cursors_round_trip() -> None:
    for subject in (
        Subject(LIKE, post_id=5),
        Subject(COMMENT, post_id=5, comment_id=9),
        Subject(FOLLOW, follower_id=3),
    ):
        assert Subject.parse(subject.name) == subject
    cursor = Cursor.parse(str(Cursor(1000, "comment:5:9")))
    assert cursor == Cursor(1000, "comment:5:9")
    assert cursor.before("like:5", 999)
    assert cursor.before("comment:5:8", 1000)
    assert not cursor.before("follow:3", 1000)
    assert not cursor.before("like:5", 1001)
    with pytest.raises(ValueError, match="not a notification name"):
        Subject.parse("share:5")


async def _get(clients: ServiceClients, viewer: int, notification_id: str) -> feed_pb2.Notification:
    request = feed_pb2.GetNotificationRequest(viewer_id=viewer, id=notification_id)
    response: feed_pb2.GetNotificationResponse = await clients.feed.GetNotification(request)
    return response.notification


async def _status(clients: ServiceClients, viewer: int, notification_id: str) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _get(clients, viewer, notification_id)
    code: grpc.StatusCode = refused.value.code()
    return code


async def test_a_notification_is_read_by_id_by_its_recipient_only_while_it_stands(
    store: tuple[NotificationStore, RedisClient], clients: ServiceClients
) -> None:
    notifications, _ = store
    me, you = next(_recipients), next(_recipients)
    for recipient in (me, you):
        await notifications.add(recipient, "like:7", 21, 100, 7, keep=2)
    await notifications.add(me, "like:7", 22, 110, 7, keep=2)
    mine = f"{me}:like:7"
    found = await _get(clients, me, mine)
    assert (found.id, found.actor_id, found.actor_count, found.post_id) == (mine, 22, 2, 7)

    # Your notification about the same post is not mine to read, nor mine yours.
    assert await _status(clients, me, f"{you}:like:7") == grpc.StatusCode.NOT_FOUND
    assert await _status(clients, you, mine) == grpc.StatusCode.NOT_FOUND
    assert await _status(clients, me, f"{me}:like:8") == grpc.StatusCode.NOT_FOUND

    # Trimmed by newer ones, it is gone.
    await notifications.add(me, "follow:31", 31, 120, 0, keep=2)
    await notifications.add(me, "follow:32", 32, 130, 0, keep=2)
    assert await _status(clients, me, mine) == grpc.StatusCode.NOT_FOUND
    assert (await _get(clients, me, f"{me}:follow:32")).actor_id == 32
    assert await _status(clients, me, f"{me}:like:") == grpc.StatusCode.INVALID_ARGUMENT


def test_notification_ids_round_trip_in_one_spelling() -> None:
    wanted = NotificationId(42, Subject(COMMENT, post_id=5, comment_id=9))
    assert str(wanted) == "42:comment:5:9"
    assert NotificationId.parse(str(wanted)) == wanted
    for bad in ("", "42", "42:like", "x:like:5", "042:like:5", "42:like:05", "42:like: 5"):
        with pytest.raises(InvalidInput):
            NotificationId.parse(bad)
