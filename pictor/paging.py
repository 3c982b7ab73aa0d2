"""Cursor pages over rows clustered by a numeric id, newest first: the page token is
the id of the last row seen, and the next page starts strictly after it, so rows added
meanwhile never shift a page (nothing skipped, nothing repeated)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from pictor.common.v1 import common_pb2
from pictor.errors import InvalidInput
from pictor.snowflake import is_id

# No service hands out pages bigger than this.
PAGE_MAX = 100
# Ids per batch read: more than any page the gateway asks for.
BATCH_MAX = 500

T = TypeVar("T")


def check_batch(size: int) -> None:
    if size > BATCH_MAX:
        raise InvalidInput(f"at most {BATCH_MAX} ids per batch")


def page_size(requested: int, default: int, maximum: int = PAGE_MAX) -> int:
    size = requested or default
    if not 1 <= size <= maximum:
        raise InvalidInput(f"page size must be between 1 and {maximum}")
    return size


def after_id(page_token: str) -> int | None:
    """The id a page token points after; None for the first page."""
    if not page_token:
        return None
    if not page_token.isascii() or not page_token.isdigit() or not is_id(int(page_token)):
        raise InvalidInput("malformed page token")
    return int(page_token)


async def read_page(
    page: common_pb2.PageRequest,
    default_size: int,
    read: Callable[[int | None, int], Awaitable[Sequence[T]]],
    cursor: Callable[[T], int],
) -> tuple[list[T], common_pb2.PageResponse]:
    """The page asked for and the token of the next one ("" after the last page).

    ``read(after, limit)`` reads up to ``limit`` rows, newest first, strictly after the
    id ``after`` (None: from the newest); ``cursor`` is a row's id."""
    size = page_size(page.page_size, default_size)
    # One extra row says whether another page exists.
    rows = await read(after_id(page.page_token), size + 1)
    shown = list(rows[:size])
    next_token = str(cursor(shown[-1])) if len(rows) > size else ""
    return shown, common_pb2.PageResponse(next_page_token=next_token)
