"""Wiring: opens CQL, Redis and a graph_svc client, serves (and sweeps abandoned
uploads, and settles likes, comments and deletions) until SIGTERM."""

from __future__ import annotations

from pictor import events
from pictor.consumer import ConsumerSettings, StreamConsumer
from pictor.metrics import watch_stream
from pictor.post.v1 import post_pb2, post_pb2_grpc
from pictor.redis_client import RedisClient
from pictor.service import Connections, Wiring, Worker, serve_service
from pictor.snowflake import SnowflakeGenerator
from post_svc.abandoned import AbandonedUploads
from post_svc.cache import post_cache
from post_svc.comments import Comments
from post_svc.config import PostSettings
from post_svc.engagement import Engagement, EngagementCache
from post_svc.engagement_store import CommentStore, LikeStore
from post_svc.lifecycle import PostLifecycle
from post_svc.likes import Likes
from post_svc.servicer import PostServicer
from post_svc.settling import GROUP, IN_HAND, Settling
from post_svc.store import PostStore


async def serve(settings: PostSettings) -> None:
    await serve_service("post", settings, _wire)


async def _wire(settings: PostSettings, connections: Connections) -> Wiring:
    cql = await connections.cql()
    store = PostStore(cql)
    redis = connections.redis()
    ids = SnowflakeGenerator(settings.worker_id)
    lifecycle = PostLifecycle(
        store,
        ids,
        redis,
        connections.services(),
        post_cache(redis, settings.hydration_ttl_seconds),
    )
    likes, comments = LikeStore(cql), CommentStore(cql)
    cache = EngagementCache(redis, settings.hydration_ttl_seconds)
    engagement = Engagement(cache, likes, comments)
    settling = Settling(engagement, cache, likes, comments, lifecycle)
    abandoned = AbandonedUploads(
        store,
        lifecycle,
        settings.upload_url_ttl_seconds + settings.abandoned_upload_grace_seconds,
        settings.abandoned_upload_sweep_seconds,
    )
    return Wiring(
        PostServicer(
            lifecycle,
            Likes(likes, cache, lifecycle, ids, redis),
            Comments(comments, lifecycle, ids, redis),
            engagement,
        ),
        post_pb2_grpc.add_PostServiceServicer_to_server,
        post_pb2.DESCRIPTOR,
        workers=[abandoned.run, *_consumers(settings, redis, settling)],
    )


def _consumers(settings: PostSettings, client: RedisClient, settling: Settling) -> list[Worker]:
    """The consumers that settle likes, comments and deletions (post_svc.settling)."""
    handled = (
        (events.LIKE_CHANGED, settling.like_changed),
        (events.COMMENT_CHANGED, settling.comment_changed),
        (events.POST_DELETED, settling.post_deleted),
    )
    in_hand = ConsumerSettings.of(settings, concurrency=IN_HAND)
    for stream, _ in handled:
        watch_stream(client, stream, GROUP)
    return [
        StreamConsumer(client, stream, GROUP, handle, settings=in_hand).run
        for stream, handle in handled
    ]
