"""The test suite's Redis Cluster as tests drive it: which nodes serve a key, killing
one (SIGKILL), freezing one (SIGSTOP), and bringing a killed one back."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis

from infra.local import cluster, stack
from pictor.redis_client import PooledCluster

NODES = cluster.TEST_REDIS


@dataclass(frozen=True)
class Shard:
    """The ports of the primary that serves a key's slot and of its replica."""

    primary: int
    replica: int


async def shard_of(client: PooledCluster, key: str) -> Shard:
    await client.initialize()
    primary = client.get_node_from_key(key)
    assert primary is not None, f"no node serves {key}"
    # Asked of the primary itself: the slot map may not list a replica that has just
    # (re)joined until gossip tells of its sync.
    node = aioredis.Redis(port=int(primary.port), decode_responses=True)
    try:
        replication = await node.info("replication")
    finally:
        await node.aclose()
    assert replication.get("connected_slaves") == 1, f"{key}'s primary has no replica"
    return Shard(int(primary.port), int(replication["slave0"]["port"]))


@asynccontextmanager
async def asked_alone(port: int) -> AsyncIterator[aioredis.Redis]:
    """One node, asked directly (a replica too: reads allowed), not through the
    cluster client, which may still be finding where slots moved."""
    node = aioredis.Redis(port=port, single_connection_client=True)
    try:
        await node.readonly()
        yield node
    finally:
        await node.aclose()


def kill(port: int) -> float:
    """SIGKILL of one node; returns when (monotonic)."""
    part = NODES.node(port)
    pid = part.pid()
    assert pid is not None, f"redis {port} is not running"
    os.kill(pid, signal.SIGKILL)
    killed = time.monotonic()
    stack.stop(part)  # reaps it and clears its pid file
    return killed


@contextmanager
def frozen(port: int) -> Iterator[None]:
    """The node stopped in its tracks (SIGSTOP) until the block ends: a replica that
    lags behind its primary, as one may under load."""
    pid = NODES.node(port).pid()
    assert pid is not None, f"redis {port} is not running"
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


async def is_primary(port: int) -> bool:
    node = aioredis.Redis(port=port, socket_timeout=1)
    try:
        info = await node.info("replication")
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        await node.aclose()
    return bool(info.get("role") == "master")


def bring_back(port: int) -> None:
    """Starts a killed node again; returns once it has rejoined (as the replica of the
    node that took its place) and every replica of the cluster is in sync."""
    stack.start(NODES.node(port))
    NODES.form()
