"""The media worker as a process: killed mid-job it loses nothing and doubles nothing;
a message that can never succeed is dead-lettered, not retried forever."""

from __future__ import annotations

import json
import os
import signal
from typing import Any

import httpx

from gateway import ids
from gateway.config import GatewaySettings
from infra.local import stack
from media_svc.worker import PROCESSING_GROUP
from pictor import events
from pictor.consumer import dead_letter_stream
from pictor.live import LiveChannels, LiveListener
from pictor.redis_client import RedisClient
from pictor.s3 import open_s3
from tests import images
from tests.feed_svc.conftest import redis_of
from tests.gateway.test_posts import CONFIRM, create_and_put, keys_under, settled
from tests.harness import IsolatedStack, data, sign_up, wait_until


async def test_a_worker_killed_mid_job_loses_nothing(
    http: httpx.AsyncClient, test_stack: IsolatedStack, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "patient")
    created = await create_and_put(author, images.noisy_jpeg(6000, 4000))
    post_id = ids.decode("Post", created["post"]["id"])

    async with redis_of(settings) as client:
        async with LiveChannels(client).reading() as channels:
            listener = LiveListener(channels)
            await listener.listen([events.upload_status_channel(events.POST_UPLOAD, post_id)])
            try:
                data(await author.client.execute(CONFIRM, {"id": created["post"]["id"]}))

                async def worker_started() -> dict[str, Any] | None:
                    message = await listener.next(wait_seconds=0.5)
                    status = json.loads(message) if message else None
                    return status if status and "progress" in status else None

                await wait_until(worker_started, within=20)
            finally:
                await listener.aclose()

        # The worker holds the message: kill it without a chance to clean up.
        worker = test_stack.parts["media_worker"]
        pid = worker.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

        async def dead() -> bool:
            return stack.exit_code(worker) is not None

        await wait_until(dead, within=10)
        stack.stop(worker)
        stack.start(worker)

        ready = await settled(author.client, created["post"]["id"])
        assert ready["media"]["status"] == "READY"
        async with open_s3(settings) as s3:
            assert len(await keys_under(s3, settings, f"media/{post_id}/")) == 8
            assert await keys_under(s3, settings, f"uploads/{post_id}") == []
        pending = await client.xpending(events.MEDIA_UPLOADED, PROCESSING_GROUP)
        buried = await dead_lettered(client)
    assert pending["pending"] == 0
    assert not any(fields.get(b"post_id") == str(post_id).encode() for fields in buried)


async def test_a_message_that_can_never_succeed_is_dead_lettered(
    test_stack: IsolatedStack, settings: GatewaySettings
) -> None:
    async with redis_of(settings) as client:
        await client.xadd(events.MEDIA_UPLOADED, {"post_id": "not-a-post-id"})

        async def buried() -> list[dict[Any, Any]]:
            return [f for f in await dead_lettered(client) if f.get(b"post_id") == b"not-a-post-id"]

        dead = await wait_until(buried, within=30)
        assert b"ValueError" in dead[0][b"error"]


async def dead_lettered(client: RedisClient) -> list[dict[Any, Any]]:
    """The fields of every message dead-lettered from media.uploaded so far."""
    entries = await client.xrange(dead_letter_stream(events.MEDIA_UPLOADED))
    return [fields for _, fields in entries or () if fields]
