"""Reading a home timeline: one pipelined read of the viewer's keys, the celebrities'
recent posts merged in, and everything checked against whom the viewer follows now.

A timeline that does not exist (a new reader, or one dropped after inactivity) is
rebuilt from the follow graph and the authors' recent posts before the first page is
served, so that page is already right. The check against the viewer's current
followees means an entry left behind by a race (a fan-out that crossed an unfollow) is
never shown; hydration in the gateway drops posts deleted meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as redis

from feed_svc.authors import AuthorPosts
from feed_svc.config import FeedSettings
from feed_svc.store import (
    CELEBRITIES,
    Entry,
    add_entries,
    entries,
    feed_built_key,
    feed_key,
    following_built_key,
    following_key,
    last_seen_key,
    live_key,
    pulled_key,
)
from pictor.common.v1 import common_pb2
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc

# Extra entries read per page, so a few filtered out rarely cost a second round trip.
_SLACK = 8
# graph_svc's largest page.
_FOLLOWING_PAGE = 100


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class Timelines:
    def __init__(
        self,
        client: redis.Redis,
        graph: graph_pb2_grpc.GraphServiceStub,
        authors: AuthorPosts,
        settings: FeedSettings,
    ) -> None:
        self._redis = client
        self._graph = graph
        self._authors = authors
        self._settings = settings

    async def page(self, viewer: int, limit: int, after: Entry | None) -> tuple[list[Entry], bool]:
        """Up to ``limit`` entries strictly after ``after``, newest first, and whether
        more may follow."""
        await self.prepare(viewer)
        window = limit + _SLACK
        while True:
            shown, exhausted = await self._candidates(viewer, window, after)
            if len(shown) > limit or exhausted:
                return shown[:limit], len(shown) > limit
            window *= 4

    async def prepare(self, viewer: int) -> None:
        """Marks the viewer active and builds what a reader needs that is missing: whom
        they follow, and their timeline (new, or dropped while they were quiet)."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(last_seen_key(viewer), now_ms())
            pipe.exists(following_built_key(viewer))
            pipe.exists(feed_built_key(viewer))
            _, following_built, feed_built = await pipe.execute()
        if not following_built:
            await self.build_following(viewer)
        if not feed_built:
            await self.rebuild(viewer)

    async def watching(self, viewer: int, for_seconds: int) -> None:
        """Marks the viewer as watching live, and so active, for ``for_seconds``: pushes
        keep their timeline and tell them of each post."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(live_key(viewer), 1, ex=for_seconds)
            pipe.set(last_seen_key(viewer), now_ms())
            await pipe.execute()

    async def pulled_authors(self, viewer: int) -> list[int]:
        """The celebrities the viewer follows: their posts are merged, not pushed."""
        return sorted(int(member) for member in await self._redis.smembers(pulled_key(viewer)))

    async def _candidates(
        self, viewer: int, window: int, after: Entry | None
    ) -> tuple[list[Entry], bool]:
        top = after.score if after is not None else "+inf"
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.zrange(
                feed_key(viewer), top, "-inf", byscore=True, desc=True, offset=0, num=window
            )
            pipe.smembers(pulled_key(viewer))
            pushed_members, pulled_members = await pipe.execute()
        pushed = entries(pushed_members)
        pulled_authors = sorted(int(member) for member in pulled_members)
        pulled = await self._authors.recent(
            pulled_authors, window, after.score if after is not None else None
        )
        sources = [pushed, *pulled.values()]
        exhausted = all(len(source) < window for source in sources)

        merged = sorted({entry for source in sources for entry in source}, reverse=True)
        if after is not None:
            merged = [entry for entry in merged if entry < after]
        return await self._followed_only(viewer, merged), exhausted

    async def _followed_only(self, viewer: int, candidates: list[Entry]) -> list[Entry]:
        authors = sorted({entry.author_id for entry in candidates})
        if not authors:
            return []
        followed = await self._redis.smismember(following_key(viewer), authors)
        current = {author for author, yes in zip(authors, followed, strict=True) if yes}
        return [entry for entry in candidates if entry.author_id in current]

    async def build_following(self, viewer: int) -> None:
        """Copies whom the viewer follows from graph_svc. Only adds: follow events
        that land meanwhile have already written the truth they read."""
        followees: list[int] = []
        token = ""
        while True:
            response = await self._graph.ListFollowing(
                graph_pb2.ListFollowingRequest(
                    user_id=viewer,
                    page=common_pb2.PageRequest(page_size=_FOLLOWING_PAGE, page_token=token),
                )
            )
            followees += [edge.user_id for edge in response.edges]
            token = response.page.next_page_token
            if not token:
                break
        async with self._redis.pipeline(transaction=False) as pipe:
            if followees:
                pipe.sadd(following_key(viewer), *followees)
            pipe.set(following_built_key(viewer), 1)
            await pipe.execute()

    async def rebuild(self, viewer: int) -> None:
        """Fills the timeline from the followees' recent posts; celebrities are marked
        to be merged at read time instead."""
        followees = sorted(int(m) for m in await self._redis.smembers(following_key(viewer)))
        celebrity_flags = await self._redis.smismember(CELEBRITIES, followees) if followees else []
        celebrities = [a for a, yes in zip(followees, celebrity_flags, strict=True) if yes]
        pushed_authors = [a for a, yes in zip(followees, celebrity_flags, strict=True) if not yes]
        recent = await self._authors.recent(pushed_authors, self._authors.keep)
        newest = sorted((e for posts in recent.values() for e in posts), reverse=True)
        async with self._redis.pipeline(transaction=False) as pipe:
            add_entries(
                pipe, feed_key(viewer), newest[: self._settings.feed_max], self._settings.feed_max
            )
            if celebrities:
                pipe.sadd(pulled_key(viewer), *celebrities)
            pipe.set(feed_built_key(viewer), 1)
            await pipe.execute()

    async def backfill(self, viewer: int, author: int) -> None:
        """A new followee's recent posts, up to a quarter of the cap; into a full
        timeline only those newer than its oldest entry."""
        if not await self._redis.exists(feed_built_key(viewer)):
            return  # rebuilt on the next read, followee included
        recent = (await self._authors.recent([author], self._authors.keep))[author]
        key = feed_key(viewer)
        if await self._redis.zcard(key) >= self._settings.feed_max:
            oldest = await self._redis.zrange(key, 0, 0, withscores=True)
            floor = oldest[0][1] if oldest else float("-inf")
            recent = [entry for entry in recent if entry.score > floor]
        async with self._redis.pipeline(transaction=False) as pipe:
            add_entries(pipe, key, recent, self._settings.feed_max)
            await pipe.execute()

    async def invalidate(self, viewer: int) -> None:
        """Drops everything derived from whom the viewer follows; the next read
        rebuilds it from graph_svc (after a bulk import of their follows)."""
        await self._redis.delete(
            following_key(viewer),
            following_built_key(viewer),
            pulled_key(viewer),
            feed_key(viewer),
            feed_built_key(viewer),
        )

    async def forget_author(self, viewer: int, author: int, posts: Sequence[Entry]) -> None:
        """After an unfollow: the author's posts leave the timeline."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.srem(following_key(viewer), author)
            pipe.srem(pulled_key(viewer), author)
            if posts:
                pipe.zrem(feed_key(viewer), *(entry.member for entry in posts))
            await pipe.execute()
