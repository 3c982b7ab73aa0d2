"""A message whose handler fails because a part it needs is down (a datastore, the
object store, or a service answering UNAVAILABLE or not in time) is kept for as long
as the outage lasts, however many tries that takes, and never dead-lettered: an
upload met by a failover is processed once the part is back, not marked FAILED. A
message failing for any other reason still is dead-lettered (test_consumer.py)."""

from __future__ import annotations

from collections import Counter

import grpc
import pytest
import redis.asyncio as redis
from botocore.exceptions import EndpointConnectionError
from cassandra.cluster import NoHostAvailable
from redis.exceptions import ConnectionError as RedisConnectionError

from pictor.consumer import Fields, StreamConsumer, dead_letter_stream
from tests.harness import unique_name
from tests.pictor.test_consumer import FAST, drain

# Far more tries than a message failing for its own sake gets.
OUTAGE_TRIES = FAST.max_deliveries * 3

OUTAGES = {
    "redis": RedisConnectionError("Error 111 connecting to 127.0.0.1:6379"),
    "cassandra": NoHostAvailable("no host", {}),
    "object store": EndpointConnectionError(endpoint_url="http://127.0.0.1:9000"),
    "service unavailable": grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(),
        "a datastore is unavailable; retry",
    ),
    "service too slow": grpc.aio.AioRpcError(
        grpc.StatusCode.DEADLINE_EXCEEDED, grpc.aio.Metadata(), grpc.aio.Metadata()
    ),
}


@pytest.mark.parametrize("outage", OUTAGES.values(), ids=OUTAGES.keys())
async def test_a_message_met_by_an_outage_waits_it_out(
    client: redis.Redis, outage: Exception
) -> None:
    stream = unique_name("stream")
    tries: Counter[str] = Counter()
    handled: list[str] = []

    async def needs_a_part(message_id: str, fields: Fields) -> None:
        tries[message_id] += 1
        if tries[message_id] <= OUTAGE_TRIES:
            raise outage
        handled.append(fields["n"])

    consumer = StreamConsumer(client, stream, "workers", needs_a_part, settings=FAST)
    await consumer.ensure_group()
    await client.xadd(stream, {"n": "1"})
    await drain(consumer, lambda: handled, rounds=OUTAGE_TRIES * 20)

    assert handled == ["1"]
    assert await client.xlen(dead_letter_stream(stream)) == 0
    assert (await client.xpending(stream, "workers"))["pending"] == 0
