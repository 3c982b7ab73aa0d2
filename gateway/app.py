"""The ASGI app: /graphql (GraphiQL from a browser, graphql-transport-ws for
subscriptions), /healthz for liveness and /readyz for readiness."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TypedDict

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL

from gateway.config import GatewaySettings
from gateway.context import Context
from gateway.schema import build_schema
from pictor.clients import ServiceClients
from pictor.config import ServiceName

SERVICES: tuple[ServiceName, ...] = ("graph", "post", "feed", "media")


class State(TypedDict):
    clients: ServiceClients


class PictorGraphQL(GraphQL[Context, None]):
    def __init__(self, settings: GatewaySettings) -> None:
        super().__init__(
            build_schema(settings),
            graphql_ide="graphiql" if settings.graphiql else None,
            subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL],
            multipart_uploads_enabled=True,
        )
        self.settings = settings

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Context:
        return Context(request=request, settings=self.settings, clients=request.state.clients)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    clients: ServiceClients = request.state.clients
    serving = await asyncio.gather(*(clients.serving(name) for name in SERVICES))
    backends = {
        f"{name}_svc": "serving" if up else "unavailable"
        for name, up in zip(SERVICES, serving, strict=True)
    }
    ready = all(serving)
    return JSONResponse(
        {"status": "ready" if ready else "unavailable", "backends": backends},
        status_code=200 if ready else 503,
    )


def create_app(settings: GatewaySettings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[State]:
        clients = ServiceClients.connect(settings)
        try:
            yield {"clients": clients}
        finally:
            await clients.close()

    graphql = PictorGraphQL(settings)
    return Starlette(
        routes=[
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        lifespan=lifespan,
    )
