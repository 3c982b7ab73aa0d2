"""FeedService RPCs. Until timelines land, every RPC answers UNIMPLEMENTED
(the generated base class)."""

from __future__ import annotations

import redis.asyncio as redis

from pictor.feed.v1 import feed_pb2_grpc


class FeedServicer(feed_pb2_grpc.FeedServiceServicer):
    def __init__(self, timelines: redis.Redis) -> None:
        self._timelines = timelines
