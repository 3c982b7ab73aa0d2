"""Fixtures of the gateway's black-box tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from gateway.config import GatewaySettings
from pictor.redis_client import RedisClient, open_redis


@pytest.fixture
async def redis(settings: GatewaySettings) -> AsyncIterator[RedisClient]:
    """The test stack's Redis, opened as its services open it (a Cluster on the
    cluster topology): to wait for events to settle, or send one."""
    client = open_redis(settings)
    yield client
    await client.aclose()
