"""graph_svc's CQL access."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graph_svc.users import User
from pictor.cql import CqlSession

_USER_COLUMNS = "user_id, username, display_name, bio, created_at"


def _user(row: Any) -> User:
    return User(
        id=row.user_id,
        username=row.username,
        display_name=row.display_name or "",
        bio=row.bio or "",
        created_at=row.created_at,
    )


class UserStore:
    def __init__(self, cql: CqlSession) -> None:
        self._cql = cql

    async def get_by_username(self, username: str) -> User | None:
        rows = await self._cql.read(
            "SELECT user_id FROM users_by_username WHERE username = ?", (username,)
        )
        if not rows:
            return None
        users = await self.get_many([rows[0].user_id])
        return users[0] if users else None

    async def get_many(self, user_ids: Sequence[int]) -> list[User]:
        """The users that exist among user_ids, in one query."""
        if not user_ids:
            return []
        rows = await self._cql.read(
            f"SELECT {_USER_COLUMNS} FROM users WHERE user_id IN ?", (list(set(user_ids)),)
        )
        return [_user(row) for row in rows]
