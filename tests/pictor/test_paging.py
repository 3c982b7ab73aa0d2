"""Cursor pages, without the stack: following the tokens reads every row once, in
order, and the last page says there is no next one, even when it is exactly full."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pictor.common.v1 import common_pb2
from pictor.errors import InvalidInput
from pictor.paging import read_page


def newest_first(ids: list[int]) -> list[int]:
    return sorted(set(ids), reverse=True)


async def read_all(rows: list[int], size: int) -> list[list[int]]:
    """Every page of rows (ids newest first), following the tokens."""

    async def read(after: int | None, limit: int) -> list[int]:
        return [row for row in rows if after is None or row < after][:limit]

    pages: list[list[int]] = []
    token = ""
    while True:
        shown, page = await read_page(
            common_pb2.PageRequest(page_size=size, page_token=token), 20, read, int
        )
        pages.append(shown)
        token = page.next_page_token
        if not token:
            return pages


@settings(max_examples=300)
@given(ids=st.lists(st.integers(1, 10_000), max_size=60), size=st.integers(1, 12))
def test_following_the_tokens_reads_every_row_once_in_order(ids: list[int], size: int) -> None:
    rows = newest_first(ids)

    pages = asyncio.run(read_all(rows, size))

    assert [row for page in pages for row in page] == rows
    assert all(len(page) == size for page in pages[:-1])
    # Only an empty list has an empty page: a full last page names no next one.
    assert pages[-1] or not rows


def test_a_page_size_beyond_the_maximum_is_refused() -> None:
    with pytest.raises(InvalidInput):
        asyncio.run(read_all([3, 2, 1], 101))
