"""The ASGI app: /graphql (GraphiQL from a browser, graphql-transport-ws for
subscriptions), /healthz for liveness and /readyz for readiness."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

import orjson
import redis.asyncio as redis
import strawberry
from cross_web import HTTPException
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway import graphiql
from gateway.backend_calls import CallCounter
from gateway.config import GatewaySettings
from gateway.context import Context
from gateway.http import BadRequest, Documents, Executor, read_request, refuse
from gateway.limits import BodySizeLimit
from gateway.metrics import GatewayMetrics, metrics
from gateway.ratelimit import Action, AuthRateLimiter, ViewerRateLimiter
from gateway.schema import build_schema, limit_rules
from gateway.uploads import check_upload
from pictor.clients import ServiceClients
from pictor.config import ServiceName
from pictor.redis_client import RedisClient, open_redis
from pictor.service import settle_heap

SERVICES: tuple[ServiceName, ...] = ("graph", "post", "feed", "media")

log = logging.getLogger(__name__)


class State(TypedDict):
    clients: ServiceClients
    redis: RedisClient
    limiter: AuthRateLimiter
    viewer_limiter: ViewerRateLimiter


class PictorGraphQL(GraphQL[Context, None]):
    """Strawberry's view: multipart uploads and WebSocket subscriptions."""

    def __init__(self, schema: strawberry.Schema, settings: GatewaySettings) -> None:
        super().__init__(
            schema,
            graphql_ide=None,  # the gateway serves its own (gateway.graphiql)
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            multipart_uploads_enabled=True,
        )
        self.settings = settings

    def decode_json(self, data: str | bytes) -> object:
        """orjson, as on the JSON path: too deep or too long a number is a
        JSONDecodeError the view answers as bad JSON, where the standard library's
        RecursionError and ValueError would escape it."""
        return orjson.loads(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context.of(request, self.settings)


class GraphQLEndpoint:
    """``/graphql`` over HTTP: JSON requests take the fast path (gateway.http), counted
    in the metrics; a browser's GET gets GraphiQL (gateway.graphiql); multipart
    uploads go to Strawberry's view."""

    def __init__(self, schema: strawberry.Schema, settings: GatewaySettings) -> None:
        self._settings = settings
        self.view = PictorGraphQL(schema, settings)
        self._documents = Documents(schema._schema, limit_rules(settings), settings.max_tokens)
        self._metrics = GatewayMetrics()
        self._executor = Executor(
            schema._schema,
            self._documents,
            schema.execution_context_class,
            settings,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self._serve(scope, receive, send)
        except ClientDisconnect:
            # Gone before its request was read: there is nobody to answer, and nothing
            # went wrong here (uvicorn would log it as an exception in the app).
            log.info("a client went away before its request was read")

    async def _serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        if self._for_graphiql(request):
            await graphiql.page(request)(scope, receive, send)
            return
        if self._for_view(request):
            try:
                response = await self._upload(request)
                await response(scope, receive, send)
            finally:
                await request.close()  # the form's spooled files
            return
        started = time.perf_counter()
        name = None
        try:
            graphql = await read_request(request)
        except BadRequest as error:
            response = refuse(request, str(error), error.status)
        else:
            name = graphql.operation_name or self._operation_name(graphql.query)
            context = Context.of(request, self._settings)
            response = await self._executor.respond(request, graphql, context)
        self._metrics.record(name, response, time.perf_counter() - started)
        await response(scope, receive, send)

    async def _upload(self, request: Request) -> Response:
        """A multipart request, its envelope checked (gateway.uploads), run by the view;
        whatever either refuses is the client's error, with its code."""
        try:
            await check_upload(request)
            return await self.view.run(request)
        except BadRequest as error:
            return refuse(request, str(error), error.status)
        except HTTPException as error:
            return refuse(request, error.reason, error.status_code)

    def _for_graphiql(self, request: Request) -> bool:
        return (
            request.method == "GET"
            and "text/html" in request.headers.get("accept", "")
            and self._settings.graphiql
        )

    def _for_view(self, request: Request) -> bool:
        return request.method == "POST" and request.headers.get("content-type", "").startswith(
            "multipart/"
        )

    def _operation_name(self, query: str | None) -> str | None:
        """The name of a document's only operation (the request named none)."""
        if query is None:  # named by a persisted-query hash
            return None
        only = self._documents.prepare(query).operations.get(None)
        return only.name if only is not None else None


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def _redis_up(client: RedisClient) -> bool:
    try:
        async with asyncio.timeout(1):
            return bool(await client.ping())
    except (redis.RedisError, TimeoutError):
        return False


async def readyz(request: Request) -> Response:
    clients: ServiceClients = request.state.clients
    *serving, redis_up = await asyncio.gather(
        *(clients.serving(name) for name in SERVICES), _redis_up(request.state.redis)
    )
    backends = {
        f"{name}_svc": "serving" if up else "unavailable"
        for name, up in zip(SERVICES, serving, strict=True)
    }
    backends["redis"] = "serving" if redis_up else "unavailable"
    ready = all(serving) and redis_up
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "backends": backends},
        status_code=200 if ready else 503,
    )


def create_app(settings: GatewaySettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        counting = [CallCounter()] if settings.report_backend_calls else []
        clients = ServiceClients.connect(settings, counting)
        client = open_redis(settings)
        limiter = AuthRateLimiter(
            client,
            attempts_per_minute=settings.auth_rate_limit,
            failures_allowed=settings.login_failure_limit,
            failure_window_seconds=settings.login_failure_window_seconds,
        )
        settle_heap()
        try:
            yield {
                "clients": clients,
                "redis": client,
                "limiter": limiter,
                "viewer_limiter": ViewerRateLimiter(
                    client,
                    {
                        Action.POST: settings.post_rate_limit,
                        Action.FOLLOW: settings.follow_rate_limit,
                        Action.LIKE: settings.like_rate_limit,
                        Action.COMMENT: settings.comment_rate_limit,
                    },
                ),
            }
        finally:
            await clients.close()
            await client.aclose()

    schema = build_schema(settings)
    endpoint = GraphQLEndpoint(schema, settings)
    return Starlette(
        middleware=[Middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)],
        routes=[
            Route("/graphql", endpoint, methods=["GET", "POST"]),
            Route(f"{graphiql.PREFIX}/{{name}}", graphiql.asset),
            Route("/metrics", metrics),
            WebSocketRoute("/graphql", endpoint.view),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
