"""The one mapping from failures to the contract's ``extensions.code``.

Every error leaving the gateway carries a code. gRPC statuses from the services map
by status code (or by the ``pictor-reason`` the service attached); errors the
gateway raises itself carry their code; GraphQL syntax and validation errors are
BAD_USER_INPUT; anything else is INTERNAL and its message is masked. An error that
says when to try again (a GatewayError's own hint, or a service's
``pictor-retry-after`` through ``with_retry_hint``) carries it as
``extensions.retryAfterSeconds``.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from typing import Any

import grpc
from graphql import GraphQLError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from strawberry.extensions import MaskErrors

from pictor.errors import REASON_METADATA_KEY, RETRY_AFTER_METADATA_KEY

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    NOT_FOUND = "NOT_FOUND"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    CONFLICT = "CONFLICT"
    RATE_LIMITED = "RATE_LIMITED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    UNAVAILABLE = "UNAVAILABLE"
    INTERNAL = "INTERNAL"


INTERNAL_MESSAGE = "Internal server error."

_CODE_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorCode.BAD_USER_INPUT,
    grpc.StatusCode.OUT_OF_RANGE: ErrorCode.BAD_USER_INPUT,
    grpc.StatusCode.NOT_FOUND: ErrorCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: ErrorCode.CONFLICT,
    grpc.StatusCode.ABORTED: ErrorCode.CONFLICT,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorCode.CONFLICT,
    grpc.StatusCode.PERMISSION_DENIED: ErrorCode.FORBIDDEN,
    grpc.StatusCode.UNAUTHENTICATED: ErrorCode.UNAUTHENTICATED,
    grpc.StatusCode.RESOURCE_EXHAUSTED: ErrorCode.RATE_LIMITED,
    grpc.StatusCode.UNAVAILABLE: ErrorCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: ErrorCode.UNAVAILABLE,
}


class GatewayError(Exception):
    """An error the gateway raises itself, with the code clients will see."""

    retry_after_seconds: int | None = None

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    @property
    def extensions(self) -> dict[str, Any]:
        """Taken over by graphql-core into the error's own ``extensions``, so every
        transport that formats errors shows them."""
        if self.retry_after_seconds is None:
            return {}
        return {"retryAfterSeconds": self.retry_after_seconds}


def with_retry_hint(error: grpc.aio.AioRpcError) -> Exception:
    """A service's refusal that says when to try again, as the gateway's own error so
    the hint reaches ``extensions.retryAfterSeconds``; any other error as it is."""
    seconds = _rpc_retry_after(error)
    if seconds is None:
        unchanged: Exception = error  # grpc's types are unknown to mypy
        return unchanged
    hinted = GatewayError(code_of_rpc_error(error), error.details() or "try again later")
    hinted.retry_after_seconds = seconds
    return hinted


def _rpc_retry_after(error: grpc.aio.AioRpcError) -> int | None:
    for key, value in error.trailing_metadata() or ():
        if key == RETRY_AFTER_METADATA_KEY and isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def code_of_rpc_error(error: grpc.aio.AioRpcError) -> ErrorCode:
    for key, value in error.trailing_metadata() or ():
        if key == REASON_METADATA_KEY and value in ErrorCode.__members__:
            return ErrorCode(value)
    return _CODE_BY_STATUS.get(error.code(), ErrorCode.INTERNAL)


def classify(error: GraphQLError) -> tuple[ErrorCode, str]:
    """The code and the client-safe message for an error in a GraphQL result."""
    original = error.original_error
    if original is None:
        # Raised by graphql-core itself: syntax, validation, limits, variable coercion.
        return ErrorCode.BAD_USER_INPUT, error.message
    if isinstance(original, GatewayError):
        return original.code, str(original)
    if isinstance(original, grpc.aio.AioRpcError):
        code = code_of_rpc_error(original)
        if code is not ErrorCode.INTERNAL:
            return code, original.details() or code.value
    if isinstance(original, GraphQLError):
        return classify(original)
    if isinstance(original, (RedisConnectionError, RedisTimeoutError)):
        log.warning("Redis is unavailable at %s: %s", error.path, original)
        return ErrorCode.UNAVAILABLE, "a datastore is unavailable; retry"
    log.error("internal error at %s", error.path, exc_info=original)
    return ErrorCode.INTERNAL, INTERNAL_MESSAGE


class ErrorCodes(MaskErrors):
    """Gives every error its ``extensions.code`` and masks INTERNAL ones.

    Built on MaskErrors, which already reaches query, mutation and subscription results.
    """

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        processed = []
        for error in errors:
            code, message = classify(error)
            processed.append(
                GraphQLError(
                    message=message,
                    nodes=error.nodes,
                    source=error.source,
                    positions=error.positions,
                    path=error.path,
                    extensions={**(error.extensions or {}), "code": code.value},
                )
            )
        return processed
