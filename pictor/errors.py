"""Domain errors shared by the services, and their one mapping to gRPC status.

Domain code raises these; :mod:`pictor.service`, which wraps every handler once
when the servicer is registered, turns them into a status. When the status code
alone is ambiguous for the gateway (RESOURCE_EXHAUSTED is both "too large" and "too
many"), the reason travels in the ``pictor-reason`` trailing metadata key; when to
retry after RateLimited, in ``pictor-retry-after`` (whole seconds).
"""

from __future__ import annotations

import grpc

REASON_METADATA_KEY = "pictor-reason"
RETRY_AFTER_METADATA_KEY = "pictor-retry-after"


class DomainError(Exception):
    """An expected failure whose message is safe to show the caller."""

    status: grpc.StatusCode = grpc.StatusCode.FAILED_PRECONDITION
    reason: str | None = None

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        return ((REASON_METADATA_KEY, self.reason),) if self.reason else ()


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

    def __init__(self, message: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds

    def trailing_metadata(self) -> tuple[tuple[str, str], ...]:
        if self.retry_after_seconds is None:
            return super().trailing_metadata()
        hint = (RETRY_AFTER_METADATA_KEY, str(self.retry_after_seconds))
        return (*super().trailing_metadata(), hint)


class TryAgain(DomainError):
    """A write that did not take though nothing forbids it (a conditional write lost
    to a datastore failing under it): the caller retries, as after an outage."""

    status = grpc.StatusCode.UNAVAILABLE


class PayloadTooLarge(DomainError):
    status = grpc.StatusCode.RESOURCE_EXHAUSTED
    reason = "PAYLOAD_TOO_LARGE"
