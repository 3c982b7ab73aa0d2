"""Each service's and worker's /metrics, on its own port, as Prometheus scrapes it:
gRPC calls by method and status code, consumer-group backlogs per stream."""

from __future__ import annotations

import sys

import httpx
import redis.asyncio as redis

from feed_svc.keys import FANOUT_JOBS
from feed_svc.keys import WORKER_GROUP as FEED_GROUP
from infra.local import stack
from media_svc.worker import CLEANUP_GROUP, PROCESSING_GROUP
from pictor import events
from tests.harness import (
    IsolatedStack,
    error_codes,
    extra_part,
    free_port,
    settings_env,
    sign_up,
    wait_until,
)
from tests.prometheus import metrics_url, sample, scrape

GRAPH_SERVICE = "pictor.graph.v1.GraphService"


def _calls(method: str, code: str) -> dict[str, str]:
    return {"grpc_service": GRAPH_SERVICE, "grpc_method": method, "grpc_code": code}


async def test_a_service_counts_its_grpc_calls_by_method_and_status_code(
    test_stack: IsolatedStack, http: httpx.AsyncClient
) -> None:
    url = metrics_url(test_stack.settings.metrics_port("graph"))
    created, refused = _calls("CreateUser", "OK"), _calls("CreateUser", "ALREADY_EXISTS")
    before = await scrape(url)

    person = await sign_up(http)
    taken = await http.post(
        "/graphql",
        json={
            "query": "mutation($u: String!) { signUp(username: $u, password: $u) { token } }",
            "variables": {"u": person.username},
        },
    )
    assert error_codes(taken.json()) == ["CONFLICT"]

    after = await scrape(url)
    for labels in (created, refused):
        key = ("grpc_server_handled_total", frozenset(labels.items()))
        assert after[key] - before.get(key, 0) == 1, labels


async def test_every_worker_reports_the_backlog_of_each_stream_it_consumes(
    test_stack: IsolatedStack,
) -> None:
    settings = test_stack.settings
    feed, media = settings.metrics_port("feed_worker"), settings.metrics_port("media_worker")
    for port, stream, group in (
        (feed, events.POST_PUBLISHED, FEED_GROUP),
        (feed, FANOUT_JOBS, FEED_GROUP),
        (media, events.MEDIA_UPLOADED, PROCESSING_GROUP),
        (media, events.POST_DELETED, CLEANUP_GROUP),
    ):
        labels = {"stream": stream, "group": group}
        assert await sample(metrics_url(port), "pictor_stream_lag", labels) is not None, labels
        assert await sample(metrics_url(port), "pictor_stream_pending", labels) is not None
    assert await sample(metrics_url(feed), "pictor_fanout_jobs_queued") is not None


async def test_a_stuck_worker_shows_its_lag_and_the_message_in_hand(
    test_stack: IsolatedStack,
) -> None:
    """A feed worker whose graph service never answers: the first follow change stays
    in hand (pending), the ones behind it wait unread (lag)."""
    settings = test_stack.settings.model_copy(
        update={
            "redis_url": "redis://127.0.0.1:6379/13",
            "graph_addr": f"127.0.0.1:{free_port()}",  # nothing listens there
            "grpc_deadline_seconds": 120.0,
            "feed_worker_addr": f"127.0.0.1:{free_port()}",
            "feed_worker_metrics_port": free_port(),
        }
    )
    client = redis.from_url(settings.redis_url)
    await client.flushdb()
    part = stack.Part(
        name="feed_worker-metrics",
        command=lambda: [sys.executable, "-m", "feed_svc.worker"],
        ready=lambda: stack.grpc_serving(settings.feed_worker_addr),
        start_timeout=60,
        env=settings_env(settings),
        run_dir=test_stack.run_dir,
        log_dir=test_stack.log_dir,
    )
    url = metrics_url(settings.feed_worker_metrics_port)
    labels = {"stream": events.FOLLOW_CHANGED, "group": FEED_GROUP}
    try:
        with extra_part(part):
            assert await sample(url, "pictor_stream_lag", labels) == 0
            for followee in (2, 3, 4):
                await client.xadd(
                    events.FOLLOW_CHANGED, {"follower_id": "1", "followee_id": str(followee)}
                )

            async def stuck() -> bool:
                metrics = await scrape(url)
                key = frozenset(labels.items())
                return (
                    metrics.get(("pictor_stream_lag", key)) == 2
                    and metrics.get(("pictor_stream_pending", key)) == 1
                )

            await wait_until(stuck, within=20)
    finally:
        await client.flushdb()
        await client.aclose()
