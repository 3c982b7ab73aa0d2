"""Wiring: opens CQL and Redis, builds the domain and servicer, serves until SIGTERM."""

from __future__ import annotations

from datetime import timedelta

from graph_svc.accounts import Accounts
from graph_svc.avatars import Avatars
from graph_svc.config import GraphSettings
from graph_svc.follows import FollowGraph
from graph_svc.passwords import Passwords
from graph_svc.profiles import Profiles
from graph_svc.servicer import GraphServicer
from graph_svc.store import AccountStore, AvatarStore, EdgeStore
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.service import Connections, Wiring, serve_service
from pictor.snowflake import SnowflakeGenerator


async def serve(settings: GraphSettings) -> None:
    await serve_service("graph", settings, _wire)


async def _wire(settings: GraphSettings, connections: Connections) -> Wiring:
    cql = await connections.cql()
    events = connections.redis()
    users, edges = AccountStore(cql), EdgeStore(cql)
    # One generator for users and avatars: two with one worker id could repeat an id.
    ids = SnowflakeGenerator(settings.worker_id)
    profiles = Profiles(users, events, settings.hydration_ttl_seconds)
    servicer = GraphServicer(
        accounts=Accounts(
            users,
            Passwords(settings),
            ids,
            timedelta(seconds=settings.sign_up_retry_window_seconds),
        ),
        graph=FollowGraph(users, edges, events),
        profiles=profiles,
        avatars=Avatars(AvatarStore(cql, settings.avatar_upload_ttl_seconds), ids, profiles),
    )
    return Wiring(servicer, graph_pb2_grpc.add_GraphServiceServicer_to_server, graph_pb2.DESCRIPTOR)
