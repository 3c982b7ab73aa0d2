"""Cursor pages over rows clustered by a numeric id, newest first: the page token is
the id of the last row seen, and the next page starts strictly after it, so rows added
meanwhile never shift a page (nothing skipped, nothing repeated)."""

from __future__ import annotations

from pictor.errors import InvalidInput
from pictor.snowflake import is_id

# No service hands out pages bigger than this.
PAGE_MAX = 100
# Ids per batch read: more than any page the gateway asks for.
BATCH_MAX = 500


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
