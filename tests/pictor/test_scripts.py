"""Scripts sent by their hash run on a Redis that has never seen them (a restarted
server, a new primary after a failover): it answers NOSCRIPT, the script is loaded
and the call sent again. Each script here is new to the server (a fresh nonce in its
source), as a node that lost its scripts would find it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from gateway.config import GatewaySettings
from pictor.redis_client import RedisClient
from pictor.scripts import Pipe, Script, pipelined
from tests.feed_svc.conftest import redis_of


def unseen_script() -> Script:
    """Adds ARGV[1] to the counter at KEYS[1], and answers its new value."""
    return Script(f"-- {uuid.uuid4()}\nreturn redis.call('INCRBY', KEYS[1], ARGV[1])")


@pytest.fixture
async def redis(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    async with redis_of(settings) as client:
        yield client


async def test_a_script_the_server_lacks_is_loaded_and_run_once(redis: RedisClient) -> None:
    counter = f"script-test:{{{uuid.uuid4()}}}"
    add = unseen_script()
    assert await redis.script_exists(add.sha) == [False]

    assert await add.run(redis, [counter], [5]) == 5
    assert await add.run(redis, [counter], [2]) == 7
    assert await redis.script_exists(add.sha) == [True]


async def test_a_pipeline_with_a_script_the_server_lacks_runs_whole(redis: RedisClient) -> None:
    # Keys of two hash tags: on a cluster, most likely two nodes.
    first, second = (f"script-test:{{{uuid.uuid4()}}}" for _ in range(2))
    add = unseen_script()

    def queue(pipe: Pipe) -> None:
        add.queue(pipe, [first], [1])
        pipe.get(first)
        add.queue(pipe, [second], [3])

    assert await pipelined(redis, queue, [add]) == [1, b"1", 3]
    assert [await redis.get(first), await redis.get(second)] == [b"1", b"3"]
