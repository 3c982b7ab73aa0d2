"""The feed worker's events, each mapped to verbs of the timeline policy
(feed_svc.timeline.HomeTimelines):

- ``post.published``: ``publish`` (the author's recent posts), then ``push`` to every
  follower, unless the author is a celebrity, whose followers merge it at read time.
- ``post.deleted``: ``unpublish``, then ``unpush`` from every follower (also for a
  celebrity: posts pushed before they crossed the threshold).
- ``follow.changed``: ``merge`` or ``unmerge``, from the follow graph re-read, so a
  repeated or late event applies the current truth.
- ``follows.imported`` (bulk follows): ``clear``; the next read populates.
- A crossing of the celebrity threshold, noticed on either event: ``restate`` (pull
  or unpull, by the author's standing when the job runs) for every follower; the
  author's flag is set only once every job is sent, so a crossing whose jobs were cut
  short by an outage is noticed again when the event is retried.

Work over an author's followers is never done inline: it is cut into one job per page
of followers on ``events:feed.fanout``, so a post to 100k followers becomes 100 small
messages that interleave with everyone else's. Every verb is idempotent, so
redelivery after a crash changes nothing.
"""

from __future__ import annotations

import logging

from feed_svc.config import FeedSettings
from feed_svc.entries import Entry
from feed_svc.keys import FANOUT_JOBS
from feed_svc.timeline import HomeTimelines
from pictor import events
from pictor.consumer import Fields
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.redis_client import RedisClient

log = logging.getLogger(__name__)

PUSH, REMOVE, RESTATE = "push", "remove", "restate"
# Crossing jobs as sent before RESTATE: run as RESTATE, whichever way they said.
PULL, UNPULL = "pull", "unpull"


class FanOut:
    def __init__(
        self,
        client: RedisClient,
        graph: graph_pb2_grpc.GraphServiceStub,
        timelines: HomeTimelines,
        settings: FeedSettings,
    ) -> None:
        self._redis = client
        self._graph = graph
        self._timelines = timelines
        self._settings = settings

    # ------------------------------------------------------------ events

    async def post_published(self, message_id: str, fields: Fields) -> None:
        entry = Entry(int(fields["post_id"]), int(fields["author_id"]))
        celebrity = await self._celebrity(entry.author_id)
        # Into the author's recent posts before any follower list is read: a follow
        # that lands meanwhile backfills from there, so neither path can miss the post.
        await self._timelines.publish(entry, celebrity)
        if not celebrity:
            await self._jobs_for_followers(PUSH, entry.author_id, entry)

    async def post_deleted(self, message_id: str, fields: Fields) -> None:
        entry = Entry(int(fields["post_id"]), int(fields["author_id"]))
        await self._timelines.unpublish(entry)
        # A post that never became READY was never pushed: no follower has it.
        if fields.get("published", "1") != "0":
            await self._jobs_for_followers(REMOVE, entry.author_id, entry)

    async def follow_changed(self, message_id: str, fields: Fields) -> None:
        follower, followee = int(fields["follower_id"]), int(fields["followee_id"])
        checked = await self._graph.BatchCheckFollows(
            graph_pb2.BatchCheckFollowsRequest(viewer_id=follower, target_ids=[followee])
        )
        celebrity = await self._celebrity(followee)
        if checked.follows[0]:
            await self._timelines.merge(follower, followee, celebrity)
        else:
            await self._timelines.unmerge(follower, followee)

    async def follows_imported(self, message_id: str, fields: Fields) -> None:
        await self._timelines.clear(int(fields["follower_id"]))

    # ------------------------------------------------------------ jobs

    async def run_job(self, message_id: str, fields: Fields) -> None:
        """One page of followers for one verb."""
        followers = [int(f) for f in fields["followers"].split(",") if f]
        author = int(fields["author_id"])
        operation = fields["op"]
        if operation == PUSH:
            await self._timelines.push(Entry(int(fields["post_id"]), author), followers)
        elif operation == REMOVE:
            await self._timelines.unpush(Entry(int(fields["post_id"]), author), followers)
        elif operation in (RESTATE, PULL, UNPULL):
            await self._timelines.restate(author, followers)
        else:
            raise ValueError(f"unknown fan-out operation {operation!r}")

    async def _jobs_for_followers(self, operation: str, author: int, entry: Entry | None) -> None:
        """One fan-out job per page of the author's followers."""
        request = graph_pb2.StreamFollowersRequest(
            user_id=author, page_size=self._settings.fanout_page_size
        )
        async for page in self._graph.StreamFollowers(request):
            job: dict[str, str | int] = {
                "op": operation,
                "author_id": author,
                "followers": ",".join(str(f) for f in page.follower_ids),
            }
            if entry is not None:
                job["post_id"] = entry.post_id
            await events.publish(self._redis, FANOUT_JOBS, job)

    async def _celebrity(self, author: int) -> bool:
        """Whether the author is pulled rather than pushed; a crossing of the threshold
        either way starts pulling or pushing them for every follower."""
        standing = await self._timelines.standing(author)
        if standing.crossed:
            direction = "now pulled" if standing.celebrity else "now pushed"
            log.info("author %s crossed the celebrity threshold: %s", author, direction)
            await self._jobs_for_followers(RESTATE, author, None)
            await self._timelines.flag(author, standing.celebrity)
        return standing.celebrity
