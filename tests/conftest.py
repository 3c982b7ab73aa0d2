"""Session fixtures: real datastores, a real test stack, clients to talk to it.

Slow servers start once per session. Nothing here fakes a datastore or a service.
``PICTOR_TOPOLOGY=cluster`` (`make test-cluster`) runs the session on the cluster
topology: the three-node Cassandra ring and a Redis Cluster of the session's own.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import redis.asyncio as redis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from redis.asyncio.cluster import ClusterNode, RedisCluster

from bench.target import Target
from gateway.config import GatewaySettings
from infra.local import cluster, stack
from media_svc.config import MediaSettings
from pictor.clients import ServiceClients
from pictor.cql import CqlSession
from pictor.s3 import open_s3
from tests.harness import GraphQLClient, IsolatedStack, isolated_settings

# Examples drive the real stack: no per-example deadline, and fixtures are shared on
# purpose (each example makes its own users). "long" is for local runs.
hypothesis_settings.register_profile(
    "ci",
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.register_profile(
    "long",
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ON_CLUSTER = os.environ.get("PICTOR_TOPOLOGY", "single") == "cluster"
CLUSTER_TEST_DIR = stack.STATE / "test" / "cluster"


def pytest_ignore_collect(collection_path: Path) -> bool | None:
    """tests/cluster/ needs the cluster topology: only `make test-cluster` runs it."""
    if not ON_CLUSTER and collection_path == Path(__file__).with_name("cluster"):
        return True
    return None


def _reset_datastores(settings: GatewaySettings) -> None:
    """A clean keyspace, Redis database and bucket for this session."""

    async def reset() -> None:
        cql = await CqlSession.connect(settings, use_keyspace=False)
        try:
            await cql.execute_ddl(f"DROP KEYSPACE IF EXISTS {settings.cql_keyspace}")
        finally:
            await cql.close()
        await _flush_redis(settings)
        async with open_s3(settings) as s3:
            paginator = s3.get_paginator("list_objects_v2")
            try:
                async for page in paginator.paginate(Bucket=settings.s3_bucket):
                    for item in page.get("Contents", []):
                        await s3.delete_object(Bucket=settings.s3_bucket, Key=item["Key"])
            except s3.exceptions.NoSuchBucket:
                pass

    asyncio.run(reset())
    stack.prepare_datastores(settings)


async def _flush_redis(settings: GatewaySettings) -> None:
    if settings.redis_cluster:
        nodes = [ClusterNode(host, port) for host, port in settings.redis_nodes()]
        in_cluster = RedisCluster(startup_nodes=nodes)
        try:
            # A cluster has one database: the session's own cluster is emptied whole.
            await in_cluster.flushall(target_nodes=RedisCluster.PRIMARIES)
        finally:
            await in_cluster.aclose()
        return
    client = redis.from_url(settings.redis_url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@pytest.fixture(scope="session")
def one_session_at_a_time() -> Iterator[None]:
    """Test sessions share the test keyspace, Redis database and bucket, and reset them
    when they start: a second session waits for the first instead of wiping its data.
    Sessions on the two topologies keep their data apart and run side by side."""
    with _session_lock(ON_CLUSTER).open("w") as lock:
        if not _locked_at_once(lock):
            print("another test session is running; waiting for it to finish")
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _session_lock(on_cluster: bool) -> Path:
    path = stack.STATE / "test" / ("cluster-session.lock" if on_cluster else "session.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _locked_at_once(lock: IO[str]) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _session_running(on_cluster: bool) -> bool:
    """Whether a test session on that topology holds its lock now."""
    with _session_lock(on_cluster).open("a") as lock:
        return not _locked_at_once(lock)  # released as the file closes


@pytest.fixture(scope="session")
def datastores(one_session_at_a_time: None) -> Iterator[None]:
    """Cassandra, Redis and MinIO, running; stopped at the end only if started here, and
    MinIO, which both topologies use, not while a session on the other one runs."""
    shared = GatewaySettings()
    if ON_CLUSTER:
        started = cluster.up_backends(shared, cluster.TEST_REDIS)
    else:
        started = stack.up_backends(shared)
    try:
        yield
    finally:
        for part in reversed(started):
            if part.name == "minio" and _session_running(not ON_CLUSTER):
                continue
            stack.stop(part)


@pytest.fixture(scope="session")
def settings(datastores: None) -> GatewaySettings:
    if ON_CLUSTER:
        settings = isolated_settings(
            **cluster.CASSANDRA, **cluster.TEST_REDIS.settings(), s3_bucket="pictor-test-cluster"
        )
    else:
        settings = isolated_settings()
    _reset_datastores(settings)
    return settings


@pytest.fixture
def target(test_stack: IsolatedStack, settings: GatewaySettings) -> Target:
    """The test stack as a benchmark sees it."""

    def part_pid(name: str) -> int | None:
        part = test_stack.parts.get(name)
        return part.pid() if part is not None else None

    return Target(test_stack.gateway_url, settings, MediaSettings(), part_pid)


@pytest.fixture(scope="session")
def test_stack(settings: GatewaySettings) -> Iterator[IsolatedStack]:
    # Pid files of their own: a session starts by stopping the leftovers in its run dir.
    running = (
        IsolatedStack(settings, run_dir=CLUSTER_TEST_DIR / "run", log_dir=CLUSTER_TEST_DIR / "logs")
        if ON_CLUSTER
        else IsolatedStack(settings)
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="session")
async def clients(test_stack: IsolatedStack) -> AsyncIterator[ServiceClients]:
    connected = ServiceClients.connect(test_stack.settings)
    yield connected
    await connected.close()


@pytest.fixture(scope="session")
async def cql(settings: GatewaySettings) -> AsyncIterator[CqlSession]:
    session = await CqlSession.connect(settings)
    yield session
    await session.close()


@pytest.fixture
async def s3(settings: GatewaySettings) -> AsyncIterator[Any]:
    """The test stack's object store (an aiobotocore S3 client)."""
    async with open_s3(settings) as client:
        yield client


@pytest.fixture
async def http(test_stack: IsolatedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=test_stack.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def graphql(http: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(http)
