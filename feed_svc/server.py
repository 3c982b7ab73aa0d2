"""Wiring: opens Redis and the graph/post clients, serves reads until SIGTERM."""

from __future__ import annotations

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.notification_store import NotificationStore
from feed_svc.notifications import Notifications
from feed_svc.servicer import FeedServicer
from feed_svc.store import FeedStore
from feed_svc.timeline import HomeTimelines
from pictor.feed.v1 import feed_pb2, feed_pb2_grpc
from pictor.service import Connections, Wiring, serve_service


async def serve(settings: FeedSettings) -> None:
    await serve_service("feed", settings, _wire)


async def _wire(settings: FeedSettings, connections: Connections) -> Wiring:
    client = connections.redis()
    clients = connections.services()
    store = FeedStore(client)
    # Closed with the connections, after the drain (pictor.live.LiveChannels.reading).
    await connections.enter(store.live.reading())
    authors = AuthorPosts(store, clients.post, settings.recent_per_author)
    timelines = HomeTimelines(store, clients.graph, authors, settings)
    return Wiring(
        FeedServicer(timelines, Notifications(NotificationStore(client), store.live)),
        feed_pb2_grpc.add_FeedServiceServicer_to_server,
        feed_pb2.DESCRIPTOR,
    )
