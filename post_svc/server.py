"""Wiring: opens CQL, Redis and a graph_svc client, serves (and sweeps abandoned
uploads) until SIGTERM."""

from __future__ import annotations

from pictor.cache import open_redis
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.service import Servicer, run_server
from pictor.snowflake import SnowflakeGenerator
from post_svc.abandoned import AbandonedUploads
from post_svc.cache import post_cache
from post_svc.config import PostSettings
from post_svc.lifecycle import PostLifecycle
from post_svc.servicer import PostServicer
from post_svc.store import PostStore


async def serve(settings: PostSettings) -> None:
    cql = await CqlSession.connect(settings)
    events = open_redis(settings)
    clients = ServiceClients.connect(settings)
    try:
        store = PostStore(cql)
        lifecycle = PostLifecycle(
            store,
            SnowflakeGenerator(settings.worker_id),
            events,
            clients,
            post_cache(events, settings.hydration_ttl_seconds),
        )
        abandoned = AbandonedUploads(
            store,
            lifecycle,
            settings.upload_url_ttl_seconds + settings.abandoned_upload_grace_seconds,
            settings.abandoned_upload_sweep_seconds,
        )
        await run_server(
            "post",
            settings,
            [
                Servicer(
                    PostServicer(lifecycle, store),
                    post_pb2_grpc.add_PostServiceServicer_to_server,
                    post_pb2.DESCRIPTOR.services_by_name["PostService"].full_name,
                )
            ],
            [abandoned.run],
        )
    finally:
        await clients.close()
        await events.aclose()
        await cql.close()
