"""Bearer tokens: HS256 JWTs whose subject is the user id."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from gateway.config import GatewaySettings
from gateway.errors import ErrorCode, GatewayError
from pictor.snowflake import is_id

_ALGORITHM = "HS256"
_ISSUER = "pictor"


def issue_token(user_id: int, settings: GatewaySettings) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "iss": _ISSUER,
        "iat": now,
        "exp": now + timedelta(seconds=settings.jwt_ttl_seconds),
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm=_ALGORITHM)


def viewer_from_authorization(header: str | None, settings: GatewaySettings) -> int | None:
    """The user id of a valid ``Bearer`` header; None without one; an error for a bad one.

    A bad token is an error rather than "anonymous", so a client with an expired
    session learns it must log in again.
    """
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise GatewayError(ErrorCode.UNAUTHENTICATED, "expected 'Authorization: Bearer <token>'")
    try:
        claims = jwt.decode(
            token,
            settings.jwt_secret.get_secret_value(),
            algorithms=[_ALGORITHM],
            issuer=_ISSUER,
            options={"require": ["sub", "exp", "iss"]},
        )
        viewer = int(claims["sub"])
    except jwt.ExpiredSignatureError:
        raise GatewayError(ErrorCode.UNAUTHENTICATED, "token expired; log in again") from None
    except (jwt.InvalidTokenError, ValueError):
        raise GatewayError(ErrorCode.UNAUTHENTICATED, "invalid token") from None
    if not is_id(viewer):
        raise GatewayError(ErrorCode.UNAUTHENTICATED, "invalid token")
    return viewer
