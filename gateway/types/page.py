from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import strawberry


class Cursored(Protocol):
    @property
    def cursor(self) -> str: ...


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def after(cls, read: Sequence[Cursored], next_token: str) -> PageInfo:
        """The info of a page from every item read for it, those left out included
        (paging goes on after them), and the token to go on with ("" on the last page)."""
        return cls(has_next_page=bool(next_token), end_cursor=read[-1].cursor if read else None)
