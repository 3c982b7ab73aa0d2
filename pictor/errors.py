"""Domain errors shared by the services, and their one mapping to gRPC status.

Domain code raises these; the server interceptor in :mod:`pictor.service` turns
them into a status. When the status code alone is ambiguous for the gateway
(RESOURCE_EXHAUSTED is both "too large" and "too many"), the reason travels in
the ``pictor-reason`` trailing metadata key.
"""

from __future__ import annotations

import grpc

REASON_METADATA_KEY = "pictor-reason"


class DomainError(Exception):
    """An expected failure whose message is safe to show the caller."""

    status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: str | None = None


class InvalidInput(DomainError):
    status = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    status = grpc.StatusCode.NOT_FOUND


class Conflict(DomainError):
    status = grpc.StatusCode.ALREADY_EXISTS


class Forbidden(DomainError):
    status = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    status = grpc.StatusCode.UNAUTHENTICATED


class RateLimited(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "RATE_LIMITED"


class PayloadTooLarge(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "PAYLOAD_TOO_LARGE"
