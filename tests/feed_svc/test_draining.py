"""feed_svc stopping on SIGTERM: the live watches still open keep hearing through the
drain, as an upload followed on media_svc does (tests/media_svc/test_uploads.py)."""

from __future__ import annotations

import asyncio
import os
import signal

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from feed_svc.keys import live_channel, live_key
from gateway import ids
from harness.events import channel_subscribers
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.live import SERVER_POLL_SECONDS
from tests.feed_svc.conftest import ARRIVAL_SECONDS, Feeds, follow
from tests.harness import IsolatedStack, extra_part, free_port, one_off_part, sign_up, wait_until

# Longer than a post takes to arrive: the drain, not its end, is what the watch is in.
DRAIN_SECONDS = 3 * ARRIVAL_SECONDS
# A reader stopped by the stop signal lets go of its subscription within one poll.
LET_GO_SECONDS = 3 * SERVER_POLL_SECONDS


async def test_a_home_feed_watched_while_feed_svc_stops_still_hears_new_posts(
    http: httpx.AsyncClient, feeds: Feeds, test_stack: IsolatedStack
) -> None:
    reader, author = await sign_up(http, "draining"), await sign_up(http, "drained")
    await follow(reader, author)
    await feeds.settle()
    reader_id = ids.decode("User", reader.id)
    settings = test_stack.settings.model_copy(
        update={"feed_addr": f"127.0.0.1:{free_port()}", "shutdown_grace_seconds": DRAIN_SECONDS}
    )
    part = one_off_part(test_stack, "feed_svc-draining", settings)
    with extra_part(part):
        async with grpc.aio.insecure_channel(settings.feed_addr) as channel:
            health = health_pb2_grpc.HealthStub(channel).Watch(
                health_pb2.HealthCheckRequest(service=""), timeout=DRAIN_SECONDS
            )
            assert (await health.read()).status == health_pb2.HealthCheckResponse.SERVING
            watch = feed_pb2_grpc.FeedServiceStub(channel).WatchHomeFeed(
                feed_pb2.WatchHomeFeedRequest(viewer_id=reader_id), timeout=DRAIN_SECONDS
            )

            async def live() -> bool:
                # Marked live once its subscription is confirmed; this watch is the only one.
                return bool(await feeds.redis.exists(live_key(reader_id)))

            await wait_until(live, within=10)

            pid = part.pid()
            assert pid is not None
            os.kill(pid, signal.SIGTERM)
            assert (await health.read()).status == health_pb2.HealthCheckResponse.NOT_SERVING

            async def let_go() -> bool:
                return await channel_subscribers(feeds.redis, live_channel(reader_id)) == 0

            # Still held when a reader stopped by the signal would have let go.
            with pytest.raises(AssertionError, match="condition not met"):
                await wait_until(let_go, within=LET_GO_SECONDS)
            post = await feeds.publish(author.id)

            async with asyncio.timeout(ARRIVAL_SECONDS):
                heard = await watch.read()
            assert isinstance(heard, feed_pb2.WatchHomeFeedResponse), heard
            assert heard.post_id == ids.decode("Post", post)
