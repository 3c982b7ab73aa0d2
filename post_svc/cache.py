"""The post cache feed pages hydrate from: serialized ``post_pb2.Post`` records by id.
Only settled posts (READY or FAILED) are cached (post_svc.lifecycle): they change no more
but by deletion, which buries them (pictor.hydration)."""

from __future__ import annotations

from pictor.hydration import HydrationCache
from pictor.redis_client import RedisClient


def post_key(post_id: int) -> str:
    """A post's key in the hydration cache: whoever reads or clears the cache (the
    bench, tests) imports this and ``POST_KEYS`` rather than spelling keys out."""
    return f"post:{{{post_id}}}"


# Every key of the hydration cache, as a SCAN pattern.
POST_KEYS = "post:{*"


def post_cache(client: RedisClient, ttl_seconds: int) -> HydrationCache:
    return HydrationCache(client, post_key, ttl_seconds)
