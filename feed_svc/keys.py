"""The names feed_svc keeps in Redis, public so nothing else copies them (the bench
and the tests read timelines and notifications, the worker's streams and groups).

Cluster-ready: every key and channel of one user (or one author) carries that id as
its hash tag, ``{42}``, so they share a Redis Cluster slot: a script or pipeline over
one user's keys runs on one node, and a user's live channel lives beside their keys.
There is no global key: whether an author is a celebrity is a flag on the author's
own slot (see ``celebrity_key``).
"""

from __future__ import annotations

from collections.abc import Callable

# Fan-out jobs: one message per page of an author's followers (feed_svc.fanout).
FANOUT_JOBS = "events:feed.fanout"
# The consumer group of every stream the feed worker reads.
WORKER_GROUP = "feed-fanout"
# The consumer group that turns engagement events into notifications.
NOTIFICATIONS_GROUP = "notifications"


def of_everyone(key: Callable[[int], str]) -> str:
    """A SCAN pattern (Redis glob) of ``key`` for every user or author, with the keys
    that share its name and hash tag: ``feed:{*`` also matches ``feed:{42}:built``."""
    return key(0).replace("{0}", "{*")


# ------------------------------------------------------------ a reader's keys


def feed_key(user_id: int) -> str:
    """The home timeline: a sorted set of entries (feed_svc.entries)."""
    return f"feed:{{{user_id}}}"


def feed_built_key(user_id: int) -> str:
    """Exists once the timeline has been built; pushes write only built timelines."""
    return f"feed:{{{user_id}}}:built"


def following_key(user_id: int) -> str:
    """Whom the user follows, copied from graph_svc: what a page is checked against."""
    return f"following:{{{user_id}}}"


def following_built_key(user_id: int) -> str:
    return f"following:{{{user_id}}}:built"


def pulled_key(user_id: int) -> str:
    """The celebrities this user follows, whose posts are merged at read time."""
    return f"pulled:{{{user_id}}}"


def last_seen_key(user_id: int) -> str:
    return f"last-seen:{{{user_id}}}"


def live_key(user_id: int) -> str:
    """Exists while the user has a live home feed subscription open."""
    return f"live:{{{user_id}}}"


def announced_key(user_id: int) -> str:
    """The posts a live subscriber has been told of, so a redelivered push is not
    told twice; lives as long as the subscription's live flag."""
    return f"live:{{{user_id}}}:announced"


def live_channel(user_id: int) -> str:
    """Sharded pub/sub channel of the user's live home feed (feed_svc.store.LIVE_*)."""
    return f"feed-live:{{{user_id}}}"


# ------------------------------------------------------------ an author's keys


def author_posts_key(author_id: int) -> str:
    """The author's recent READY posts: backfill, rebuild and celebrity merge read it."""
    return f"author-posts:{{{author_id}}}"


def author_posts_loaded_key(author_id: int) -> str:
    return f"author-posts:{{{author_id}}}:loaded"


def celebrity_key(author_id: int) -> str:
    """Exists while the author has more followers than the celebrity threshold.

    One flag per author on the author's own slot rather than one global set: every
    fan-out and rebuild asks about authors, and a global set would put all those reads
    (and every crossing's write) on one node. Spread this way, the question costs what
    reading the author's recent posts costs, on the same node, and the answer is never
    stale (an in-process cache would be, for a refresh interval, across replicas).
    Derived from graph_svc's follower count: lost, it is set again by the author's
    next post or follow, which also starts the read-time merge for every follower."""
    return f"celebrity:{{{author_id}}}"


def author_live_channel(author_id: int) -> str:
    """Where a celebrity's new posts are announced to followers watching live."""
    return f"author-live:{{{author_id}}}"


# ------------------------------------------------------------ a recipient's notifications


def notifications_key(user_id: int) -> str:
    """The notification feed: a sorted set of notification names scored by their
    newest actor's time (ms)."""
    return f"notifications:{{{user_id}}}"


def notifications_unread_key(user_id: int) -> str:
    return f"notifications:{{{user_id}}}:unread"


def notifications_deleted_posts_key(user_id: int) -> str:
    """The recipient's posts deleted lately, so a late like of one adds nothing."""
    return f"notifications:{{{user_id}}}:deleted-posts"


def notification_actors_key(user_id: int, name: str) -> str:
    """One notification's actors: a sorted set, actor -> when they acted (ms)."""
    return f"notifications:{{{user_id}}}:actors:{name}"


def notification_withdrawn_key(user_id: int, name: str) -> str:
    """One notification's actors who withdrew: a hash, actor -> when (ms)."""
    return f"notifications:{{{user_id}}}:withdrawn:{name}"


def notifications_live_channel(user_id: int) -> str:
    """Sharded pub/sub channel: the names of the user's notifications as they are added
    or gain an actor."""
    return f"notifications-live:{{{user_id}}}"
