"""Prometheus metrics of the gRPC services and workers, with the standard client
library, served at ``/metrics`` on each process's own HTTP port
(``PICTOR_<PROCESS>_METRICS_PORT``).

Counting sits on the hot path of every call, so label values are bound once: a
method's counters are children made when its handler is registered
(:class:`MethodCalls`), and a call costs one increment. Stream backlogs are read
from Redis when Prometheus scrapes, not on a timer.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import redis.asyncio as redis
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from pictor.redis_client import RedisClient, text

log = logging.getLogger(__name__)

GRPC_HANDLED = Counter(
    "grpc_server_handled",
    "gRPC calls completed by the server, by method and status code.",
    ["grpc_service", "grpc_method", "grpc_code"],
)
STREAM_LAG = Gauge(
    "pictor_stream_lag",
    "Entries of an event stream that its consumer group has not read yet.",
    ["stream", "group"],
)
STREAM_PENDING = Gauge(
    "pictor_stream_pending",
    "Entries a consumer group has read but not acknowledged (in hand or orphaned).",
    ["stream", "group"],
)
# When Redis cannot tell a group's lag (entries were deleted mid-stream), it is
# counted from the last delivered id, up to this many entries.
LAG_COUNTED_UP_TO = 10_000
_READ_TIMEOUT_SECONDS = 10

Refresh = Callable[[], Awaitable[None]]
# What to read before each scrape (stream backlogs), by what it measures.
_before_scrape: dict[tuple[str, str], Refresh] = {}


class MethodCalls:
    """The handled-call counters of one gRPC method: OK bound up front, any other
    status bound the first time it happens."""

    __slots__ = ("_by_code", "_method", "_service", "ok")

    def __init__(self, service: str, method: str) -> None:
        self._service = service
        self._method = method
        self._by_code: dict[grpc.StatusCode, Any] = {}
        self.ok = self.code(grpc.StatusCode.OK)

    def code(self, code: grpc.StatusCode) -> Any:
        child = self._by_code.get(code)
        if child is None:
            child = GRPC_HANDLED.labels(self._service, self._method, code.name)
            self._by_code[code] = child
        return child

    def ended(self, context: grpc.aio.ServicerContext[Any, Any], error: BaseException) -> None:
        """Counts a call that ended with an exception other than a domain error."""
        if isinstance(error, asyncio.CancelledError):
            code = grpc.StatusCode.CANCELLED
        else:
            code = context.code() or grpc.StatusCode.UNKNOWN
        self.code(code).inc()


def watch_stream(
    client: RedisClient, stream: str, group: str, backlog: Gauge | None = None
) -> None:
    """Reports the consumer group's lag and pending entries on every scrape, and their
    sum in ``backlog`` when given (e.g. fan-out jobs queued)."""
    lag_gauge, pending_gauge = (
        STREAM_LAG.labels(stream, group),
        STREAM_PENDING.labels(stream, group),
    )

    async def refresh() -> None:
        lag, pending = await stream_backlog(client, stream, group)
        lag_gauge.set(lag)
        pending_gauge.set(pending)
        if backlog is not None:
            backlog.set(lag + pending)

    _before_scrape[(stream, group)] = refresh


async def stream_backlog(client: RedisClient, stream: str, group: str) -> tuple[int, int]:
    """(lag, pending) of a consumer group; (0, 0) before the stream or group exists."""
    if not await client.exists(stream):
        return 0, 0
    for info in await client.xinfo_groups(stream):
        if text(info["name"]) != group:
            continue
        lag = info.get("lag")
        if lag is None:
            last = text(info["last-delivered-id"])
            after = await client.xrange(stream, min=f"({last}", max="+", count=LAG_COUNTED_UP_TO)
            lag = len(after or ())
        return int(lag), int(info["pending"])
    return 0, 0


async def scrape() -> bytes:
    """The exposition text, after reading what is read at scrape time."""
    for (stream, group), refresh in list(_before_scrape.items()):
        try:
            await refresh()
        except (redis.RedisError, OSError) as error:
            log.warning("cannot read the backlog of %s/%s: %s", stream, group, error)
    return generate_latest()


async def serve_metrics(host: str, port: int) -> asyncio.Server | None:
    """A minimal HTTP/1.1 server answering ``GET /metrics`` on the event loop (no
    thread, no second web framework in every service).

    A port already taken (a second instance of a process on one machine, with the
    same settings) costs that process its metrics, not its work: it logs and goes on.
    """
    try:
        return await asyncio.start_server(_answer, host, port)
    except OSError as error:
        log.error("metrics not served: cannot listen on %s:%s: %s", host, port, error)
        return None


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        async with asyncio.timeout(_READ_TIMEOUT_SECONDS):
            request_line = await reader.readline()
            while (await reader.readline()).strip():
                pass  # headers: nothing in them matters here
        method, _, rest = request_line.decode("latin-1").partition(" ")
        path = rest.split(" ", 1)[0].split("?", 1)[0]
        if method == "GET" and path == "/metrics":
            status, media_type, body = "200 OK", CONTENT_TYPE_LATEST, await scrape()
        else:
            status, media_type, body = "404 Not Found", "text/plain", b"metrics are at /metrics\n"
        head = (
            f"HTTP/1.1 {status}\r\nContent-Type: {media_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode("latin-1") + body)
        await writer.drain()
    except (TimeoutError, ConnectionError):
        pass
    finally:
        writer.close()
