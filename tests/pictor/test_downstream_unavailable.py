"""A service whose own call to another service finds that service gone answers
UNAVAILABLE, so its caller knows to retry (the gateway shows UNAVAILABLE), rather than
UNKNOWN (which the gateway can only show as INTERNAL)."""

from __future__ import annotations

import itertools
import os

import grpc
import pytest

from infra.local import stack
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from tests.harness import IsolatedStack, extra_part, free_port, one_off_part

# Viewers no other test has: a first read rebuilds the timeline from graph_svc.
_viewers = itertools.count(9_000_000_000 + os.getpid() * 1000)


async def test_a_feed_read_while_graph_svc_is_down_is_unavailable(
    test_stack: IsolatedStack,
) -> None:
    settings = test_stack.settings.model_copy(
        update={
            "graph_addr": f"127.0.0.1:{free_port()}",
            "feed_addr": f"127.0.0.1:{free_port()}",
            # feed_svc's calls to graph_svc wait for it this long, then give up.
            "grpc_deadline_seconds": 1.0,
        }
    )
    graph = one_off_part(test_stack, "graph_svc-downstream", settings)
    feed = one_off_part(test_stack, "feed_svc-downstream", settings)
    with extra_part(graph), extra_part(feed):
        async with grpc.aio.insecure_channel(settings.feed_addr) as channel:
            timelines = feed_pb2_grpc.FeedServiceStub(channel)
            first = feed_pb2.GetHomeFeedRequest(viewer_id=next(_viewers), page_size=5)
            assert (await timelines.GetHomeFeed(first, timeout=10)).items == []

            stack.stop(graph)
            rebuilt = feed_pb2.GetHomeFeedRequest(viewer_id=next(_viewers), page_size=5)
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await timelines.GetHomeFeed(rebuilt, timeout=10)
            assert refused.value.code() is grpc.StatusCode.UNAVAILABLE, refused.value
            assert "Traceback" not in (refused.value.details() or "")
