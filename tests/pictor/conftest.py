"""Fixtures shared by the tests of pictor's building blocks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

from gateway.config import GatewaySettings


@pytest.fixture
async def client(settings: GatewaySettings) -> AsyncIterator[redis.Redis]:
    """The test Redis database, one server's client (the consumer tests)."""
    async with redis.from_url(settings.redis_url) as connection:
        yield connection
