"""Timeline entries and the pure rules that order, page and trim them: no Redis, no
clock, so each rule is tested on its own (tests/feed_svc/test_entries.py).

An entry's score is the post's creation time in milliseconds, taken from its Snowflake
id: exact as a double (< 2**53), where the 64-bit id itself would not be. Its member is
``"<post id>:<author id>"``, so an entry says whose it is without another lookup, and
same-millisecond posts sort by id (ids have equal length: string order is number
order). The member is also the cursor a client pages with.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pictor.snowflake import is_id, timestamp_ms

DAY_MS = 24 * 3600 * 1000


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
        try:
            entry = cls(int(post_id), int(author_id))
        except ValueError:
            raise ValueError(f"not a timeline entry: {text!r}") from None
        if not (is_id(entry.post_id) and is_id(entry.author_id)):
            raise ValueError(f"not a timeline entry: {text!r}")
        return entry


def entries(members: Iterable[bytes | str]) -> list[Entry]:
    return [Entry.parse(member) for member in members]


def merged_after(sources: Iterable[Sequence[Entry]], after: Entry | None) -> list[Entry]:
    """The entries of every source (the pushed timeline, each celebrity's recent posts)
    strictly older than ``after``, newest first, each once.

    Sources are read by score, and posts of one millisecond share a score, so a source
    read from ``after``'s score also holds ``after`` and its same-millisecond elders
    and juniors: the strict comparison on the whole entry is what keeps a page from
    repeating the previous page's last posts or skipping their neighbours."""
    merged = sorted({entry for source in sources for entry in source}, reverse=True)
    if after is None:
        return merged
    return [entry for entry in merged if entry < after]


def all_read(sources: Iterable[Sequence[Entry]], window: int) -> bool:
    """Whether reading ``window`` entries from each source reached the end of every one
    (a source that filled the window may hold more)."""
    return all(len(source) < window for source in sources)


def keep_newest(found: Iterable[Entry], keep: int) -> list[Entry]:
    """The newest ``keep`` entries, newest first: what a trimmed timeline holds."""
    return sorted(set(found), reverse=True)[:keep]


def newer_than(found: Iterable[Entry], floor: float) -> list[Entry]:
    """Entries scored above ``floor``: what a full timeline can take without the new
    entries being trimmed at once (its oldest score is the floor)."""
    return [entry for entry in found if entry.score > floor]


def quiet_since(now_ms: int, inactive_days: float) -> int:
    """The last-seen time (ms) before which a follower counts as gone quiet."""
    return now_ms - int(inactive_days * DAY_MS)
