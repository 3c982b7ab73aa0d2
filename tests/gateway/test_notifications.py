"""Notifications through GraphQL on the real stack: follows, grouped likes and comments
notified to the right person, withdrawn when undone, unread counts, paging, deleted
posts, the live subscription, and events delivered twice or out of order.

Likes and comments are driven by the events their service publishes
(``like.changed``, ``comment.changed``), sent here as it sends them; follows go
through the follow mutation, and are replayed from the same events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from feed_svc.notification_store import live_channel
from feed_svc.worker import NOTIFICATIONS_GROUP
from gateway import ids
from gateway.config import GatewaySettings
from harness.accounts import Person, sign_up
from harness.events import settle
from harness.subscriptions import Subscription
from harness.waiting import wait_until
from pictor import events
from pictor.redis_client import RedisClient
from tests import images
from tests.feed_svc.conftest import redis_of
from tests.harness import IsolatedStack, data

NOTIFIED_STREAMS = (
    events.LIKE_CHANGED,
    events.COMMENT_CHANGED,
    events.FOLLOW_CHANGED,
    events.POST_DELETED,
)
NOTIFICATIONS = """
query($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    edges { cursor node { id kind actor { username } actorCount post { id } read } }
    pageInfo { hasNextPage endCursor }
    unreadCount
  }
}
"""
UPLOAD = 'mutation($file: Upload!) { uploadPost(caption: "mine", file: $file) { id } }'
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id } }"
MARK_READ = "mutation { markNotificationsRead }"
ADDED = "subscription { notificationAdded { kind actor { username } actorCount post { id } } }"


@pytest.fixture
async def redis(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    async with redis_of(settings) as client:
        yield client


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def number(global_id: str) -> int:
    return ids.decode_any(global_id)[1]


async def notifications(person: Person, first: int = 20, after: str | None = None) -> Any:
    page = await person.client.data(NOTIFICATIONS, {"first": first, "after": after})
    return page["notifications"]


def seen(page: Mapping[str, Any]) -> list[tuple[str, str, int, bool]]:
    """Each notification as (kind, actor, actor count, read)."""
    return [
        (n["kind"], n["actor"]["username"], n["actorCount"], n["read"])
        for n in (edge["node"] for edge in page["edges"])
    ]


async def post_by(person: Person) -> str:
    photo = ("photo.jpg", images.jpeg(64, 48), "image/jpeg")
    return str((await person.client.upload(UPLOAD, {}, "file", photo))["uploadPost"]["id"])


class Engagement:
    """Sends like.changed and comment.changed as the post service does, and waits until
    the notifications have been made."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def like(self, post: str, author: Person, liker: Person, liked: bool, at_ms: int) -> None:
        await events.publish(
            self.redis,
            events.LIKE_CHANGED,
            {
                "post_id": number(post),
                "post_author_id": number(author.id),
                "user_id": number(liker.id),
                "liked": int(liked),
                "at_ms": at_ms,
            },
        )

    async def comment(
        self, post: str, author: Person, commenter: Person, comment_id: int, added: bool, at_ms: int
    ) -> None:
        fields = {
            "comment_id": comment_id,
            "post_id": number(post),
            "post_author_id": number(author.id),
            "author_id": number(commenter.id),
            "added": int(added),
            "at_ms": at_ms,
        }
        await events.publish(self.redis, events.COMMENT_CHANGED, fields)

    async def settled(self) -> None:
        await settle(self.redis, NOTIFIED_STREAMS, NOTIFICATIONS_GROUP)


@pytest.fixture
def engagement(redis: RedisClient) -> Engagement:
    return Engagement(redis)


async def test_a_follow_notifies_the_followed_and_an_unfollow_withdraws_it(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    page = await notifications(ada)
    assert seen(page) == [("FOLLOW", bob.username, 1, False)]
    assert page["unreadCount"] == 1
    assert page["edges"][0]["node"]["post"] is None
    assert seen(await notifications(bob)) == []

    await bob.client.data(UNFOLLOW, {"id": ada.id})
    await engagement.settled()
    page = await notifications(ada)
    assert (seen(page), page["unreadCount"]) == ([], 0)


async def test_likes_of_a_post_are_grouped_under_the_latest_liker_and_withdrawn_one_by_one(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy, dee = [await sign_up(http, name) for name in ("ada", "bob", "cy", "dee")]
    post = await post_by(ada)
    start = now_ms()
    for at, liker in enumerate((bob, cy, dee, ada)):  # ada's own like notifies nobody
        await engagement.like(post, ada, liker, True, start + at)
    await engagement.settled()
    page = await notifications(ada)
    assert seen(page) == [("LIKE", dee.username, 3, False)]
    assert page["edges"][0]["node"]["post"] == {"id": post}

    await engagement.like(post, ada, dee, False, start + 10)
    await engagement.settled()
    assert seen(await notifications(ada)) == [("LIKE", cy.username, 2, False)]

    await engagement.like(post, ada, bob, False, start + 11)
    await engagement.like(post, ada, cy, False, start + 12)
    await engagement.settled()
    page = await notifications(ada)
    assert (seen(page), page["unreadCount"]) == ([], 0)


async def test_comments_notify_the_post_author_until_deleted(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    start = now_ms()
    await engagement.comment(post, ada, bob, 1001, True, start)
    await engagement.comment(post, ada, bob, 1002, True, start + 1)
    await engagement.comment(post, ada, ada, 1003, True, start + 2)  # the author's own
    await engagement.settled()
    assert seen(await notifications(ada)) == [("COMMENT", bob.username, 1, False)] * 2

    await engagement.comment(post, ada, bob, 1001, False, start + 3)
    await engagement.settled()
    assert seen(await notifications(ada)) == [("COMMENT", bob.username, 1, False)]


async def test_marking_read_counts_what_changed_and_a_new_liker_makes_it_unread_again(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    post = await post_by(ada)
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.like(post, ada, bob, True, now_ms())
    await engagement.settled()
    assert (await notifications(ada))["unreadCount"] == 2

    assert (await ada.client.data(MARK_READ))["markNotificationsRead"] == 2
    assert (await ada.client.data(MARK_READ))["markNotificationsRead"] == 0
    page = await notifications(ada)
    assert page["unreadCount"] == 0
    assert [read for *_, read in seen(page)] == [True, True]

    await engagement.like(post, ada, cy, True, now_ms())
    await engagement.settled()
    page = await notifications(ada)
    assert seen(page)[0] == ("LIKE", cy.username, 2, False)
    assert page["unreadCount"] == 1


async def test_pages_newest_first_without_gaps_or_repeats(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada = await sign_up(http, "ada")
    fans = [await sign_up(http, "fan") for _ in range(5)]
    for fan in fans:
        await fan.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    shown: list[str] = []
    after = None
    while True:
        page = await notifications(ada, first=2, after=after)
        shown += [edge["node"]["actor"]["username"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert shown == [fan.username for fan in reversed(fans)]


async def test_a_deleted_post_takes_its_notifications_and_late_likes_bring_none_back(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    await engagement.like(post, ada, bob, True, now_ms())
    await engagement.comment(post, ada, bob, 2001, True, now_ms())
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    assert len(seen(await notifications(ada))) == 3

    await ada.client.data("mutation($id: ID!) { deletePost(id: $id) }", {"id": post})
    await engagement.settled()
    assert seen(await notifications(ada)) == [("FOLLOW", bob.username, 1, False)]

    await engagement.like(post, ada, bob, True, now_ms())  # late, after the deletion
    await engagement.settled()
    assert seen(await notifications(ada)) == [("FOLLOW", bob.username, 1, False)]


async def test_events_delivered_twice_or_out_of_order_change_nothing(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    post = await post_by(ada)
    start = now_ms()
    # bob liked then unliked, delivered unlike first, then both again.
    await engagement.like(post, ada, bob, False, start + 2)
    await engagement.like(post, ada, bob, True, start + 1)
    await engagement.like(post, ada, cy, True, start + 3)
    await engagement.like(post, ada, cy, True, start + 3)
    await engagement.like(post, ada, bob, True, start + 1)
    await engagement.like(post, ada, bob, False, start + 2)
    # A comment added and deleted, the deletion first; then both again.
    for added in (False, True, True, False):
        await engagement.comment(post, ada, bob, 3001, added, start + (5 if not added else 4))
    await engagement.settled()
    assert seen(await notifications(ada)) == [("LIKE", cy.username, 1, False)]

    # A follow then unfollow, replayed in reverse: the unfollow stands.
    await bob.client.data(FOLLOW, {"id": ada.id})
    await bob.client.data(UNFOLLOW, {"id": ada.id})
    await engagement.settled()
    for following, at in ((0, start + 7), (1, start + 6), (1, start + 6)):
        await events.publish(
            engagement.redis,
            events.FOLLOW_CHANGED,
            {
                "follower_id": number(bob.id),
                "followee_id": number(ada.id),
                "following": following,
                "at_ms": at,
            },
        )
    await engagement.settled()
    page = await notifications(ada)
    assert (seen(page), page["unreadCount"]) == ([("LIKE", cy.username, 1, False)], 1)


async def test_notification_added_arrives_live(
    http: httpx.AsyncClient, engagement: Engagement, test_stack: IsolatedStack
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    channel = live_channel(number(ada.id))

    async def listening() -> bool:
        ((_, count),) = await engagement.redis.pubsub_shardnumsub(channel)
        return int(count) > 0

    async with Subscription(test_stack.gateway_url, ada.client.token, ADDED) as live:
        await wait_until(listening, within=30)
        await bob.client.data(FOLLOW, {"id": ada.id})
        async with asyncio.timeout(30):
            kind, payload = await live.receive()
        assert kind == "next"
        assert data(payload)["notificationAdded"] == {
            "kind": "FOLLOW",
            "actor": {"username": bob.username},
            "actorCount": 1,
            "post": None,
        }
        await engagement.like(post, ada, bob, True, now_ms())
        async with asyncio.timeout(30):
            kind, payload = await live.receive()
        assert data(payload)["notificationAdded"] == {
            "kind": "LIKE",
            "actor": {"username": bob.username},
            "actorCount": 1,
            "post": {"id": post},
        }
