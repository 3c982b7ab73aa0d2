"""Wiring: opens Redis and the graph/post clients, serves reads until SIGTERM."""

from __future__ import annotations

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.servicer import FeedServicer
from feed_svc.timeline import Timelines
from pictor.cache import open_redis
from pictor.clients import ServiceClients
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.service import Servicer, run_server


async def serve(settings: FeedSettings) -> None:
    client = open_redis(settings)
    clients = ServiceClients.connect(settings)
    try:
        authors = AuthorPosts(client, clients.post, settings.recent_per_author)
        timelines = Timelines(client, clients.graph, authors, settings)
        await run_server(
            "feed",
            settings,
            [
                Servicer(
                    FeedServicer(timelines, client),
                    feed_pb2_grpc.add_FeedServiceServicer_to_server,
                    feed_pb2.DESCRIPTOR.services_by_name["FeedService"].full_name,
                )
            ],
        )
    finally:
        await clients.close()
        await client.aclose()
