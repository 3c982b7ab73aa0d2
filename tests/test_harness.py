"""The shared harness's "events settled" check, against the test stack's Redis: a
group has settled only once it has read up to the stream's last entry and acknowledged
all of it, whatever Redis says of its lag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as redis

from gateway.config import GatewaySettings
from harness.accounts import unique_name
from harness.events import settled

GROUP = "readers"


@pytest.fixture
async def client(settings: GatewaySettings) -> AsyncIterator[redis.Redis]:
    connection = redis.from_url(settings.redis_url)
    yield connection
    await connection.aclose()


async def read_one(client: redis.Redis, stream: str) -> bytes:
    """The next entry's id, read by one consumer of the group."""
    replies: Any = await client.xreadgroup(GROUP, "reader", {stream: ">"}, count=1)
    entry_id: bytes = replies[0][1][0][0]
    return entry_id


async def test_a_group_settles_once_it_has_read_and_acknowledged_everything(
    client: redis.Redis,
) -> None:
    stream = unique_name("events:harness")
    await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    assert await settled(client, [stream])

    await client.xadd(stream, {"n": "1"})
    assert not await settled(client, [stream])  # unread

    entry_id = await read_one(client, stream)
    assert not await settled(client, [stream])  # read, not acknowledged

    await client.xack(stream, GROUP, entry_id)
    assert await settled(client, [stream])
    assert await settled(client, [stream, unique_name("events:never-sent")])


async def test_a_group_whose_lag_redis_cannot_tell_is_not_settled(client: redis.Redis) -> None:
    stream = unique_name("events:harness")
    await client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    await client.xadd(stream, {"n": "1"})
    second = await client.xadd(stream, {"n": "2"})
    await client.xadd(stream, {"n": "3"})
    await client.xack(stream, GROUP, await read_one(client, stream))
    # An entry deleted after the group's last delivered one leaves Redis without a lag.
    await client.xdel(stream, second)
    (group,) = await client.xinfo_groups(stream)
    assert group["lag"] is None
    assert group["pending"] == 0

    assert not await settled(client, [stream])
    assert not await settled(client, [stream], group=GROUP)
    assert await settled(client, [stream], group="another group")
