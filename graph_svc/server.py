"""Wiring: opens the CQL session, builds the servicer, serves until SIGTERM."""

from __future__ import annotations

from graph_svc.servicer import GraphServicer
from graph_svc.store import UserStore
from pictor.config import Settings
from pictor.cql import CqlSession
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.service import Servicer, run_server


async def serve(settings: Settings) -> None:
    cql = await CqlSession.connect(settings)
    try:
        servicer = GraphServicer(UserStore(cql))
        await run_server(
            "graph",
            settings,
            [
                Servicer(
                    servicer,
                    graph_pb2_grpc.add_GraphServiceServicer_to_server,
                    graph_pb2.DESCRIPTOR.services_by_name["GraphService"].full_name,
                )
            ],
        )
    finally:
        await cql.close()
