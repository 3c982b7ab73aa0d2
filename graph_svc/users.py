"""Users as the rest of graph_svc sees them, and the rules for usernames."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from pictor.errors import InvalidInput

USERNAME_MAX = 30
_USERNAME = re.compile(rf"^[a-z0-9._]{{1,{USERNAME_MAX}}}$")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    bio: str
    created_at: datetime


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    normalized = username.strip().lower()
    if not _USERNAME.match(normalized):
        raise InvalidInput(f"a username is 1 to {USERNAME_MAX} characters of a-z, 0-9, '.' and '_'")
    return normalized
