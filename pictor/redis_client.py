"""The Redis client every process uses: a pool that waits for a free connection
(redis-py's default pool raises at once when all are busy, turning a burst into
errors) and gives up, as UNAVAILABLE, only after ``redis_pool_timeout_seconds``.

A pooled connection that Redis dropped (a restart, a failover) fails its next
command; that command is retried on a fresh connection, a few times with a short
backoff, so the first call after Redis comes back succeeds. Retried commands are
ones whose effect a repeat leaves alone, or events whose consumers are idempotent."""

from __future__ import annotations

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError

from pictor.config import Settings

# Tries of a command whose connection broke, backing off 50 ms, 100 ms, 200 ms.
RETRIES = 3


def open_redis(settings: Settings) -> redis.Redis:
    pool = redis.BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_max_connections,
        timeout=settings.redis_pool_timeout_seconds,
        retry=Retry(ExponentialBackoff(cap=0.5, base=0.05), RETRIES),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    return redis.Redis(connection_pool=pool)
