"""A scroll touches no database: a warm home feed page is served from Redis (the
timeline and the posts' and authors' caches), and a deleted post never comes back
from a cache."""

from __future__ import annotations

import httpx
import redis.asyncio as redis

from gateway.config import GatewaySettings
from pictor.cql import CqlSession
from pictor.hydration import TOMBSTONE, HydrationCache, read_through
from tests.feed_svc.conftest import HOME_FEED, Feeds, follow
from tests.harness import data, sign_up

FULL_PAGE = """
query {
  homeFeed(first: 12) {
    edges { cursor node { id caption createdAt author { id username displayName }
      media { status width height blurhash renditions { name url width height contentType } } } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


async def coordinated_reads(cql: CqlSession, keyspace: str) -> dict[str, int]:
    """Reads Cassandra has coordinated for each table of the keyspace since it started
    (its own count, from the virtual tables: every client is counted)."""
    rows = await cql.read(
        "SELECT keyspace_name, table_name, count FROM system_views.coordinator_read_latency"
    )
    return {row.table_name: row.count for row in rows if row.keyspace_name == keyspace}


async def test_a_warm_home_feed_page_reads_nothing_from_cassandra(
    http: httpx.AsyncClient, feeds: Feeds, cql: CqlSession, settings: GatewaySettings
) -> None:
    reader, ada, bob = [await sign_up(http, name) for name in ("warm", "ada", "bob")]
    await follow(reader, ada)
    await follow(reader, bob)
    posted = [await feeds.publish(author.id) for author in (ada, bob, ada)]
    await feeds.settle()
    first = data(await reader.client.execute(FULL_PAGE))["homeFeed"]
    assert [edge["node"]["id"] for edge in first["edges"]] == posted[::-1]
    await feeds.settle()

    before = await coordinated_reads(cql, settings.cql_keyspace)
    again = data(await reader.client.execute(FULL_PAGE))["homeFeed"]
    after = await coordinated_reads(cql, settings.cql_keyspace)

    assert again == first
    read = {table: after[table] - before.get(table, 0) for table in after}
    assert {table: n for table, n in read.items() if n} == {}


async def test_a_deleted_post_is_not_served_from_the_cache(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    reader, author = await sign_up(http, "cached"), await sign_up(http, "deleter")
    await follow(reader, author)
    kept, deleted = await feeds.publish(author.id), await feeds.publish(author.id)
    await feeds.settle()
    query = "query($id: ID!) { post(id: $id) { id } }"
    assert data(await reader.client.execute(query, {"id": deleted}))["post"] == {"id": deleted}

    await feeds.delete(author.id, deleted)

    assert data(await reader.client.execute(query, {"id": deleted}))["post"] is None
    page = data(await reader.client.execute(HOME_FEED, {"first": 12}))["homeFeed"]
    assert [edge["node"]["id"] for edge in page["edges"]] == [kept]


async def test_a_read_that_crosses_a_deletion_does_not_cache_the_deleted_record(
    settings: GatewaySettings,
) -> None:
    """The race: a reader misses the cache and reads the database; the record is
    deleted (and buried) before the reader fills the cache with what it read."""
    client = redis.from_url(settings.redis_url)
    cache = HydrationCache(client, lambda record_id: f"race:{{{record_id}}}", ttl_seconds=60)
    database = {7: b"the record"}

    async def load_then_lose_the_race(missing: list[int]) -> dict[int, bytes]:
        found = {record_id: database[record_id] for record_id in missing if record_id in database}
        database.pop(7)  # the deletion lands while this read is in flight...
        await cache.bury(7)  # ...and buries the record before the fill below
        return found

    async def load(missing: list[int]) -> dict[int, bytes]:
        return {record_id: database[record_id] for record_id in missing if record_id in database}

    try:
        in_flight = await read_through(cache, [7], load_then_lose_the_race)
        assert in_flight == {7: b"the record"}  # what that one reader had already read
        assert await client.get("race:{7}") == TOMBSTONE
        assert await read_through(cache, [7], load) == {}
    finally:
        await client.delete("race:{7}")
        await client.aclose()
