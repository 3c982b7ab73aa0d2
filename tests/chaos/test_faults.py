"""The fault suite (``make chaos``): under a steady mixed load (sign-ups, follows,
uploads, feed reads), each part is killed with SIGKILL and started again — every
service, both workers, Redis, Cassandra and MinIO — and then Redis's timelines and
caches are wiped. Afterwards nothing that was acknowledged is lost: every post
whose upload was answered is READY and in every follower's feed, every follower
count equals its list, and S3 holds no object of a post that is gone. It reports how long each outage lasted and how many requests
failed during it, and requires that none fail once the part is back.

It kills the datastores the test suite shares with the dev stack (they are started
again): run it alone, not beside ``make test`` or a benchmark. ``make test`` runs the
fast part of the same story (tests/pictor/test_recovery.py, test_redis_restart.py).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
import redis.asyncio as redis

from feed_svc.keys import author_posts_key, feed_key, following_key, of_everyone, pulled_key
from gateway.config import GatewaySettings
from graph_svc.profiles import USER_KEYS
from harness.processes import kill
from infra.local import stack
from pictor.clients import ServiceClients
from pictor.post.v1 import post_pb2
from pictor.s3 import open_s3
from post_svc.cache import POST_KEYS
from tests.chaos.mixed_load import (
    Fault,
    Ledger,
    every_acknowledged_post_is_ready_and_in_every_feed,
    every_count_equals_its_list,
    failed_once_back,
    pause,
    report,
    run_load,
)
from tests.harness import IsolatedStack, wait_until

pytestmark = pytest.mark.chaos

SERVICES = ("graph_svc", "post_svc", "feed_svc", "media_svc", "media_worker", "feed_worker")
DATASTORES = ("redis", "minio", "cassandra")
# What a Redis that lost its data would lack: every timeline and its marks, every cache.
WIPED = (
    *map(of_everyone, (feed_key, following_key, pulled_key, author_posts_key)),
    POST_KEYS,
    USER_KEYS,
)
# Load before each kill, and after a part is back, in seconds.
STEADY_SECONDS = 4.0
RECOVERY_SECONDS = 8.0
# Once a part answers its readiness check again, its callers have this long to notice
# (a gRPC channel or the CQL driver reconnecting backs off up to a second or two).
RECOVERY_GRACE_SECONDS = 3.0
# A part stays dead this long before it is started again.
DOWN_SECONDS = 2.0


def _kill_and_restart(part: stack.Part) -> Fault:
    killed = kill(part)
    time.sleep(DOWN_SECONDS)  # the outage itself, in a worker thread
    stack.start(part)  # returns once the part answers its readiness check
    return Fault(part.name, killed, time.monotonic())


def _parts(test_stack: IsolatedStack) -> list[stack.Part]:
    datastores = {part.name: part for part in stack.backends(GatewaySettings())}
    return [test_stack.parts[name] for name in SERVICES] + [datastores[n] for n in DATASTORES]


async def test_nothing_acknowledged_is_lost_when_any_part_dies(
    test_stack: IsolatedStack,
    http: httpx.AsyncClient,
    settings: GatewaySettings,
    clients: ServiceClients,
) -> None:
    ledger = Ledger()
    stopping = asyncio.Event()
    load = asyncio.create_task(run_load(http, ledger, stopping))
    faults: list[Fault] = []
    try:
        for part in _parts(test_stack):
            await pause(stopping, STEADY_SECONDS)
            faults.append(await asyncio.to_thread(_kill_and_restart, part))
            print(f"chaos: {part.name} down for {faults[-1].back - faults[-1].killed:.1f}s")
            await pause(stopping, RECOVERY_SECONDS)
        await pause(stopping, STEADY_SECONDS)
    finally:
        stopping.set()
        await load
    await _wipe_feeds(settings)

    print("\n".join(report(ledger, faults, RECOVERY_SECONDS)))
    late = failed_once_back(ledger, faults, RECOVERY_GRACE_SECONDS, RECOVERY_SECONDS)
    assert late == [], "requests failed after their part was back"
    await every_acknowledged_post_is_ready_and_in_every_feed(ledger)
    await every_count_equals_its_list(ledger)
    # And the feeds rebuilt after the wipe were right (checked above, read after it).
    await wait_until(lambda: _orphans(clients, settings), within=60, interval=1.0)


async def _orphans(clients: ServiceClients, settings: GatewaySettings) -> bool:
    """True once S3 holds nothing but a live post's objects: no object of a post that
    is gone, and no original left beside a READY post's renditions."""
    keys: list[str] = []
    async with open_s3(settings) as s3:
        paginator = s3.get_paginator("list_objects_v2")
        async for page in paginator.paginate(Bucket=settings.s3_bucket):
            keys += [item["Key"] for item in page.get("Contents", [])]
    owners = {key: int(key.split("/")[1].split(".")[0]) for key in keys}
    found: dict[int, int] = {}
    wanted = sorted(set(owners.values()))
    for start in range(0, len(wanted), 500):
        response = await clients.post.BatchGetPosts(
            post_pb2.BatchGetPostsRequest(post_ids=wanted[start : start + 500])
        )
        found |= {post.id: post.media.status for post in response.posts}
    left = [
        key
        for key, post_id in owners.items()
        if post_id not in found
        or (key.startswith("uploads/") and found[post_id] == post_pb2.MEDIA_STATUS_READY)
    ]
    if left:
        print(f"chaos: {len(left)} objects without a live post, e.g. {left[:3]}")
    return not left


async def _wipe_feeds(settings: GatewaySettings) -> None:
    """Timelines and hydration caches gone, as after losing Redis's data; the event
    streams are kept (they hold what the workers still owe)."""
    client = redis.from_url(settings.redis_url)
    try:
        for pattern in WIPED:
            keys = [key async for key in client.scan_iter(match=pattern, count=1000)]
            for start in range(0, len(keys), 1000):
                await client.unlink(*keys[start : start + 1000])
    finally:
        await client.aclose()
