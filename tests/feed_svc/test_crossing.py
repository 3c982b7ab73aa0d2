"""Crossings of the celebrity threshold converge whatever an outage does to their jobs:
a crossing job run late (a retry after a failover, behind a crossing back) leaves the
author's standing as it is now, and a crossing whose jobs could not all be sent is
noticed again when its event is retried. Either way every follower of a celebrity
merges their posts at read time; before, such a follower's feed lost them for good.

The stack's feed worker does the setting up; the event and the job under test run
here, in-process, on the same Redis and graph_svc. With the test threshold of 3
followers, a fourth makes a celebrity."""

from __future__ import annotations

import httpx
from redis.exceptions import ConnectionError as RedisConnectionError

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.entries import Entry
from feed_svc.fanout import PUSH, UNPULL, FanOut
from feed_svc.keys import celebrity_key, pulled_key
from feed_svc.store import FeedStore
from feed_svc.timeline import HomeTimelines
from gateway import ids
from tests.feed_svc.conftest import Feeds, follow
from tests.harness import Person, sign_up

SETTINGS = FeedSettings(celebrity_threshold=3)


class CutShort(FanOut):
    """The feed worker's handlers, whose first crossing loses Redis while sending its
    jobs, as in a failover."""

    cut = False

    async def _jobs_for_followers(self, operation: str, author: int, entry: Entry | None) -> None:
        if operation != PUSH and not self.cut:
            self.cut = True
            raise RedisConnectionError("Error 111 connecting: the primary is gone")
        await super()._jobs_for_followers(operation, author, entry)


def handlers(feeds: Feeds) -> CutShort:
    store = FeedStore(feeds.redis)
    authors = AuthorPosts(store, feeds.clients.post, SETTINGS.recent_per_author)
    timelines = HomeTimelines(store, feeds.clients.graph, authors, SETTINGS)
    return CutShort(feeds.redis, feeds.clients.graph, timelines, SETTINGS)


async def a_celebrity(http: httpx.AsyncClient, feeds: Feeds) -> tuple[Person, list[Person]]:
    star = await sign_up(http, "star")
    fans = [await sign_up(http, "fan") for _ in range(4)]
    for fan in fans:
        await follow(fan, star)
    await feeds.settle()
    assert await feeds.is_celebrity(star.id)
    return star, fans


async def merges(feeds: Feeds, fan: Person, star: Person) -> bool:
    pulled = pulled_key(ids.decode("User", fan.id))
    return bool(await feeds.redis.sismember(pulled, str(ids.decode("User", star.id))))


async def test_a_late_job_of_an_old_crossing_leaves_the_standing_as_it_is_now(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    star, fans = await a_celebrity(http, feeds)
    job = {
        "op": UNPULL,  # sent when the star last went below the threshold
        "author_id": str(ids.decode("User", star.id)),
        "followers": str(ids.decode("User", fans[0].id)),
    }

    await handlers(feeds).run_job("0-1", job)

    assert await merges(feeds, fans[0], star)


async def test_a_crossing_cut_short_is_noticed_again_when_its_event_is_retried(
    http: httpx.AsyncClient, feeds: Feeds
) -> None:
    star, fans = await a_celebrity(http, feeds)
    star_id = ids.decode("User", star.id)
    # As after a failover took the star's flag and a fan's merge with it: the star has
    # a celebrity's followers, and the next look at them crosses the threshold.
    await feeds.redis.delete(celebrity_key(star_id))
    await feeds.redis.srem(pulled_key(ids.decode("User", fans[1].id)), str(star_id))
    # The look: another fan's follow, redelivered.
    event = {"follower_id": str(ids.decode("User", fans[0].id)), "followee_id": str(star_id)}
    on_this_worker = handlers(feeds)

    try:
        await on_this_worker.follow_changed("0-1", event)
    except RedisConnectionError:
        await on_this_worker.follow_changed("0-1", event)  # the consumer's retry
    await feeds.settle()

    assert await feeds.is_celebrity(star.id)
    assert all([await merges(feeds, fan, star) for fan in fans])
