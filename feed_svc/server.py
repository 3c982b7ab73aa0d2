"""Wiring: opens Redis, builds the servicer, serves until SIGTERM."""

from __future__ import annotations

import redis.asyncio as redis

from feed_svc.servicer import FeedServicer
from pictor.config import Settings
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.service import Servicer, run_server


async def serve(settings: Settings) -> None:
    timelines = redis.from_url(settings.redis_url)
    try:
        await run_server(
            "feed",
            settings,
            [
                Servicer(
                    FeedServicer(timelines),
                    feed_pb2_grpc.add_FeedServiceServicer_to_server,
                    feed_pb2.DESCRIPTOR.services_by_name["FeedService"].full_name,
                )
            ],
        )
    finally:
        await timelines.aclose()
