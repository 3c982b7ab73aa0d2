"""The read-through cache on a Redis Cluster: a page's keys live on every node, and
reads, fills and tombstones come out as on one server."""

from __future__ import annotations

from collections.abc import Mapping

from pictor.hydration import HydrationCache, read_through
from pictor.redis_client import PooledCluster
from tests.harness import unique_name


async def test_a_page_across_every_node_is_read_filled_and_buried(
    cluster_client: PooledCluster,
) -> None:
    prefix = unique_name("record")
    cache = HydrationCache(cluster_client, lambda record_id: f"{prefix}:{{{record_id}}}", 60)
    page = list(range(1, 25))
    await cluster_client.initialize()
    nodes = {cluster_client.get_node_from_key(f"{prefix}:{{{n}}}") for n in page}
    assert len(nodes) == 3, "the page should span every primary"
    loads: list[list[int]] = []

    async def load(missing: list[int]) -> Mapping[int, bytes]:
        loads.append(missing)
        return {record_id: f"record {record_id}".encode() for record_id in missing}

    first = await read_through(cache, page, load)
    await cache.bury(7)
    second = await read_through(cache, page, load)

    assert first == {n: f"record {n}".encode() for n in page}
    assert second == {n: f"record {n}".encode() for n in page if n != 7}
    assert loads == [page]  # the second page came from the cache alone
