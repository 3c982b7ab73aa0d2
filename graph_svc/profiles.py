"""Profiles for hydration: what a feed page shows of its authors, served from a cache
(serialized ``graph_pb2.User`` without counts, ``user:{id}``) so a warm page reads no
CQL. Counts change with every follow and are read only when asked for.

A profile does not change once created, so a cached one never goes stale; editing
profiles will need its writes to replace the cached record.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as redis

from graph_svc.store import AccountStore
from graph_svc.users import User
from pictor.graph.v1 import graph_pb2
from pictor.hydration import HydrationCache, read_through


def user_key(user_id: int) -> str:
    return f"user:{{{user_id}}}"


def user_proto(user: User) -> graph_pb2.User:
    proto = graph_pb2.User(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        bio=user.bio,
        follower_count=user.follower_count,
        following_count=user.following_count,
        post_count=user.post_count,
    )
    proto.created_at.FromDatetime(user.created_at)
    return proto


class Profiles:
    def __init__(self, store: AccountStore, client: redis.Redis, ttl_seconds: int) -> None:
        self._store = store
        self._cache = HydrationCache(client, user_key, ttl_seconds)

    async def hydrate(self, user_ids: Sequence[int]) -> list[bytes]:
        """The profiles that exist among user_ids, serialized, without counts."""

        async def load(missing: list[int]) -> dict[int, bytes]:
            users = await self._store.get_profiles(missing)
            return {user.id: user_proto(user).SerializeToString() for user in users}

        found = await read_through(self._cache, user_ids, load)
        return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]
