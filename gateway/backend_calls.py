"""Counts the gRPC calls each GraphQL operation makes, and reports them in the
response's ``extensions.backendCalls`` when PICTOR_REPORT_BACKEND_CALLS is set.

The number that proves DataLoaders batch: a page costs the same number of calls
whatever its size. Off by default: it is a diagnostic, not part of the contract.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import grpc
from strawberry.extensions import SchemaExtension

_calls: ContextVar[Counter[str] | None] = ContextVar("pictor_backend_calls", default=None)


def _count(details: grpc.aio.ClientCallDetails) -> None:
    counter = _calls.get()
    if counter is not None:
        method = details.method
        counter[method.decode() if isinstance(method, bytes) else method] += 1


class CallCounter(
    grpc.aio.UnaryUnaryClientInterceptor,
    grpc.aio.UnaryStreamClientInterceptor,
    grpc.aio.StreamUnaryClientInterceptor,
    grpc.aio.StreamStreamClientInterceptor,
):
    """Counts every call, whatever its kind: grpc.aio calls each kind's method with
    the same arguments (the request, or the request iterator of a client stream)."""

    async def intercept_unary_unary(
        self, continuation: Callable[..., Any], details: Any, request: Any
    ) -> Any:
        _count(details)
        return await continuation(details, request)

    intercept_unary_stream = intercept_unary_unary
    intercept_stream_unary = intercept_unary_unary
    intercept_stream_stream = intercept_unary_unary


@contextmanager
def counting_calls(counter: Counter[str] | None) -> Iterator[None]:
    """Counts the calls made within into ``counter`` (nothing when None)."""
    if counter is None:
        yield
        return
    token = _calls.set(counter)
    try:
        yield
    finally:
        _calls.reset(token)


class BackendCallsReport(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        # Each request runs in its own task, whose context this sets; the tasks that
        # DataLoaders spawn copy that context and so share the same counter.
        self._counted: Counter[str] = Counter()
        _calls.set(self._counted)
        yield

    def get_results(self) -> dict[str, Any]:
        counted = self._counted
        return {"backendCalls": {"total": sum(counted.values()), "byMethod": dict(counted)}}
