"""feed_svc's Redis keys and the commands on them, in one place.

Every key a user owns carries that user's id as hash tag, so one reader's keys share a
Redis Cluster slot and a read is one pipeline. Timeline scores are the post's creation
time in milliseconds, taken from its Snowflake id: exact as a double (< 2**53), where
the 64-bit id itself would not be. Members are ``"<post id>:<author id>"``, so a
timeline entry says whose it is without another lookup, and same-millisecond posts sort
by id (ids have equal length, so string order is number order).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import redis.asyncio as redis

from pictor.snowflake import is_id, timestamp_ms


@dataclass(frozen=True, order=True)
class Entry:
    """One post in a timeline or an author's recent posts; orders oldest first."""

    post_id: int
    author_id: int

    @property
    def score(self) -> int:
        return timestamp_ms(self.post_id)

    @property
    def member(self) -> str:
        return f"{self.post_id}:{self.author_id}"

    @classmethod
    def parse(cls, member: bytes | str) -> Entry:
        text = member.decode() if isinstance(member, bytes) else member
        post_id, _, author_id = text.partition(":")
        entry = cls(int(post_id), int(author_id))
        if not (is_id(entry.post_id) and is_id(entry.author_id)):
            raise ValueError(f"not a timeline entry: {text!r}")
        return entry


def feed_key(user_id: int) -> str:
    return f"feed:{{{user_id}}}"


def feed_built_key(user_id: int) -> str:
    return f"feed:{{{user_id}}}:built"


def following_key(user_id: int) -> str:
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


def live_channel(user_id: int) -> str:
    return f"feed-live:{{{user_id}}}"


def author_posts_key(author_id: int) -> str:
    return f"author-posts:{{{author_id}}}"


def author_posts_loaded_key(author_id: int) -> str:
    return f"author-posts:{{{author_id}}}:loaded"


def author_live_channel(author_id: int) -> str:
    """Where a celebrity's new posts are announced to followers watching live."""
    return f"author-live:{{{author_id}}}"


CELEBRITIES = "celebrities"


def entries(members: Iterable[bytes | str]) -> list[Entry]:
    return [Entry.parse(member) for member in members]


def trim(pipe: redis.client.Pipeline, key: str, keep: int) -> None:
    """Keeps only the newest ``keep`` members."""
    pipe.zremrangebyrank(key, 0, -(keep + 1))


def add_entries(pipe: redis.client.Pipeline, key: str, items: Sequence[Entry], keep: int) -> None:
    if items:
        pipe.zadd(key, {item.member: item.score for item in items})
        trim(pipe, key, keep)
