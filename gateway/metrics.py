"""The gateway's Prometheus metrics: GraphQL operations over HTTP by operation name
and outcome, their latency, and their errors by ``extensions.code``.

Operation names come from clients, so at most :data:`MAX_OPERATIONS` distinct ones
get series of their own (the rest count as ``other``), and each name's counters are
bound once: a request costs a dict lookup, an increment and an observation. The
outcome is read off the encoded response; only a response with errors is decoded.
"""

from __future__ import annotations

from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

REQUESTS = Counter(
    "pictor_gateway_operations",
    "GraphQL operations over HTTP, by operation name and outcome "
    "(ok; partial: data and errors; failed: errors and no data).",
    ["operation", "outcome"],
)
LATENCY = Histogram(
    "pictor_gateway_operation_seconds",
    "Time from a GraphQL request's arrival to its response, by operation name.",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
ERRORS = Counter(
    "pictor_gateway_errors",
    "GraphQL errors in responses, by operation name and extensions.code.",
    ["operation", "code"],
)
MAX_OPERATIONS = 200
ANONYMOUS = "anonymous"
OTHER = "other"
# gateway.http puts "errors" first in a response that has any (as the spec's examples
# do), so the first bytes tell; only a response with errors is decoded.
_ERRORS_FIRST = b'{"errors":'


class Operation:
    """One operation name's series, bound when the name is first seen."""

    __slots__ = ("_codes", "failed", "latency", "name", "ok", "partial")

    def __init__(self, name: str) -> None:
        self.name = name
        self.ok = REQUESTS.labels(name, "ok")
        self.partial = REQUESTS.labels(name, "partial")
        self.failed = REQUESTS.labels(name, "failed")
        self.latency = LATENCY.labels(name)
        self._codes: dict[str, Any] = {}

    def error(self, code: str) -> None:
        child = self._codes.get(code)
        if child is None:
            child = self._codes[code] = ERRORS.labels(self.name, code)
        child.inc()


class GatewayMetrics:
    def __init__(self) -> None:
        self._operations: dict[str, Operation] = {}

    def operation(self, name: str | None) -> Operation:
        name = name or ANONYMOUS
        operation = self._operations.get(name)
        if operation is None:
            if len(self._operations) >= MAX_OPERATIONS:
                name = OTHER
            operation = self._operations.get(name) or Operation(name)
            self._operations[name] = operation
        return operation

    def record(self, name: str | None, response: Response, seconds: float) -> None:
        operation = self.operation(name)
        operation.latency.observe(seconds)
        # A slice, not startswith: a body may be a memoryview.
        if response.body[: len(_ERRORS_FIRST)] != _ERRORS_FIRST:
            operation.ok.inc()
            return
        decoded = orjson.loads(response.body)
        errors = decoded["errors"]
        (operation.partial if decoded.get("data") is not None else operation.failed).inc()
        for error in errors:
            extensions = error.get("extensions") if isinstance(error, dict) else None
            code = extensions.get("code") if isinstance(extensions, dict) else None
            operation.error(str(code or "INTERNAL"))


async def metrics(request: Request) -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
