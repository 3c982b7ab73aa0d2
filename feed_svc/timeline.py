"""The home timeline policy, every verb in one class (after Mastodon's FeedManager).

A home timeline is a Redis sorted set of the viewer's followees' posts, newest
``feed_max`` kept. Most authors' posts are pushed into it; a celebrity's (an author
with more than ``celebrity_threshold`` followers) stay in the author's recent posts
and are merged in at read time. The verbs, in matching pairs:

- ``publish`` / ``unpublish``: a post joins or leaves its author's recent posts (what
  follows backfill, rebuilds read and celebrity merges show); a celebrity's new post
  is announced to the followers watching live.
- ``push`` / ``unpush``: a post into or out of a page of followers' timelines. Only
  where a reader will see it: a timeline not built is left to the read that builds
  it; a follower not seen for ``inactive_days`` loses theirs (rebuilt when they are
  back); a live subscriber hears of it, once.
- ``merge`` / ``unmerge``: a follow backfills the followee's recent posts (or, for a
  celebrity, merges them at read time); an unfollow takes them out.
- ``pull`` / ``unpull``: an author crossed the celebrity threshold, up (followers
  merge them at read time from now on) or down (pushed again; what was merged so far
  is backfilled).
- ``populate`` / ``clear``: a reader's timeline built from the follow graph and the
  authors' recent posts when missing (new, or dropped while quiet); cleared when
  their follows change wholesale (a bulk import), to be populated on the next read.
- trim: every write keeps the newest ``feed_max`` (in the store's commands).
- ``page``: a page after a cursor, celebrities merged in, checked against whom the
  viewer follows now (so an entry left by a fan-out that crossed an unfollow is
  never shown).
- ``watch``: post ids as they reach the viewer's feed, while they watch.

Every verb is idempotent: the events and jobs that call them are delivered at least
once. The pure rules (ordering, paging, trimming) are in feed_svc.entries; the Redis
commands in feed_svc.store.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.entries import Entry, all_read, keep_newest, merged_after, newer_than, quiet_since
from feed_svc.keys import author_live_channel, live_channel
from feed_svc.store import PULLED_CHANGED, FeedStore
from pictor.clients import all_following
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc
from pictor.live import LiveListener

# Extra entries read per page, so a few filtered out rarely cost a second round trip.
PAGE_SLACK = 8
# A live subscription marks the viewer as watching for this long, renewed as it runs.
LIVE_TTL_SECONDS = 60
# How long a watch waits for a message before it looks at its renewal again.
LIVE_WAIT_SECONDS = 5.0


def now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class Standing:
    """Whether an author is pulled (a celebrity) rather than pushed, by their follower
    count now, and whether that differs from their flag (a crossing of the threshold
    not yet acted on: the flag is set only once every follower's job is sent)."""

    celebrity: bool
    crossed: bool


class HomeTimelines:
    def __init__(
        self,
        store: FeedStore,
        graph: graph_pb2_grpc.GraphServiceStub,
        authors: AuthorPosts,
        settings: FeedSettings,
    ) -> None:
        self._store = store
        self._graph = graph
        self._authors = authors
        self._settings = settings

    # ------------------------------------------------------------ a post

    async def standing(self, author: int) -> Standing:
        """The author's standing from their follower count now."""
        celebrity = await self._celebrity_now(author)
        return Standing(celebrity, crossed=await self._store.is_celebrity(author) != celebrity)

    async def flag(self, author: int, celebrity: bool) -> None:
        """Records the author's standing once every follower's crossing job is sent."""
        await self._store.mark_celebrity(author, celebrity)

    async def publish(self, entry: Entry, celebrity: bool) -> None:
        await self._authors.add(entry, announce=celebrity)

    async def unpublish(self, entry: Entry) -> None:
        await self._authors.remove(entry)

    async def push(self, entry: Entry, followers: Sequence[int]) -> None:
        since = quiet_since(now_ms(), self._settings.inactive_days)
        await self._store.push(entry, followers, since, self._settings.feed_max)

    async def unpush(self, entry: Entry, followers: Sequence[int]) -> None:
        await self._store.unpush(entry, followers)

    # ------------------------------------------------------------ a follow

    async def merge(self, viewer: int, author: int, celebrity: bool) -> None:
        await self._store.add_followees(viewer, [author], built=False)
        if celebrity:
            await self._store.set_pulled(author, [viewer], merged=True)
        else:
            await self._backfill(viewer, author)

    async def unmerge(self, viewer: int, author: int) -> None:
        recent = (await self._authors.recent([author], self._authors.keep))[author]
        await self._store.drop_author(viewer, author, [entry.member for entry in recent])

    # ------------------------------------------------------------ a crossing

    async def restate(self, author: int, followers: Sequence[int]) -> None:
        """Pulls or unpulls the author for the followers by their standing now, not by
        the crossing that sent this job: jobs of crossings back and forth may run in
        any order (a retry after an outage runs late), and the last to run must leave
        the truth."""
        if await self._celebrity_now(author):
            await self.pull(author, followers)
        else:
            await self.unpull(author, followers)

    async def pull(self, author: int, followers: Sequence[int]) -> None:
        await self._store.set_pulled(author, followers, merged=True)

    async def unpull(self, author: int, followers: Sequence[int]) -> None:
        await self._store.set_pulled(author, followers, merged=False)
        for follower in followers:
            await self._backfill(follower, author)

    async def _celebrity_now(self, author: int) -> bool:
        """Whether the author has more followers than the threshold, by graph_svc."""
        response = await self._graph.BatchGetUsers(
            graph_pb2.BatchGetUsersRequest(user_ids=[author])
        )
        followers = response.users[0].follower_count if response.users else 0
        return followers > self._settings.celebrity_threshold

    async def _backfill(self, viewer: int, author: int) -> None:
        """The author's recent posts into a built timeline; into a full one only those
        newer than its oldest entry."""
        try:
            floor = await self._store.timeline_floor(viewer, self._settings.feed_max)
        except LookupError:
            return  # not built: the next read builds it, this author included
        recent = (await self._authors.recent([author], self._authors.keep))[author]
        if floor is not None:
            recent = newer_than(recent, floor)
        await self._store.add_to_timeline(viewer, recent, self._settings.feed_max)

    # ------------------------------------------------------------ a reader

    async def populate(self, viewer: int) -> None:
        """Marks the viewer seen and builds what a reader needs that is missing: whom
        they follow, and their timeline (new, or dropped while they were quiet)."""
        following_built, feed_built = await self._store.seen(viewer, now_ms())
        if not following_built:
            await self._copy_following(viewer)
        if not feed_built:
            await self._rebuild(viewer)

    async def clear(self, viewer: int) -> None:
        await self._store.clear(viewer)

    async def _copy_following(self, viewer: int) -> None:
        """Copies whom the viewer follows from graph_svc. Only adds: follow events
        that land meanwhile have already written the truth they read."""
        followees = await all_following(self._graph, viewer)
        await self._store.add_followees(viewer, followees, built=True)

    async def _rebuild(self, viewer: int) -> None:
        """The timeline from the followees' recent posts; celebrities merged instead."""
        followees = await self._store.followees(viewer)
        celebrities = await self._store.celebrities_among(followees)
        pushed = [author for author in followees if author not in celebrities]
        recent = await self._authors.recent(pushed, self._authors.keep)
        newest = keep_newest(
            (e for posts in recent.values() for e in posts), self._settings.feed_max
        )
        await self._store.fill_timeline(
            viewer, newest, sorted(celebrities), self._settings.feed_max
        )

    async def page(self, viewer: int, limit: int, after: Entry | None) -> tuple[list[Entry], bool]:
        """Up to ``limit`` entries strictly after ``after``, newest first, and whether
        more may follow."""
        await self.populate(viewer)
        window = limit + PAGE_SLACK
        while True:
            shown, exhausted = await self._candidates(viewer, window, after)
            if len(shown) > limit or exhausted:
                return shown[:limit], len(shown) > limit
            window *= 4

    async def _candidates(
        self, viewer: int, window: int, after: Entry | None
    ) -> tuple[list[Entry], bool]:
        """Up to ``window`` entries of each source after ``after``, merged, followed
        authors only; and whether every source was read to its end."""
        top = after.score if after is not None else None
        pushed, pulled_authors = await self._store.timeline_and_pulled(viewer, top, window)
        pulled = await self._authors.recent(pulled_authors, window, top)
        sources = [pushed, *pulled.values()]
        merged = merged_after(sources, after)
        followed = await self._store.followed_among(viewer, sorted({e.author_id for e in merged}))
        return [entry for entry in merged if entry.author_id in followed], all_read(sources, window)

    async def watch(self, viewer: int) -> AsyncIterator[int]:
        """Post ids as they reach the viewer's feed, until the caller stops.

        Listening starts before the viewer is marked live, and they are marked live
        before their timeline is built and their celebrities read: so no push, and no
        change of whom they merge, falls between the cracks."""
        listener = self._store.listener()
        try:
            await listener.listen([live_channel(viewer)])
            renewed = time.monotonic()
            await self._store.watching(viewer, LIVE_TTL_SECONDS, now_ms())
            await self.populate(viewer)
            await self._listen_to_pulled(listener, viewer)
            while True:
                if time.monotonic() - renewed > LIVE_TTL_SECONDS / 3:
                    await self._store.watching(viewer, LIVE_TTL_SECONDS, now_ms())
                    renewed = time.monotonic()
                data = await listener.next(LIVE_WAIT_SECONDS)
                if data == PULLED_CHANGED:
                    await self._listen_to_pulled(listener, viewer)
                elif data is not None:
                    yield int(data)
        finally:
            await listener.aclose()

    async def _listen_to_pulled(self, listener: LiveListener, viewer: int) -> None:
        """Listens to the celebrities the viewer merges now, and to no others."""
        wanted = {author_live_channel(author) for author in await self._store.pulled(viewer)}
        others = listener.channels - wanted - {live_channel(viewer)}
        await listener.listen(sorted(wanted))
        await listener.stop_listening(sorted(others))
