"""The stream consumer against the real Redis: once, retried, reclaimed, dead-lettered."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import redis.asyncio as redis

from pictor.consumer import (
    ConsumerSettings,
    Fields,
    StreamConsumer,
    dead_letter_stream,
    replay_dead,
)
from tests.harness import unique_name, wait_until

FAST = ConsumerSettings(batch=8, block_ms=50, claim_idle_ms=100, max_deliveries=3)


async def entries(
    client: redis.Redis, stream: str, first: str = "-", last: str = "+"
) -> list[tuple[bytes, dict[bytes, bytes]]]:
    """The stream's entries (redis-py's types allow None where Redis never sends it)."""
    found: Any = await client.xrange(stream, first, last)
    return list(found)


async def drain(consumer: StreamConsumer, until: Callable[[], object], rounds: int = 100) -> None:
    """Runs the consumer until ``until()`` holds (bounded, never a bare sleep)."""
    for _ in range(rounds):
        if until():
            return
        await consumer.run_once()
    raise AssertionError("the consumer did not get there")


async def test_each_message_is_handled_once_and_acknowledged(client: redis.Redis) -> None:
    stream = unique_name("stream")
    seen: Counter[str] = Counter()

    async def handle(message_id: str, fields: Fields) -> None:
        seen[fields["n"]] += 1

    consumer = StreamConsumer(client, stream, "workers", handle, settings=FAST)
    await consumer.ensure_group()
    for n in range(20):
        await client.xadd(stream, {"n": n})
    await drain(consumer, lambda: len(seen) == 20)
    assert set(seen.values()) == {1}
    assert (await client.xpending(stream, "workers"))["pending"] == 0


async def test_a_failing_message_is_retried_until_it_succeeds(client: redis.Redis) -> None:
    stream = unique_name("stream")
    attempts: Counter[str] = Counter()

    async def flaky(message_id: str, fields: Fields) -> None:
        attempts[message_id] += 1
        if attempts[message_id] < 3:
            raise ConnectionError("the object store blinked")

    consumer = StreamConsumer(client, stream, "workers", flaky, settings=FAST)
    await consumer.ensure_group()
    await client.xadd(stream, {"n": 1})
    await drain(consumer, lambda: 3 in attempts.values())
    assert (await client.xpending(stream, "workers"))["pending"] == 0
    assert await client.xlen(dead_letter_stream(stream)) == 0


async def test_a_message_that_keeps_failing_is_dead_lettered_with_its_error(
    client: redis.Redis,
) -> None:
    stream = unique_name("stream")
    given_up: list[str] = []

    async def broken(message_id: str, fields: Fields) -> None:
        raise ValueError("cannot decode this")

    async def give_up(message_id: str, fields: Fields, error: Exception) -> None:
        given_up.append(fields["post_id"])

    consumer = StreamConsumer(client, stream, "workers", broken, give_up=give_up, settings=FAST)
    await consumer.ensure_group()
    await client.xadd(stream, {"post_id": "42"})
    await drain(consumer, lambda: given_up)

    dead = await entries(client, dead_letter_stream(stream))
    assert len(dead) == 1
    fields = dead[0][1]
    assert fields[b"post_id"] == b"42"
    assert fields[b"error"] == b"ValueError: cannot decode this"
    assert (await client.xpending(stream, "workers"))["pending"] == 0
    assert given_up == ["42"]


async def test_a_message_left_by_a_dead_consumer_is_reclaimed(client: redis.Redis) -> None:
    stream = unique_name("stream")
    handled: list[str] = []

    async def handle(message_id: str, fields: Fields) -> None:
        handled.append(fields["n"])

    survivor = StreamConsumer(client, stream, "workers", handle, settings=FAST, name="survivor")
    await survivor.ensure_group()
    await client.xadd(stream, {"n": "only"})
    # A consumer takes the message and dies before acknowledging it.
    taken = await client.xreadgroup("workers", "crashed", {stream: ">"}, count=1)
    assert taken

    await drain(survivor, lambda: handled)
    assert handled == ["only"]
    assert (await client.xpending(stream, "workers"))["pending"] == 0


async def test_a_dead_lettered_message_is_replayed_once_its_handler_is_fixed(
    client: redis.Redis,
) -> None:
    stream = unique_name("stream")
    handled: list[str] = []
    fixed = False

    async def handler(message_id: str, fields: Fields) -> None:
        if not fixed:
            raise ValueError("a bug")
        handled.append(fields["post_id"])

    consumer = StreamConsumer(client, stream, "workers", handler, settings=FAST)
    await consumer.ensure_group()
    await client.xadd(stream, {"post_id": "7"})
    dead = dead_letter_stream(stream)

    async def buried() -> bool:
        await consumer.run_once()
        return await client.xlen(dead) == 1

    await wait_until(buried, within=10, interval=0.01)

    fixed = True
    (dead_id,) = [entry[0].decode() for entry in await entries(client, dead)]
    replayed = await replay_dead(client, stream, [dead_id])

    assert len(replayed) == 1
    assert await client.xlen(dead) == 0
    await drain(consumer, lambda: handled)
    assert handled == ["7"]
    (entry,) = await entries(client, stream, replayed[0], replayed[0])
    assert entry[1] == {b"post_id": b"7"}
