"""The post cache feed pages hydrate from: serialized ``post_pb2.Post`` records by id.
Only settled posts (READY or FAILED) are cached (post_svc.lifecycle): they change no more
but by deletion, which buries them (pictor.hydration)."""

from __future__ import annotations

import redis.asyncio as redis

from pictor.hydration import HydrationCache


def post_key(post_id: int) -> str:
    return f"post:{{{post_id}}}"


def post_cache(client: redis.Redis, ttl_seconds: int) -> HydrationCache:
    return HydrationCache(client, post_key, ttl_seconds)
