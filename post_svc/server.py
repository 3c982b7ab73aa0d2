"""Wiring: opens CQL, Redis and a graph_svc client, serves (and sweeps abandoned
uploads) until SIGTERM."""

from __future__ import annotations

from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.service import Connections, Wiring, serve_service
from pictor.snowflake import SnowflakeGenerator
from post_svc.abandoned import AbandonedUploads
from post_svc.cache import post_cache
from post_svc.config import PostSettings
from post_svc.lifecycle import PostLifecycle
from post_svc.servicer import PostServicer
from post_svc.store import PostStore


async def serve(settings: PostSettings) -> None:
    await serve_service("post", settings, _wire)


async def _wire(settings: PostSettings, connections: Connections) -> Wiring:
    store = PostStore(await connections.cql())
    events = connections.redis()
    lifecycle = PostLifecycle(
        store,
        SnowflakeGenerator(settings.worker_id),
        events,
        connections.services(),
        post_cache(events, settings.hydration_ttl_seconds),
    )
    abandoned = AbandonedUploads(
        store,
        lifecycle,
        settings.upload_url_ttl_seconds + settings.abandoned_upload_grace_seconds,
        settings.abandoned_upload_sweep_seconds,
    )
    return Wiring(
        PostServicer(lifecycle),
        post_pb2_grpc.add_PostServiceServicer_to_server,
        post_pb2.DESCRIPTOR,
        workers=[abandoned.run],
    )
