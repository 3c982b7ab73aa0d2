"""Profiles: who a user is, with their counts when asked for them.

For hydration (what a feed page shows of its authors), profiles without counts are
served from a cache (serialized ``graph_pb2.User``, ``user:{id}``) so a warm page reads
no CQL. Counts change with every follow and are read only when asked for.

An edit (``update``) writes the database, then puts the record read back from it in
the cache in place of the old one (a plain SET, where fills only add): every reader
sees the edit at once, and a fill racing it, from a read before it, cannot put the
old record back.
"""

from __future__ import annotations

from collections.abc import Sequence

from graph_svc.store import AccountStore
from graph_svc.users import User, check_bio, check_new_display_name, normalize_username
from pictor.errors import InvalidInput, NotFound
from pictor.graph.v1 import graph_pb2
from pictor.hydration import HydrationCache, read_through
from pictor.redis_client import RedisClient


def user_key(user_id: int) -> str:
    """A profile's key in the hydration cache: whoever reads or clears the cache (the
    bench, tests) imports this and ``USER_KEYS`` rather than spelling keys out."""
    return f"user:{{{user_id}}}"


# Every key of the hydration cache, as a SCAN pattern.
USER_KEYS = "user:{*"


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
    if user.avatar:
        proto.avatar.MergeFromString(user.avatar)
    return proto


class Profiles:
    def __init__(self, store: AccountStore, client: RedisClient, ttl_seconds: int) -> None:
        self._store = store
        self._cache = HydrationCache(client, user_key, ttl_seconds)
        self._redis = client
        self._ttl = ttl_seconds

    async def by_username(self, username: str) -> User:
        """The user, with counts."""
        user_id = await self._store.find_id(normalize_username(username))
        users = await self._store.get_many([user_id]) if user_id is not None else []
        if not users:
            raise NotFound(f"no user named {username!r}")
        return users[0]

    async def with_counts(self, user_ids: Sequence[int]) -> list[User]:
        """The users that exist among user_ids, with their counts."""
        return await self._store.get_many(user_ids)

    async def update(self, user_id: int, display_name: str | None, bio: str | None) -> User:
        """Changes the given fields (None leaves one as it is); the user with counts."""
        name = check_new_display_name(display_name) if display_name is not None else None
        text = check_bio(bio) if bio is not None else None
        if not await self._store.get_profiles([user_id]):
            raise NotFound("no such user")
        await self._store.set_profile(user_id, name, text)
        await self.recache(user_id)
        return (await self._store.get_many([user_id]))[0]

    async def recache(self, user_id: int) -> None:
        """Puts the profile as stored now in the cache, over what it held."""
        (profile,) = await self._store.get_profiles([user_id])
        record = user_proto(profile).SerializeToString()
        await self._redis.set(user_key(user_id), record, ex=self._ttl)

    async def set_post_count(self, user_id: int, post_count: int, version: int) -> None:
        """post_svc's report of a user's post count; of reports that cross, the one with
        the highest version (post_svc's write time) stays."""
        if post_count < 0 or version <= 0:
            raise InvalidInput("a post count and its version must be positive")
        await self._store.set_post_count(user_id, post_count, version)

    async def hydrate(self, user_ids: Sequence[int]) -> list[bytes]:
        """The profiles that exist among user_ids, serialized, without counts."""

        async def load(missing: list[int]) -> dict[int, bytes]:
            users = await self._store.get_profiles(missing)
            return {user.id: user_proto(user).SerializeToString() for user in users}

        found = await read_through(self._cache, user_ids, load)
        return [found[user_id] for user_id in dict.fromkeys(user_ids) if user_id in found]
