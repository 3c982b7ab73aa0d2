"""The notification feed policy, every verb in one class (like feed_svc.timeline), and
the events mapped to its verbs.

A user's notifications: likes of their posts (one notification per post, grouped:
its newest liker and how many like it), comments on their posts and new followers,
newest first, the newest ``NOTIFICATIONS_MAX`` kept. The verbs, in pairs:

- ``add`` / ``withdraw``: an actor's like, comment or follow joins its notification,
  or leaves it (an unlike, a deleted comment, an unfollow); a notification with no
  actor left is gone. Nobody is notified of their own doing.
- ``forget``: a deleted post takes its notifications with it.
- ``page`` / ``mark_read``: newest first, with how many are unread; every one read.
- ``one``: a notification by its id (a client refetching it), only to its recipient.
- ``watch``: notifications as they are added or gain an actor, while the user watches.

Idempotent under redelivery and reordering without asking anyone: every event carries
the state after its change and when it happened, and each (notification, actor) pair
keeps the latest time it saw (feed_svc.notification_store), so an event that is
repeated, or older than what was applied, changes nothing. Chosen over re-reading the
like, comment or follow from its owner for each event: the events already say the
state, and a notification then costs one Redis script, with no call to post_svc or
graph_svc on the worker's path. The price: two changes of one pair within the same
millisecond are ordered withdrawal-first.

Actors stay user ids, resolved when read, so a later privacy filter has one place to
go: ``page`` (and ``watch`` and ``one``, which read through the same ``_shown``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from feed_svc.keys import notifications_live_channel
from feed_svc.notification_store import NotificationStore, Stored
from feed_svc.timeline import now_ms
from pictor.consumer import Fields
from pictor.errors import InvalidInput, NotFound
from pictor.feed.v1 import feed_pb2
from pictor.live import LiveChannels, LiveListener

# Notifications kept per user (the oldest trimmed on every add).
NOTIFICATIONS_MAX = 300

LIKE, COMMENT, FOLLOW = "like", "comment", "follow"
_KINDS = {
    LIKE: feed_pb2.NOTIFICATION_KIND_LIKE,
    COMMENT: feed_pb2.NOTIFICATION_KIND_COMMENT,
    FOLLOW: feed_pb2.NOTIFICATION_KIND_FOLLOW,
}


@dataclass(frozen=True)
class Subject:
    """What a notification is about: its kind, and the post and comment if any. Its
    name is the notification's identity: likes of one post share one."""

    kind: str
    post_id: int = 0
    comment_id: int = 0
    follower_id: int = 0

    @property
    def name(self) -> str:
        if self.kind == LIKE:
            return f"{LIKE}:{self.post_id}"
        if self.kind == COMMENT:
            return f"{COMMENT}:{self.post_id}:{self.comment_id}"
        return f"{FOLLOW}:{self.follower_id}"

    @classmethod
    def parse(cls, name: str) -> Subject:
        kind, *numbers = name.split(":")
        values = [int(number) for number in numbers]
        if kind == LIKE and len(values) == 1:
            return cls(LIKE, post_id=values[0])
        if kind == COMMENT and len(values) == 2:
            return cls(COMMENT, post_id=values[0], comment_id=values[1])
        if kind == FOLLOW and len(values) == 1:
            return cls(FOLLOW, follower_id=values[0])
        raise ValueError(f"not a notification name: {name!r}")


@dataclass(frozen=True)
class Cursor:
    """A position strictly after one notification: its score, then its name (Redis
    orders equal scores by name, descending when read newest first)."""

    at_ms: int
    name: str

    def __str__(self) -> str:
        return f"{self.at_ms}:{self.name}"

    @classmethod
    def parse(cls, text: str) -> Cursor:
        at, _, name = text.partition(":")
        try:
            Subject.parse(name)
            return cls(int(at), name)
        except ValueError:
            raise InvalidInput("malformed cursor") from None

    def before(self, name: str, at_ms: int) -> bool:
        """Whether a notification comes after this position, newest first."""
        return at_ms < self.at_ms or (at_ms == self.at_ms and name < self.name)


@dataclass(frozen=True)
class NotificationId:
    """A notification's id: its recipient, then its subject's name (``42:like:7``).
    Two people notified of one subject have two ids, and a reader is shown only the
    ones naming them."""

    recipient: int
    subject: Subject

    def __str__(self) -> str:
        return f"{self.recipient}:{self.subject.name}"

    @classmethod
    def parse(cls, text: str) -> NotificationId:
        recipient, _, name = text.partition(":")
        try:
            parsed = cls(int(recipient), Subject.parse(name))
        except ValueError:
            raise InvalidInput("malformed notification id") from None
        # One spelling per notification ("042:like:7" is not 42's), so an id read back
        # is the id asked for.
        if str(parsed) != text:
            raise InvalidInput("malformed notification id")
        return parsed


def notification_proto(recipient: int, stored: Stored) -> feed_pb2.Notification:
    subject = Subject.parse(stored.name)
    return feed_pb2.Notification(
        id=str(NotificationId(recipient, subject)),
        kind=_KINDS[subject.kind],
        actor_id=stored.actor_id,
        actor_count=stored.actor_count,
        post_id=subject.post_id,
        comment_id=subject.comment_id,
        at_ms=stored.at_ms,
        read=not stored.unread,
        cursor=str(Cursor(stored.at_ms, stored.name)),
    )


class Notifications:
    def __init__(self, store: NotificationStore, live: LiveChannels) -> None:
        self._store = store
        self._live = live

    # ------------------------------------------------------------ an actor

    async def add(self, recipient: int, subject: Subject, actor: int, at_ms: int) -> None:
        if actor == recipient:
            return  # nobody is told of their own doing
        await self._store.add(
            recipient, subject.name, actor, at_ms, subject.post_id, NOTIFICATIONS_MAX
        )

    async def withdraw(self, recipient: int, subject: Subject, actor: int, at_ms: int) -> None:
        if actor != recipient:
            await self._store.withdraw(recipient, subject.name, actor, at_ms)

    async def forget(self, recipient: int, post_id: int) -> None:
        await self._store.forget_post(recipient, post_id, now_ms())

    # ------------------------------------------------------------ a reader

    async def page(
        self, viewer: int, limit: int, after: Cursor | None
    ) -> tuple[list[feed_pb2.Notification], bool, int]:
        """Up to ``limit`` notifications after ``after``, newest first; whether more
        follow; how many are unread."""
        window = limit + 1
        if after is not None:
            window += await self._store.ties(viewer, after.at_ms)
        found = await self._store.names(viewer, after.at_ms if after else None, window)
        names = [name for name, at in found if after is None or after.before(name, at)]
        shown = await self._shown(viewer, names[: limit + 1])
        return shown[:limit], len(shown) > limit, await self._store.unread_count(viewer)

    async def mark_read(self, viewer: int) -> int:
        return await self._store.mark_read(viewer)

    async def one(self, viewer: int, wanted: NotificationId) -> feed_pb2.Notification:
        """The notification as it stands now, if it is the viewer's. NotFound alike when
        it is someone else's and when it is gone (withdrawn, trimmed, its post deleted:
        each takes its actors, and a notification without one is not shown), so an id
        tells a stranger nothing."""
        mine = wanted.recipient == viewer
        found = await self._shown(viewer, [wanted.subject.name]) if mine else []
        if not found:
            raise NotFound("no such notification")
        return found[0]

    async def watch(self, viewer: int) -> AsyncIterator[feed_pb2.Notification]:
        """Notifications as they are added or gain an actor, until the caller stops."""
        listener = LiveListener(self._live)
        try:
            await listener.listen([notifications_live_channel(viewer)])
            while True:
                data = await listener.arrived()
                for shown in await self._shown(viewer, [data.decode()]):
                    yield shown
        finally:
            await listener.aclose()

    async def _shown(self, viewer: int, names: Sequence[str]) -> list[feed_pb2.Notification]:
        """The named notifications as the viewer sees them (those withdrawn meanwhile
        left out); where a privacy filter of actors goes."""
        return [notification_proto(viewer, s) for s in await self._store.details(viewer, names)]


class NotificationEvents:
    """The feed worker's engagement events, each mapped to a verb of Notifications."""

    def __init__(self, notifications: Notifications) -> None:
        self._notifications = notifications

    async def like_changed(self, message_id: str, fields: Fields) -> None:
        subject = Subject(LIKE, post_id=int(fields["post_id"]))
        await self._apply(fields, "liked", subject, int(fields["post_author_id"]), "user_id")

    async def comment_changed(self, message_id: str, fields: Fields) -> None:
        subject = Subject(
            COMMENT, post_id=int(fields["post_id"]), comment_id=int(fields["comment_id"])
        )
        await self._apply(fields, "added", subject, int(fields["post_author_id"]), "author_id")

    async def follow_changed(self, message_id: str, fields: Fields) -> None:
        subject = Subject(FOLLOW, follower_id=int(fields["follower_id"]))
        await self._apply(fields, "following", subject, int(fields["followee_id"]), "follower_id")

    async def post_deleted(self, message_id: str, fields: Fields) -> None:
        await self._notifications.forget(int(fields["author_id"]), int(fields["post_id"]))

    async def _apply(
        self, fields: Fields, state: str, subject: Subject, recipient: int, actor_field: str
    ) -> None:
        actor, at_ms = int(fields[actor_field]), int(fields["at_ms"])
        if _flag(fields[state]):
            await self._notifications.add(recipient, subject, actor, at_ms)
        else:
            await self._notifications.withdraw(recipient, subject, actor, at_ms)


def _flag(value: str) -> bool:
    """An event's boolean field: 1/0 (as follow.changed writes it) or true/false."""
    return value.strip().lower() in ("1", "true")
