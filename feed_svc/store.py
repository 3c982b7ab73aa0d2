"""feed_svc's Redis: the commands and scripts on the keys of feed_svc.keys (and, in
pictor.live, the subscription to their live channels). The policy, what to write
when, is feed_svc.timeline's; this module only knows how.

It runs unchanged on one Redis server and on a Redis Cluster: every script and every
multi-key command touches the keys of one user or one author (one hash tag, one
slot); pipelines are never transactions, so on a cluster they may span slots and
nodes; live updates go over sharded pub/sub (SPUBLISH / SSUBSCRIBE), whose channels
carry the same hash tag as the keys they go with, so a script can publish beside its
writes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from feed_svc.entries import Entry, entries
from feed_svc.keys import (
    announced_key,
    author_live_channel,
    author_posts_key,
    author_posts_loaded_key,
    celebrity_key,
    feed_built_key,
    feed_key,
    following_built_key,
    following_key,
    last_seen_key,
    live_channel,
    live_key,
    pulled_key,
)
from pictor.live import LiveChannels, LiveListener
from pictor.redis_client import RedisClient
from pictor.scripts import Pipe, Script, pipelined

# What a viewer's live channel carries besides post ids: their merged celebrities
# changed (a follow, an unfollow, a crossing of the threshold), so a watcher listens
# to the right authors from then on.
PULLED_CHANGED = b"pulled"


# One follower's push, atomic. A live subscriber hears of the post whatever happens to
# the timeline (an open subscription means an active reader, and the post is in their
# feed either way: written now, or by the read that builds it), once: the announced
# set remembers what they were told, so a redelivered job tells nothing twice. Then: a
# timeline not built is left alone (the next read builds it, this post included); a
# follower neither watching nor seen since ARGV[3] loses it (rebuilt when they come
# back); otherwise the post goes in and the oldest beyond ARGV[4] go out. Idempotent.
# Against five commands in two round trips, one script cut the feed worker's CPU per
# write from 56 to 17 us (`make bench ARGS=fanout`, 10k followers).
# KEYS: timeline, built flag, last seen, live flag, announced, live channel.
# ARGV: member, score, quiet since (ms), keep, post id.
_PUSH = Script("""
local live = redis.call('PTTL', KEYS[4])
if live ~= -2 then
  if redis.call('ZADD', KEYS[5], ARGV[2], ARGV[1]) == 1 then
    redis.call('ZREMRANGEBYRANK', KEYS[5], 0, -(tonumber(ARGV[4]) + 1))
    if live > 0 then redis.call('PEXPIRE', KEYS[5], live) end
    redis.call('SPUBLISH', KEYS[6], ARGV[5])
  end
end
if redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
if live == -2 then
  local seen = tonumber(redis.call('GET', KEYS[3]))
  if not seen or seen < tonumber(ARGV[3]) then
    redis.call('DEL', KEYS[1], KEYS[2])
    return -1
  end
end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))
return 1
""")

# An author merged into (SADD) or dropped from (SREM) a reader's read-time merge,
# told to the reader's live subscription if one is open and the set changed.
# KEYS: pulled set, live flag, live channel. ARGV: SADD or SREM, author, message.
_PULLED = Script("""
local changed = redis.call(ARGV[1], KEYS[1], ARGV[2])
if changed == 1 and redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('SPUBLISH', KEYS[3], ARGV[3])
end
return changed
""")

# A post into its author's recent posts; a celebrity's (ARGV[4] = 1) is announced to
# the followers watching live, once: only when this call added it.
# KEYS: recent posts, author's live channel. ARGV: member, score, keep, announce, id.
_AUTHOR_POST = Script("""
local added = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[3]) + 1))
if added == 1 and ARGV[4] == '1' then
  redis.call('SPUBLISH', KEYS[2], ARGV[5])
end
return added
""")
_SCRIPTS = (_PUSH, _PULLED, _AUTHOR_POST)


def _add_entries(pipe: Pipe, key: str, items: Sequence[Entry], keep: int) -> None:
    """Adds, then trims to the newest ``keep``."""
    if items:
        pipe.zadd(key, {item.member: item.score for item in items})
        pipe.zremrangebyrank(key, 0, -(keep + 1))


class FeedStore:
    def __init__(self, client: RedisClient) -> None:
        self._redis = client
        # Read under its reading(), which feed_svc.server enters with the service's
        # connections: the watches still open keep hearing through the drain.
        self.live = LiveChannels(client)

    async def _pipelined(self, queue: Callable[[Pipe], None]) -> list[Any]:
        """Runs the commands ``queue`` puts in a pipeline (pictor.scripts.pipelined:
        run again where a node lacked a script; every write here is idempotent)."""
        return await pipelined(self._redis, queue, _SCRIPTS)

    # ------------------------------------------------------------ a reader's keys

    async def seen(self, viewer: int, now_ms: int) -> tuple[bool, bool]:
        """Marks the viewer seen; says whether their followees and timeline are built."""

        def queue(pipe: Pipe) -> None:
            pipe.set(last_seen_key(viewer), now_ms)
            pipe.exists(following_built_key(viewer))
            pipe.exists(feed_built_key(viewer))

        _, following_built, feed_built = await self._pipelined(queue)
        return bool(following_built), bool(feed_built)

    async def watching(self, viewer: int, for_seconds: int, now_ms: int) -> None:
        def queue(pipe: Pipe) -> None:
            pipe.set(live_key(viewer), 1, ex=for_seconds)
            pipe.expire(announced_key(viewer), for_seconds)
            pipe.set(last_seen_key(viewer), now_ms)

        await self._pipelined(queue)

    async def timeline_and_pulled(
        self, viewer: int, at_or_before: float | None, count: int
    ) -> tuple[list[Entry], list[int]]:
        """Up to ``count`` newest timeline entries scored at or before the bound, and
        the celebrities the viewer merges at read time."""
        top: float | str = at_or_before if at_or_before is not None else "+inf"

        def queue(pipe: Pipe) -> None:
            pipe.zrange(feed_key(viewer), top, "-inf", byscore=True, desc=True, offset=0, num=count)
            pipe.smembers(pulled_key(viewer))

        pushed, pulled = await self._pipelined(queue)
        return entries(pushed), sorted(int(member) for member in pulled)

    async def pulled(self, viewer: int) -> list[int]:
        return sorted(int(member) for member in await self._redis.smembers(pulled_key(viewer)))

    async def followed_among(self, viewer: int, authors: Sequence[int]) -> set[int]:
        if not authors:
            return set()
        found = await self._redis.smismember(following_key(viewer), list(authors))
        return {author for author, yes in zip(authors, found, strict=True) if yes}

    async def followees(self, viewer: int) -> list[int]:
        return sorted(int(member) for member in await self._redis.smembers(following_key(viewer)))

    async def add_followees(self, viewer: int, followees: Sequence[int], built: bool) -> None:
        def queue(pipe: Pipe) -> None:
            if followees:
                pipe.sadd(following_key(viewer), *followees)
            if built:
                pipe.set(following_built_key(viewer), 1)

        await self._pipelined(queue)

    async def fill_timeline(
        self, viewer: int, newest: Sequence[Entry], pulled: Sequence[int], keep: int
    ) -> None:
        """A whole timeline, built: its entries and the celebrities merged into it."""

        def queue(pipe: Pipe) -> None:
            _add_entries(pipe, feed_key(viewer), newest, keep)
            for author in pulled:
                self._queue_pulled(pipe, viewer, author, merged=True)
            pipe.set(feed_built_key(viewer), 1)

        await self._pipelined(queue)

    async def timeline_floor(self, viewer: int, keep: int) -> float | None:
        """The timeline's oldest score if it holds ``keep`` entries (a new entry must be
        newer to stay), else None; raises LookupError if it is not built."""

        def queue(pipe: Pipe) -> None:
            pipe.exists(feed_built_key(viewer))
            pipe.zcard(feed_key(viewer))
            pipe.zrange(feed_key(viewer), 0, 0, withscores=True)

        built, size, oldest = await self._pipelined(queue)
        if not built:
            raise LookupError(viewer)
        return float(oldest[0][1]) if size >= keep and oldest else None

    async def add_to_timeline(self, viewer: int, items: Sequence[Entry], keep: int) -> None:
        await self._pipelined(lambda pipe: _add_entries(pipe, feed_key(viewer), items, keep))

    async def drop_author(self, viewer: int, author: int, members: Sequence[str]) -> None:
        """The author leaves whom the viewer follows, merges and sees."""

        def queue(pipe: Pipe) -> None:
            pipe.srem(following_key(viewer), author)
            self._queue_pulled(pipe, viewer, author, merged=False)
            if members:
                pipe.zrem(feed_key(viewer), *members)

        await self._pipelined(queue)

    async def clear(self, viewer: int) -> None:
        """Everything derived from whom the viewer follows (one slot: one DEL)."""
        await self._redis.delete(
            following_key(viewer),
            following_built_key(viewer),
            pulled_key(viewer),
            feed_key(viewer),
            feed_built_key(viewer),
        )

    # ------------------------------------------------------------ a page of followers

    async def push(
        self, entry: Entry, followers: Sequence[int], quiet_since: int, keep: int
    ) -> None:
        """The post into each follower's timeline (see _PUSH), one pipeline for all."""

        def queue(pipe: Pipe) -> None:
            args = (entry.member, entry.score, quiet_since, keep, entry.post_id)
            for f in followers:
                keys = (feed_key(f), feed_built_key(f), last_seen_key(f), live_key(f))
                _PUSH.queue(pipe, (*keys, announced_key(f), live_channel(f)), args)

        await self._pipelined(queue)

    async def unpush(self, entry: Entry, followers: Sequence[int]) -> None:
        def queue(pipe: Pipe) -> None:
            for follower in followers:
                pipe.zrem(feed_key(follower), entry.member)

        await self._pipelined(queue)

    async def set_pulled(self, author: int, followers: Sequence[int], merged: bool) -> None:
        """The author merged into (or dropped from) each follower's read-time merge."""

        def queue(pipe: Pipe) -> None:
            for follower in followers:
                self._queue_pulled(pipe, follower, author, merged)

        await self._pipelined(queue)

    @staticmethod
    def _queue_pulled(pipe: Pipe, viewer: int, author: int, merged: bool) -> None:
        keys = (pulled_key(viewer), live_key(viewer), live_channel(viewer))
        args = ("SADD" if merged else "SREM", author, PULLED_CHANGED.decode())
        _PULLED.queue(pipe, keys, args)

    # ------------------------------------------------------------ an author's keys

    async def add_author_post(self, entry: Entry, keep: int, announce: bool) -> None:
        keys = (author_posts_key(entry.author_id), author_live_channel(entry.author_id))
        args = (entry.member, entry.score, keep, int(announce), entry.post_id)
        await _AUTHOR_POST.run(self._redis, keys, args)

    async def remove_author_post(self, entry: Entry) -> None:
        await self._redis.zrem(author_posts_key(entry.author_id), entry.member)

    async def authors_loaded(self, authors: Sequence[int]) -> list[bool]:
        def queue(pipe: Pipe) -> None:
            for author in authors:
                pipe.exists(author_posts_loaded_key(author))

        return [bool(found) for found in await self._pipelined(queue)]

    async def load_authors(self, posts: dict[int, list[Entry]], keep: int) -> None:
        def queue(pipe: Pipe) -> None:
            for author, found in posts.items():
                _add_entries(pipe, author_posts_key(author), found, keep)
                pipe.set(author_posts_loaded_key(author), 1)

        await self._pipelined(queue)

    async def author_posts(
        self, authors: Sequence[int], at_or_before: float | None, count: int
    ) -> dict[int, list[Entry]]:
        top: float | str = at_or_before if at_or_before is not None else "+inf"

        def queue(pipe: Pipe) -> None:
            for author in authors:
                key = author_posts_key(author)
                pipe.zrange(key, top, "-inf", byscore=True, desc=True, offset=0, num=count)

        found = await self._pipelined(queue)
        return {author: entries(members) for author, members in zip(authors, found, strict=True)}

    async def mark_celebrity(self, author: int, celebrity: bool) -> None:
        """Sets or clears the author's celebrity flag."""
        if celebrity:
            await self._redis.set(celebrity_key(author), 1)
        else:
            await self._redis.delete(celebrity_key(author))

    async def is_celebrity(self, author: int) -> bool:
        return bool(await self._redis.exists(celebrity_key(author)))

    async def celebrities_among(self, authors: Sequence[int]) -> set[int]:
        def queue(pipe: Pipe) -> None:
            for author in authors:
                pipe.exists(celebrity_key(author))

        found = await self._pipelined(queue)
        return {author for author, yes in zip(authors, found, strict=True) if yes}

    # ------------------------------------------------------------ live

    def listener(self) -> LiveListener:
        """A watcher's channels, on the process's one subscription (pictor.live)."""
        return LiveListener(self.live)
