"""What every gRPC service process shares: the server with health and reflection,
domain-error mapping, tracing, graceful shutdown on SIGTERM, and the wiring that opens
a service's datastores and clients and closes them when it stops."""

from __future__ import annotations

import asyncio
import gc
import inspect
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar

import grpc
import uvloop
from google.protobuf.descriptor import FileDescriptor
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from opentelemetry.instrumentation.grpc import aio_server_interceptor, filters

from pictor.clients import ServiceClients
from pictor.config import ServiceName, Settings
from pictor.cql import CqlSession
from pictor.errors import DomainError
from pictor.logs import configure_logging
from pictor.metrics import MethodCalls, serve_metrics
from pictor.outages import DATASTORE_DOWN, SERVICE_UNREACHED
from pictor.redis_client import RedisClient, open_redis
from pictor.telemetry import configure_tracing, traced_rpcs

log = logging.getLogger(__name__)

SettingsT = TypeVar("SettingsT", bound=Settings)
T = TypeVar("T")

# What every handler is given beside its request.
Context: TypeAlias = grpc.aio.ServicerContext[Any, Any]

_SERVER_OPTIONS = [
    # Clients ping every 60 s (pictor.clients); accept that, even on idle streams.
    ("grpc.http2.min_recv_ping_interval_without_data_ms", 30_000),
    ("grpc.keepalive_permit_without_calls", 1),
    # Connections are recycled so clients re-resolve and spread over new replicas;
    # no grace limit, so long-lived streams (uploads, live feeds) are never cut.
    ("grpc.max_connection_age_ms", 5 * 60_000),
]


@dataclass(frozen=True)
class Servicer:
    """A servicer object, the generated function that registers it, and its full name."""

    implementation: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    full_name: str


# What a handler may raise that becomes a status (anything else is a bug: UNKNOWN).
_REFUSED: tuple[type[Exception], ...] = (DomainError, grpc.aio.AioRpcError, *DATASTORE_DOWN)


def _refusal(error: Exception) -> tuple[grpc.StatusCode, str, tuple[tuple[str, str], ...]]:
    """The status, details and trailing metadata a failed call answers with."""
    if isinstance(error, DomainError):
        return error.status, str(error), error.trailing_metadata()
    if isinstance(error, grpc.aio.AioRpcError) and error.code() not in SERVICE_UNREACHED:
        return error.code(), error.details() or "", tuple(error.trailing_metadata() or ())
    if isinstance(error, grpc.aio.AioRpcError):
        log.warning("a service this call needs is unavailable: %s", error.code().name)
        return grpc.StatusCode.UNAVAILABLE, "a service this call needs is unavailable; retry", ()
    log.warning("a datastore is unavailable: %s", error)
    return grpc.StatusCode.UNAVAILABLE, "a datastore is unavailable; retry", ()


class _Outcome:
    """Around one call: counts it by its status, and turns what the handler raised
    into the status the caller gets (see ``_guarded``)."""

    __slots__ = ("_calls", "_context")

    def __init__(self, calls: MethodCalls, context: Context) -> None:
        self._calls = calls
        self._context = context

    async def __aenter__(self) -> None:
        return None

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, _: object
    ) -> None:
        if error is None:
            self._calls.ok.inc()
        elif isinstance(error, _REFUSED):
            status, details, metadata = _refusal(error)
            self._calls.code(status).inc()
            await self._context.abort(status, details, trailing_metadata=metadata)
        else:
            self._calls.ended(self._context, error)


def _guarded(method: Callable[..., Any], service: str) -> Callable[..., Any]:
    """The handler, turning a :class:`DomainError` it raises into its gRPC status, a
    transient datastore failure into UNAVAILABLE, and a failed call to another service
    into UNAVAILABLE when that service was unreachable (else that call's own status
    and details), and counting each call by its status.
    Streaming handlers are async generators; the rest (unary, client-streaming)
    coroutine functions."""
    if not (inspect.isasyncgenfunction(method) or inspect.iscoroutinefunction(method)):
        return method  # the generated base's UNIMPLEMENTED answer
    calls = MethodCalls(service, method.__name__)
    if inspect.isasyncgenfunction(method):

        async def streaming(request: Any, context: Context) -> Any:
            async with _Outcome(calls, context):
                async for response in method(request, context):
                    yield response

        return streaming

    async def unary(request: Any, context: Context) -> Any:
        async with _Outcome(calls, context):
            return await method(request, context)

    return unary


class _Guarded:
    """A servicer whose handlers are guarded (``_guarded``), wrapped once when it is
    registered rather than on every call as a server interceptor would."""

    def __init__(self, servicer: object, service: str) -> None:
        self._servicer = servicer
        self._service = service

    def __getattr__(self, name: str) -> Any:
        return _guarded(getattr(self._servicer, name), self._service)


def settle_heap() -> None:
    """Moves what start-up allocated (modules, schema, stubs) out of the garbage
    collector's sight: full collections then walk only what requests allocate,
    instead of pausing a process for milliseconds (CPython's ``gc.freeze``)."""
    gc.collect()
    gc.freeze()


Worker = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def run_server(
    service: ServiceName,
    settings: Settings,
    servicers: Sequence[Servicer],
    workers: Sequence[Worker] = (),
) -> None:
    """Serves until SIGTERM or SIGINT, then drains in-flight calls for the grace period.

    ``workers`` (stream consumers) run beside the server until the stop signal, and
    finish the message in hand before the process exits; if one fails, the process
    stops so its supervisor restarts it.
    """
    # Probes and reflection are not worth a span each (and their handlers use
    # context.write, which the OTel aio interceptor does not support).
    tracing = [aio_server_interceptor(filter_=filters.service_prefix("pictor."))]
    server = grpc.aio.server(
        interceptors=tracing if traced_rpcs() else None, options=_SERVER_OPTIONS
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    for servicer in servicers:
        servicer.add_to_server(_Guarded(servicer.implementation, servicer.full_name), server)
    names = [servicer.full_name for servicer in servicers]
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection([*names, health_name, reflection.SERVICE_NAME], server)
    address = settings.bind_addr(service)
    server.add_insecure_port(address)
    await server.start()
    metrics = await serve_metrics(settings.bind_host, settings.metrics_port(service))
    settle_heap()

    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    running = [asyncio.create_task(worker(stopping)) for worker in workers]
    for name in ["", *names]:
        await health.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("%s listening on %s", service, address)

    stop_signal = asyncio.create_task(stopping.wait())
    done, _ = await asyncio.wait([stop_signal, *running], return_when=asyncio.FIRST_COMPLETED)
    failed = [task for task in done if task is not stop_signal and task.exception()]
    stopping.set()

    log.info("%s stopping: draining for up to %ss", service, settings.shutdown_grace_seconds)
    # Readiness probes see NOT_SERVING first, so load balancers stop sending new calls.
    await health.enter_graceful_shutdown()
    if running:
        await asyncio.wait(running, timeout=settings.shutdown_grace_seconds)
    await server.stop(settings.shutdown_grace_seconds)
    if metrics is not None:
        metrics.close()
    log.info("%s stopped", service)
    if failed:
        raise RuntimeError(f"{service} worker failed") from failed[0].exception()


class Connections:
    """The datastores and services a process talks to, opened by its wiring and closed
    in reverse order when it stops."""

    def __init__(self, settings: Settings, stack: AsyncExitStack) -> None:
        self._settings = settings
        self._stack = stack

    async def cql(self) -> CqlSession:
        session = await CqlSession.connect(self._settings)
        self._stack.push_async_callback(session.close)
        return session

    def redis(self) -> RedisClient:
        client = open_redis(self._settings)
        self._stack.push_async_callback(client.aclose)
        return client

    def services(self) -> ServiceClients:
        clients = ServiceClients.connect(self._settings)
        self._stack.push_async_callback(clients.close)
        return clients

    async def enter(self, opened: AbstractAsyncContextManager[T]) -> T:
        """Anything else a service opens (its S3 client)."""
        return await self._stack.enter_async_context(opened)


@dataclass(frozen=True)
class Wiring:
    """What a service's ``server.py`` builds: its servicer, the generated function that
    registers it, the proto file that declares it, and workers to run beside it."""

    servicer: object
    add_to_server: Callable[[Any, grpc.aio.Server], None]
    proto: FileDescriptor
    workers: Sequence[Worker] = ()


async def serve_service(
    service: ServiceName,
    settings: SettingsT,
    wire: Callable[[SettingsT, Connections], Awaitable[Wiring]],
) -> None:
    """Serves what ``wire`` builds until SIGTERM, then closes what it opened."""
    async with AsyncExitStack() as stack:
        wiring = await wire(settings, Connections(settings, stack))
        # One service per proto file.
        (declared,) = wiring.proto.services_by_name.values()
        servicer = Servicer(wiring.servicer, wiring.add_to_server, declared.full_name)
        await run_server(service, settings, [servicer], wiring.workers)


async def serve_worker(
    process: ServiceName,
    settings: SettingsT,
    wire: Callable[[SettingsT, Connections], Awaitable[Sequence[Worker]]],
) -> None:
    """Runs the consumers ``wire`` builds, with health checks and metrics beside them,
    until SIGTERM; then closes what it opened."""
    async with AsyncExitStack() as stack:
        workers = await wire(settings, Connections(settings, stack))
        await run_server(process, settings, [], workers)


def main(
    process: str,
    settings_type: type[SettingsT],
    serve: Callable[[SettingsT], Coroutine[Any, Any, None]],
) -> None:
    """Entry point of a process (``graph_svc``, ``media_worker``...): settings, logs,
    tracing, then serve."""
    settings = settings_type()
    configure_logging(process, settings.log_level)
    configure_tracing(process)
    # uvloop: the event loop's own overhead is a large share of a small call's CPU.
    uvloop.run(serve(settings))
