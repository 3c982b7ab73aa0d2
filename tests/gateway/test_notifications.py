"""Notifications through GraphQL on the real stack: follows, grouped likes and comments
notified to the right person, withdrawn when undone, unread counts, paging, deleted
posts, the live subscription, and events delivered twice or out of order.

Likes, comments and follows go through their mutations; redelivery and reordering
replay the events those published (``like.changed``, ``comment.changed``,
``follow.changed``), twice and backwards.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Mapping
from typing import Any, cast

import httpx
import pytest

from feed_svc.keys import NOTIFICATIONS_GROUP
from feed_svc.keys import notifications_live_channel as live_channel
from gateway import ids
from gateway.config import GatewaySettings
from harness.accounts import Person, sign_up
from harness.events import channel_subscribers, settle
from harness.graphql import GraphQLClient
from harness.subscriptions import Subscription
from harness.waiting import wait_until
from pictor import events
from pictor.redis_client import RedisClient
from tests import images
from tests.feed_svc.conftest import redis_of
from tests.harness import IsolatedStack, data, error_codes

NOTIFIED_STREAMS = (
    events.LIKE_CHANGED,
    events.COMMENT_CHANGED,
    events.FOLLOW_CHANGED,
    events.POST_DELETED,
)
NOTIFICATIONS = """
query($first: Int, $after: String) {
  notifications(first: $first, after: $after) {
    edges {
      cursor
      node { id kind actor { username } actorCount post { id } comment { id text } read }
    }
    pageInfo { hasNextPage endCursor }
    unreadCount
  }
}
"""
UPLOAD = 'mutation($file: Upload!) { uploadPost(caption: "mine", file: $file) { id } }'
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id } }"
MARK_READ = "mutation { markNotificationsRead }"
STATUS = "query($id: ID!) { post(id: $id) { media { status } } }"
LIKE = "mutation($id: ID!) { likePost(postId: $id) { id } }"
UNLIKE = "mutation($id: ID!) { unlikePost(postId: $id) { id } }"
COMMENT = "mutation($id: ID!, $text: String!) { addComment(postId: $id, text: $text) { id } }"
DELETE_COMMENT = "mutation($id: ID!) { deleteComment(id: $id) }"
NODE = """
query($id: ID!) {
  node(id: $id) {
    id
    ... on Notification { kind actor { username } actorCount post { id } comment { id text } read }
  }
}
"""
ADDED = "subscription { notificationAdded { kind actor { username } actorCount post { id } } }"


@pytest.fixture
async def redis(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    async with redis_of(settings) as client:
        yield client


def number(global_id: str) -> int:
    return ids.decode("User", global_id)


async def node(client: GraphQLClient, global_id: str) -> Any:
    """``node(id)`` as the client sees it: the object, or null (never an error)."""
    return data(await client.execute(NODE, {"id": global_id}))["node"]


def notification_id(recipient: Person, subject: str) -> str:
    """A notification's global id as anyone could write it: the recipient's user id and
    the subject (``follow:<follower>``, ``like:<post>``)."""
    raw = f"Notification:{number(recipient.id)}:{subject}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


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
    """A post of the person's, once READY (only then can it be liked)."""
    photo = ("photo.jpg", images.jpeg(64, 48), "image/jpeg")
    post = str((await person.client.upload(UPLOAD, {}, "file", photo))["uploadPost"]["id"])

    async def ready() -> bool:
        shown = await person.client.data(STATUS, {"id": post})
        return bool(shown["post"]["media"]["status"] == "READY")

    await wait_until(ready, within=30, interval=0.1)
    return post


class Engagement:
    """Likes, comments and follows as people make them, waiting until their
    notifications are made; and their events replayed."""

    def __init__(self, redis: RedisClient) -> None:
        self.redis = redis

    async def like(self, liker: Person, post: str) -> None:
        await liker.client.data(LIKE, {"id": post})

    async def unlike(self, liker: Person, post: str) -> None:
        await liker.client.data(UNLIKE, {"id": post})

    async def comment(self, commenter: Person, post: str) -> str:
        added = await commenter.client.data(COMMENT, {"id": post, "text": "lovely"})
        return str(added["addComment"]["id"])

    async def delete_comment(self, person: Person, comment: str) -> None:
        await person.client.data(DELETE_COMMENT, {"id": comment})

    async def settled(self) -> None:
        await settle(self.redis, NOTIFIED_STREAMS, NOTIFICATIONS_GROUP)

    async def replay(self, stream: str, since: str) -> None:
        """Every event of ``stream`` since the id, again: in order, then backwards."""
        read = await self.redis.xrange(stream, since)
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], read)
        sent = [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
        for fields in [*sent, *reversed(sent)]:
            await events.publish(self.redis, stream, fields)

    async def mark(self, stream: str) -> str:
        """A position after every event sent so far on ``stream``."""
        newest = cast(list[tuple[bytes, Any]], await self.redis.xrevrange(stream, count=1))
        if not newest:
            return "0"
        milliseconds, _, sequence = newest[0][0].decode().partition("-")
        return f"{milliseconds}-{int(sequence) + 1}"


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
    for liker in (bob, cy, dee, ada):  # ada's own like notifies nobody
        await engagement.like(liker, post)
        await engagement.settled()  # so that each liker is later than the last
    page = await notifications(ada)
    assert seen(page) == [("LIKE", dee.username, 3, False)]
    assert page["edges"][0]["node"]["post"] == {"id": post}

    await engagement.unlike(dee, post)
    await engagement.settled()
    assert seen(await notifications(ada)) == [("LIKE", cy.username, 2, False)]

    await engagement.unlike(bob, post)
    await engagement.unlike(cy, post)
    await engagement.settled()
    page = await notifications(ada)
    assert (seen(page), page["unreadCount"]) == ([], 0)


async def test_comments_notify_the_post_author_until_deleted(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    first = await engagement.comment(bob, post)
    await engagement.comment(bob, post)
    await engagement.comment(ada, post)  # the author's own
    await engagement.settled()
    page = await notifications(ada)
    assert seen(page) == [("COMMENT", bob.username, 1, False)] * 2
    assert page["edges"][1]["node"]["comment"] == {"id": first, "text": "lovely"}

    await engagement.delete_comment(ada, first)  # the post's author may
    await engagement.settled()
    page = await notifications(ada)
    assert seen(page) == [("COMMENT", bob.username, 1, False)]
    assert page["edges"][0]["node"]["comment"]["id"] != first


async def test_marking_read_counts_what_changed_and_a_new_liker_makes_it_unread_again(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    post = await post_by(ada)
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.like(bob, post)
    await engagement.settled()
    assert (await notifications(ada))["unreadCount"] == 2

    assert (await ada.client.data(MARK_READ))["markNotificationsRead"] == 2
    assert (await ada.client.data(MARK_READ))["markNotificationsRead"] == 0
    page = await notifications(ada)
    assert page["unreadCount"] == 0
    assert [read for *_, read in seen(page)] == [True, True]

    await engagement.like(cy, post)
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
    since = await engagement.mark(events.LIKE_CHANGED)
    await engagement.like(bob, post)
    await engagement.comment(bob, post)
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    assert len(seen(await notifications(ada))) == 3

    deleted = await engagement.mark(events.POST_DELETED)
    await ada.client.data("mutation($id: ID!) { deletePost(id: $id) }", {"id": post})
    await engagement.settled()
    assert seen(await notifications(ada)) == [("FOLLOW", bob.username, 1, False)]

    await engagement.replay(events.LIKE_CHANGED, since)  # late, after the deletion
    await engagement.replay(events.POST_DELETED, deleted)  # and the deletion again
    await engagement.settled()
    assert seen(await notifications(ada)) == [("FOLLOW", bob.username, 1, False)]


async def test_events_delivered_twice_or_out_of_order_change_nothing(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    post = await post_by(ada)
    marks = {stream: await engagement.mark(stream) for stream in NOTIFIED_STREAMS[:3]}
    await engagement.like(bob, post)
    await engagement.settled()
    await engagement.unlike(bob, post)
    await engagement.like(cy, post)
    comment = await engagement.comment(bob, post)
    await engagement.settled()
    await engagement.delete_comment(bob, comment)
    await engagement.comment(cy, post)
    await bob.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    await bob.client.data(UNFOLLOW, {"id": ada.id})
    await cy.client.data(FOLLOW, {"id": ada.id})
    await engagement.settled()
    before = await notifications(ada)
    assert sorted(seen(before)) == [
        ("COMMENT", cy.username, 1, False),
        ("FOLLOW", cy.username, 1, False),
        ("LIKE", cy.username, 1, False),
    ]

    for stream, since in marks.items():
        await engagement.replay(stream, since)
    await engagement.settled()
    assert await notifications(ada) == before


async def test_notification_added_arrives_live(
    http: httpx.AsyncClient, engagement: Engagement, test_stack: IsolatedStack
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    channel = live_channel(number(ada.id))

    async def listening() -> bool:
        return await channel_subscribers(engagement.redis, channel) > 0

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
        await engagement.like(bob, post)
        async with asyncio.timeout(30):
            kind, payload = await live.receive()
        assert data(payload)["notificationAdded"] == {
            "kind": "LIKE",
            "actor": {"username": bob.username},
            "actorCount": 1,
            "post": {"id": post},
        }


async def test_a_notification_refetched_by_id_is_its_recipients_alone_and_current(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    post = await post_by(ada)
    for liker in (bob, cy):
        await engagement.like(liker, post)
        await engagement.settled()  # so that cy is the newest liker
    (edge,) = (await notifications(ada))["edges"]
    liked = edge["node"]
    assert await node(ada.client, liked["id"]) == liked
    assert (liked["actor"]["username"], liked["actorCount"]) == (cy.username, 2)

    # Anyone else, signed in or not, finds nothing there.
    for other in (bob.client, cy.client, GraphQLClient(http)):
        assert await node(other, liked["id"]) is None

    # Refetched, it shows the notification as it is now.
    await ada.client.data(MARK_READ)
    await engagement.unlike(cy, post)
    await engagement.settled()
    now = await node(ada.client, liked["id"])
    assert (now["actor"]["username"], now["actorCount"], now["read"]) == (bob.username, 1, True)
    assert now == (await notifications(ada))["edges"][0]["node"]

    # Withdrawn, it is gone.
    await engagement.unlike(bob, post)
    await engagement.settled()
    assert await node(ada.client, liked["id"]) is None


async def test_an_id_naming_another_recipient_leaks_nothing(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob, cy = [await sign_up(http, name) for name in ("ada", "bob", "cy")]
    for followed in (ada, cy):
        await bob.client.data(FOLLOW, {"id": followed.id})
    await engagement.settled()
    subject = f"follow:{number(bob.id)}"
    ours = await node(ada.client, notification_id(ada, subject))
    assert (ours["kind"], ours["actor"]["username"]) == ("FOLLOW", bob.username)

    # cy has a notification about the same subject; ada writing cy's id for it (or ada's
    # id for cy) is refused, not answered with either one's notification.
    assert await node(ada.client, notification_id(cy, subject)) is None
    assert await node(cy.client, notification_id(ada, subject)) is None
    assert await node(cy.client, notification_id(cy, subject)) is not None


async def test_a_deleted_posts_notification_is_gone_by_id_too(
    http: httpx.AsyncClient, engagement: Engagement
) -> None:
    ada, bob = await sign_up(http, "ada"), await sign_up(http, "bob")
    post = await post_by(ada)
    await engagement.comment(bob, post)
    await engagement.settled()
    (edge,) = (await notifications(ada))["edges"]
    assert (await node(ada.client, edge["node"]["id"]))["kind"] == "COMMENT"

    await ada.client.data("mutation($id: ID!) { deletePost(id: $id) }", {"id": post})
    await engagement.settled()
    assert await node(ada.client, edge["node"]["id"]) is None


async def test_a_malformed_notification_id_is_bad_user_input(http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, "ada")
    follow = notification_id(ada, "follow:12")
    recipient = number(ada.id)
    malformed = ("garbage", "12", f"{recipient}", f"{recipient}:like:x", "x:like:1")
    for bad in (*malformed, f"{recipient}:poke:1", f"{recipient}:like:1:2", f"0{recipient}:like:1"):
        raw = base64.urlsafe_b64encode(f"Notification:{bad}".encode()).decode()
        # Malformed whoever asks: signed in or not, the id names nothing.
        for asking in (ada.client, GraphQLClient(http)):
            result = await asking.execute(NODE, {"id": raw})
            assert error_codes(result) == ["BAD_USER_INPUT"], bad
    # Only node() takes a notification's id.
    result = await ada.client.execute("query($id: ID!) { post(id: $id) { id } }", {"id": follow})
    assert error_codes(result) == ["BAD_USER_INPUT"]
