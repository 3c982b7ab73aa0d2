"""Read-through caches of serialized records in Redis, for the read path: a feed page
hydrates its posts and authors from here and touches no database when warm.

Each record has its own key, named by the service that owns the data with the
record's id as hash tag (``post:{42}``), so keys spread over a Redis Cluster. There a
page's keys span many slots, and one MGET may not: the read becomes one MGET per
slot, pipelined per node, so a page still costs one round trip per node.

Fills never overwrite (``SET NX``) and a deletion writes a tombstone rather than
removing the key, so a reader that read the database before the deletion and fills
the cache after it loses: a deleted record is never cached again while its tombstone
lives, and a tombstone outlives any fill in flight by far (it lives ``ttl`` seconds).
Only records that rarely change are cached (the owner decides); a change (a post's alt
text) replaces the record, unless it is buried, and deletion buries it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from pictor.redis_client import PooledCluster, RedisClient
from pictor.scripts import Script

# What a deleted record's key holds; no serialized record is this short.
TOMBSTONE = b"\x00"
# KEYS[1] a record's key; ARGV: the record, TOMBSTONE, ttl. A buried record stays buried.
_REPLACE = Script("""
if redis.call('GET', KEYS[1]) == ARGV[2] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1
""")


class HydrationCache:
    def __init__(self, client: RedisClient, key: Callable[[int], str], ttl_seconds: int) -> None:
        self._redis = client
        self._key = key
        self._ttl = ttl_seconds

    async def get_many(self, ids: Sequence[int]) -> dict[int, bytes]:
        """The cached records among ids, tombstones included (as TOMBSTONE)."""
        if not ids:
            return {}
        keys = [self._key(record_id) for record_id in ids]
        if isinstance(self._redis, PooledCluster):
            found = await self._redis.mget_nonatomic(keys)
        else:
            found = await self._redis.mget(keys)
        return {
            record_id: value
            for record_id, value in zip(ids, found, strict=True)
            if isinstance(value, bytes)
        }

    async def fill(self, records: Mapping[int, bytes]) -> None:
        """Caches records read from the database, unless a write got there first."""
        if not records:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for record_id, value in records.items():
                pipe.set(self._key(record_id), value, nx=True, ex=self._ttl)
            await pipe.execute()

    async def replace(self, record_id: int, value: bytes) -> None:
        """Caches the record as it is now, over what is cached, unless it is buried."""
        await _REPLACE.run(self._redis, [self._key(record_id)], [value, TOMBSTONE, self._ttl])

    async def bury(self, record_id: int) -> None:
        """Marks the record deleted, so no fill in flight can bring it back."""
        await self._redis.set(self._key(record_id), TOMBSTONE, ex=self._ttl)


async def read_through(
    cache: HydrationCache,
    ids: Iterable[int],
    load: Callable[[list[int]], Awaitable[Mapping[int, bytes]]],
    cacheable: Callable[[int], bool] = lambda _: True,
) -> dict[int, bytes]:
    """The records among ids that exist: from the cache, the misses from ``load``
    (cached when ``cacheable`` says so of their id, asked after ``load``). Tombstoned
    ids are absent."""
    wanted = list(dict.fromkeys(ids))
    cached = await cache.get_many(wanted)
    missing = [record_id for record_id in wanted if record_id not in cached]
    loaded = await load(missing) if missing else {}
    await cache.fill({k: v for k, v in loaded.items() if cacheable(k)})
    found = {k: v for k, v in cached.items() if v != TOMBSTONE}
    found.update(loaded)
    return found
