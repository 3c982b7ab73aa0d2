"""Opaque global ids: ``base64url("<Type>:<value>")``, so ``node(id)`` knows the type.

Users, posts and comments are numbered (Snowflake ids). A notification is named by
feed_svc: its recipient's user id, then its subject (``42:like:7``); the gateway checks
only that it names a recipient, feed_svc the rest.
"""

from __future__ import annotations

import base64
import binascii

from gateway.errors import ErrorCode, GatewayError
from pictor.snowflake import is_id

NUMBERED = ("User", "Post", "Comment")
NOTIFICATION = "Notification"


def encode(kind: str, value: int | str) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{value}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, int | str]:
    """The type and its number, or a notification's name (a str)."""
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        kind, _, value = base64.urlsafe_b64decode(padded).decode().partition(":")
        if kind in NUMBERED and is_id(number := int(value)):
            return kind, number
        recipient, _, subject = value.partition(":")
        if kind == NOTIFICATION and is_id(int(recipient)) and subject:
            return kind, value
    except (ValueError, binascii.Error, UnicodeDecodeError):
        pass
    raise GatewayError(ErrorCode.BAD_USER_INPUT, f"malformed id {global_id!r}")


def decode(kind: str, global_id: str) -> int:
    """The number of a ``kind`` id (a User, Post or Comment)."""
    found, value = decode_any(global_id)
    if found != kind or not isinstance(value, int):
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"{global_id!r} is not a {kind} id")
    return value
