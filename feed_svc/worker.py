"""The fan-out worker: consumes the post and follow events and the fan-out jobs they
create. Its own process (``python -m feed_svc.worker``), scaled apart from reads."""

from __future__ import annotations

from prometheus_client import Gauge

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.fanout import FanOut
from feed_svc.keys import FANOUT_JOBS, NOTIFICATIONS_GROUP, WORKER_GROUP
from feed_svc.notification_store import NotificationStore
from feed_svc.notifications import NotificationEvents, Notifications
from feed_svc.store import FeedStore
from feed_svc.timeline import HomeTimelines
from pictor import events
from pictor.consumer import ConsumerSettings, StreamConsumer
from pictor.metrics import watch_stream
from pictor.service import Connections, Worker, main, serve_worker

FANOUT_JOBS_QUEUED = Gauge(
    "pictor_fanout_jobs_queued", "Fan-out jobs not done yet: unread, or read and unacknowledged."
)


async def run(settings: FeedSettings) -> None:
    await serve_worker("feed_worker", settings, _wire)


async def _wire(settings: FeedSettings, connections: Connections) -> list[Worker]:
    client = connections.redis()
    clients = connections.services()
    store = FeedStore(client)
    authors = AuthorPosts(store, clients.post, settings.recent_per_author)
    timelines = HomeTimelines(store, clients.graph, authors, settings)
    fanout = FanOut(client, clients.graph, timelines, settings)
    handlers = (
        (events.POST_PUBLISHED, fanout.post_published),
        (events.POST_DELETED, fanout.post_deleted),
        (events.FOLLOW_CHANGED, fanout.follow_changed),
        (events.FOLLOWS_IMPORTED, fanout.follows_imported),
        (FANOUT_JOBS, fanout.run_job),
    )
    notified = NotificationEvents(Notifications(NotificationStore(client), store.live))
    notifying = (
        (events.LIKE_CHANGED, notified.like_changed),
        (events.COMMENT_CHANGED, notified.comment_changed),
        (events.FOLLOW_CHANGED, notified.follow_changed),
        (events.POST_DELETED, notified.post_deleted),
    )
    consumer_settings = ConsumerSettings.of(settings)
    consumers = []
    for group, handled in ((WORKER_GROUP, handlers), (NOTIFICATIONS_GROUP, notifying)):
        for stream, handle in handled:
            consumers.append(
                StreamConsumer(client, stream, group, handle, settings=consumer_settings)
            )
            backlog = FANOUT_JOBS_QUEUED if stream == FANOUT_JOBS else None
            watch_stream(client, stream, group, backlog)
    return [consumer.run for consumer in consumers]


if __name__ == "__main__":
    main("feed_worker", FeedSettings, run)
