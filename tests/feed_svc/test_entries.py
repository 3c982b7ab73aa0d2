"""The pure timeline rules (feed_svc.entries), without the stack: paging by cursor
while posts arrive, the celebrity merge, trimming."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from hypothesis import given
from hypothesis import strategies as st

from feed_svc.entries import (
    Entry,
    all_read,
    keep_newest,
    merged_after,
    newer_than,
    quiet_since,
)
from pictor.snowflake import timestamp_ms

EPOCH_MS = 1_288_834_974_657  # Twitter's Snowflake epoch, as pictor.snowflake's


def post(ms: int, sequence: int = 0, author: int = 1 << 40) -> Entry:
    """A post created ``ms`` after an arbitrary instant (``sequence`` orders posts of
    one millisecond)."""
    return Entry(((ms + 1_000_000) << 22) | sequence, author)


def page_through(timeline: Sequence[Entry], limit: int, arriving: Sequence[Entry]) -> list[Entry]:
    """Reads a timeline page by page as the service does (a window of each source from
    the cursor's score, merged, strictly after the cursor), one new post arriving at
    the top after each page."""
    stored = set(timeline)
    incoming = list(arriving)
    seen: list[Entry] = []
    after: Entry | None = None
    while True:
        window = limit + 2
        while True:
            top = after.score if after is not None else None
            source = sorted((e for e in stored if top is None or e.score <= top), reverse=True)
            read = source[:window]
            shown = merged_after([read], after)
            if len(shown) > limit or all_read([read], window):
                break
            window *= 4
        page = shown[:limit]
        seen += page
        if incoming:
            stored.add(incoming.pop(0))
        if len(shown) <= limit:
            return seen
        after = page[-1]


def test_a_post_score_is_its_creation_millisecond() -> None:
    assert post(5).score == timestamp_ms(post(5).post_id) == post(5, sequence=9).score


def test_an_entry_round_trips_through_its_member_and_refuses_anything_else() -> None:
    entry = post(7, author=1 << 41)
    assert Entry.parse(entry.member) == entry
    assert Entry.parse(entry.member.encode()) == entry
    for bad in ("", "x:y", "12", "0:2", "-1:2"):
        with pytest.raises(ValueError, match="not a timeline entry"):
            Entry.parse(bad)


@given(
    # Many posts share a millisecond, so pages start and end inside one score.
    times=st.lists(st.integers(min_value=0, max_value=6), min_size=0, max_size=40),
    limit=st.integers(min_value=1, max_value=5),
    arrivals=st.integers(min_value=0, max_value=10),
)
def test_a_cursor_never_skips_or_repeats_while_new_posts_arrive(
    times: list[int], limit: int, arrivals: int
) -> None:
    timeline = [post(ms, sequence) for sequence, ms in enumerate(times)]
    newer = [post(100 + n) for n in range(arrivals)]
    assert page_through(timeline, limit, newer) == sorted(timeline, reverse=True)


def test_the_celebrity_merge_interleaves_by_time_each_post_once() -> None:
    ada, star = 1 << 40, 1 << 41
    pushed = [post(9, author=ada), post(5, author=ada), post(1, author=ada)]
    pulled = [post(8, author=star), post(5, 1, author=star), post(2, author=star)]
    merged = merged_after([pushed, pulled, pulled[:1]], None)
    assert [(e.score - post(0).score, e.author_id) for e in merged] == [
        (9, ada),
        (8, star),
        (5, star),  # same millisecond: the later id first
        (5, ada),
        (2, star),
        (1, ada),
    ]
    assert merged_after([pushed, pulled], merged[2]) == merged[3:]


def test_all_read_only_when_every_source_came_back_short_of_the_window() -> None:
    assert all_read([[post(1)], []], window=2)
    assert not all_read([[post(1)], [post(2), post(3)]], window=2)


def test_trimming_keeps_the_newest_and_a_full_timeline_takes_only_newer() -> None:
    found = [post(ms) for ms in (3, 9, 1, 7, 5, 9)]
    assert keep_newest(found, 3) == [post(9), post(7), post(5)]
    assert keep_newest(found, 10) == [post(9), post(7), post(5), post(3), post(1)]
    assert newer_than(found, post(5).score) == [post(9), post(7), post(9)]


def test_quiet_means_not_seen_for_the_inactive_days() -> None:
    day = 24 * 3600 * 1000
    now = EPOCH_MS + 30 * day
    assert quiet_since(now, 7) == now - 7 * day
    assert quiet_since(now, 0.5) == now - day // 2
