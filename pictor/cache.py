"""The Redis client every process uses: a pool that waits for a free connection
(redis-py's default pool raises at once when all are busy, turning a burst into
errors) and gives up, as UNAVAILABLE, only after ``redis_pool_timeout_seconds``."""

from __future__ import annotations

import redis.asyncio as redis

from pictor.config import Settings


def open_redis(settings: Settings) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
    )
    return redis.Redis(connection_pool=pool)
