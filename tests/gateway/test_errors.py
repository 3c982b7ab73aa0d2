"""The one mapping from failures to extensions.code (pure logic)."""

from __future__ import annotations

import grpc
import pytest
from graphql import GraphQLError

from gateway.errors import INTERNAL_MESSAGE, ErrorCode, GatewayError, classify


def _rpc_error(
    code: grpc.StatusCode, details: str, reason: str | None = None
) -> grpc.aio.AioRpcError:
    trailing = grpc.aio.Metadata(("pictor-reason", reason)) if reason else grpc.aio.Metadata()
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), trailing, details=details)


def _located(original: Exception) -> GraphQLError:
    return GraphQLError(str(original), original_error=original)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (grpc.StatusCode.INVALID_ARGUMENT, ErrorCode.BAD_USER_INPUT),
        (grpc.StatusCode.NOT_FOUND, ErrorCode.NOT_FOUND),
        (grpc.StatusCode.ALREADY_EXISTS, ErrorCode.CONFLICT),
        (grpc.StatusCode.FAILED_PRECONDITION, ErrorCode.CONFLICT),
        (grpc.StatusCode.PERMISSION_DENIED, ErrorCode.FORBIDDEN),
        (grpc.StatusCode.UNAUTHENTICATED, ErrorCode.UNAUTHENTICATED),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, ErrorCode.RATE_LIMITED),
        (grpc.StatusCode.UNAVAILABLE, ErrorCode.UNAVAILABLE),
        (grpc.StatusCode.DEADLINE_EXCEEDED, ErrorCode.UNAVAILABLE),
    ],
)
def test_service_statuses_map_to_contract_codes(
    status: grpc.StatusCode, expected: ErrorCode
) -> None:
    code, message = classify(_located(_rpc_error(status, "the service's words")))
    assert code is expected
    assert message == "the service's words"


def test_a_reason_from_the_service_overrides_the_status() -> None:
    error = _rpc_error(grpc.StatusCode.RESOURCE_EXHAUSTED, "too big", reason="PAYLOAD_TOO_LARGE")
    assert classify(_located(error)) == (ErrorCode.PAYLOAD_TOO_LARGE, "too big")


@pytest.mark.parametrize(
    "status",
    [grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED],
)
def test_internal_failures_are_masked(status: grpc.StatusCode) -> None:
    code, message = classify(_located(_rpc_error(status, "Traceback: secret table xyz")))
    assert (code, message) == (ErrorCode.INTERNAL, INTERNAL_MESSAGE)


def test_an_unexpected_exception_is_masked() -> None:
    code, message = classify(_located(KeyError("password_hash")))
    assert (code, message) == (ErrorCode.INTERNAL, INTERNAL_MESSAGE)


def test_gateway_errors_keep_their_code() -> None:
    error = GatewayError(ErrorCode.UNAUTHENTICATED, "sign in first")
    assert classify(_located(error)) == (ErrorCode.UNAUTHENTICATED, "sign in first")


def test_graphql_validation_errors_are_bad_user_input() -> None:
    code, _ = classify(GraphQLError("Cannot query field 'nope' on type 'Query'."))
    assert code is ErrorCode.BAD_USER_INPUT
