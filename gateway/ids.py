"""Opaque global ids: ``base64url("<Type>:<number>")``, so ``node(id)`` knows the type."""

from __future__ import annotations

import base64
import binascii

from gateway.errors import ErrorCode, GatewayError
from pictor.snowflake import is_id

KINDS = ("User", "Post", "Comment")


def encode(kind: str, number: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{number}".encode()).decode().rstrip("=")


def decode_any(global_id: str) -> tuple[str, int]:
    try:
        padded = global_id + "=" * (-len(global_id) % 4)
        kind, _, number = base64.urlsafe_b64decode(padded).decode().partition(":")
        value = int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"malformed id {global_id!r}") from None
    if kind not in KINDS or not is_id(value):
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"malformed id {global_id!r}")
    return kind, value


def decode(kind: str, global_id: str) -> int:
    found, value = decode_any(global_id)
    if found != kind:
        raise GatewayError(ErrorCode.BAD_USER_INPUT, f"{global_id!r} is not a {kind} id")
    return value
