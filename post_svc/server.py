"""Wiring: opens the CQL session, builds the servicer, serves until SIGTERM."""

from __future__ import annotations

from pictor.config import Settings
from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.service import Servicer, run_server
from post_svc.servicer import PostServicer


async def serve(settings: Settings) -> None:
    cql = await CqlSession.connect(settings)
    try:
        await run_server(
            "post",
            settings,
            [
                Servicer(
                    PostServicer(cql),
                    post_pb2_grpc.add_PostServiceServicer_to_server,
                    post_pb2.DESCRIPTOR.services_by_name["PostService"].full_name,
                )
            ],
        )
    finally:
        await cql.close()
