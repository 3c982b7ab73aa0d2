"""Users and follow edges as graph_svc sees them, and the rules for what people may
sign up with."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from pictor.errors import InvalidInput

USERNAME_MAX = 30
PASSWORD_MIN = 8
# argon2 hashes any length; the cap only stops megabyte "passwords" from costing CPU.
PASSWORD_MAX = 256
DISPLAY_NAME_MAX = 50
# A bio is a line or two under the name on a profile (Instagram allows 150 characters):
# long enough to say who someone is, short enough to stay a caption, not a post.
BIO_MAX = 150
_USERNAME = re.compile(rf"^[a-z0-9._]{{1,{USERNAME_MAX}}}$")


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    bio: str
    created_at: datetime
    follower_count: int = 0
    following_count: int = 0
    post_count: int = 0
    # The current avatar, a serialized post.v1.Media (READY); empty until set.
    avatar: bytes = b""


@dataclass(frozen=True)
class Edge:
    """One side of a follow: the other user, and since when."""

    user_id: int
    followed_at: datetime


@dataclass(frozen=True)
class Account:
    """A user with what it takes to log in: never leaves graph_svc."""

    user: User
    password_hash: str


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    normalized = username.strip().lower()
    if not _USERNAME.match(normalized):
        raise InvalidInput(f"a username is 1 to {USERNAME_MAX} characters of a-z, 0-9, '.' and '_'")
    return normalized


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters")
    if not password.strip():
        raise InvalidInput("a password cannot be only spaces")
    return password


def normalize_display_name(display_name: str) -> str:
    name = " ".join(display_name.split())
    if len(name) > DISPLAY_NAME_MAX:
        raise InvalidInput(f"a display name is at most {DISPLAY_NAME_MAX} characters")
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise InvalidInput("a display name cannot contain control characters")
    return name


def check_new_display_name(display_name: str) -> str:
    """A display name someone changes to: as at sign-up, but not empty (an edit that
    clears the name is a mistake more often than a wish)."""
    name = normalize_display_name(display_name)
    if not name:
        raise InvalidInput(f"a display name is 1 to {DISPLAY_NAME_MAX} characters")
    return name


def check_bio(bio: str) -> str:
    """A bio: up to BIO_MAX characters, line breaks kept, other control characters
    refused, surrounding space dropped (empty clears it)."""
    text = bio.strip()
    if len(text) > BIO_MAX:
        raise InvalidInput(f"a bio is at most {BIO_MAX} characters")
    if any(unicodedata.category(char).startswith("C") and char != "\n" for char in text):
        raise InvalidInput("a bio cannot contain control characters other than line breaks")
    return text
