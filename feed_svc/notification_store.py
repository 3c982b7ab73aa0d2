"""Notification feeds in Redis: the commands and scripts (changing them atomically) on
the notification keys of feed_svc.keys. The policy, which event adds or withdraws
what, is feed_svc.notifications'.

Every key and channel of one recipient carries the recipient's id as hash tag
(``notifications:{42}``), so each script runs on one Redis Cluster slot:

- the feed: a sorted set of notification names (``like:<post>``,
  ``comment:<post>:<comment>``, ``follow:<actor>``) scored by their newest actor's
  time (ms), the newest ``keep`` kept;
- per notification, its actors (a sorted set, actor -> when they acted) and the
  actors who withdrew (a hash, actor -> when), kept a while after the withdrawal so a
  late or repeated event cannot bring back what was withdrawn: each (notification,
  actor) is a last-writer-wins register ordered by the event's time, a withdrawal
  winning a tie;
- the unread names (a set); the posts deleted lately (so a late like of a deleted
  post adds nothing); and a sharded pub/sub channel announcing added notifications.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from feed_svc.keys import (
    notification_actors_key,
    notification_withdrawn_key,
    notifications_deleted_posts_key,
    notifications_key,
    notifications_live_channel,
    notifications_unread_key,
)
from pictor.redis_client import RedisClient
from pictor.scripts import Script

# How long a withdrawal is remembered: far beyond any redelivery of the event it undid.
WITHDRAWN_TTL_SECONDS = 7 * 24 * 3600
# Deleted posts remembered per recipient.
DELETED_POSTS_KEPT = 1000

# What ZRANGE ... WITHSCORES answers.
Scored = list[tuple[bytes, float]]


# An actor joins a notification, unless they withdrew at or after this event's time, or
# the post is deleted. The notification takes its newest actor's time; a new actor
# marks it unread and announces it (unless trimmed at once: an old event replayed).
# Trimmed notifications lose their actors.
# KEYS: feed, unread, actors, withdrawn, deleted posts, channel.
# ARGV: name, actor, at (ms), keep, post id (0: none), actors key prefix.
_ADD = Script("""
if ARGV[5] ~= '0' and redis.call('ZSCORE', KEYS[5], ARGV[5]) then return 0 end
local at = tonumber(ARGV[3])
local withdrawn = tonumber(redis.call('HGET', KEYS[4], ARGV[2]))
if withdrawn and withdrawn >= at then return 0 end
local had = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[2]))
if had and had >= at then return 0 end
redis.call('ZADD', KEYS[3], at, ARGV[2])
local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')
redis.call('ZADD', KEYS[1], newest[2], ARGV[1])
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -(tonumber(ARGV[4]) + 1))) do
  redis.call('ZREM', KEYS[1], name)
  redis.call('SREM', KEYS[2], name)
  redis.call('DEL', ARGV[6] .. name)
end
if had or not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('SPUBLISH', KEYS[6], ARGV[1])
return 1
""")

# An actor withdraws from a notification (unless they acted again after this event):
# remembered, then dropped; the notification takes its newest remaining actor's time,
# or goes when none is left.
# KEYS: feed, unread, actors, withdrawn. ARGV: name, actor, at (ms), remembered for (s).
_WITHDRAW = Script("""
local at = tonumber(ARGV[3])
local had = tonumber(redis.call('ZSCORE', KEYS[3], ARGV[2]))
if had and had > at then return 0 end
local withdrawn = tonumber(redis.call('HGET', KEYS[4], ARGV[2]))
if not withdrawn or withdrawn < at then
  redis.call('HSET', KEYS[4], ARGV[2], at)
  redis.call('EXPIRE', KEYS[4], ARGV[4])
end
if not had then return 0 end
redis.call('ZREM', KEYS[3], ARGV[2])
local newest = redis.call('ZREVRANGE', KEYS[3], 0, 0, 'WITHSCORES')
if #newest == 0 then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('SREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[1], 'XX', newest[2], ARGV[1])
end
return 1
""")

# A post deleted: remembered, and every notification about it goes.
# KEYS: feed, unread, deleted posts. ARGV: post id, now (ms), kept, actors key prefix.
_FORGET_POST = Script("""
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -(tonumber(ARGV[3]) + 1))
local like, comments = 'like:' .. ARGV[1], 'comment:' .. ARGV[1] .. ':'
for _, name in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if name == like or string.sub(name, 1, #comments) == comments then
    redis.call('ZREM', KEYS[1], name)
    redis.call('SREM', KEYS[2], name)
    redis.call('DEL', ARGV[4] .. name)
  end
end
""")

# Every unread notification read; how many there were.
# KEYS: unread.
_MARK_READ = Script("""
local count = redis.call('SCARD', KEYS[1])
redis.call('DEL', KEYS[1])
return count
""")


@dataclass(frozen=True)
class Stored:
    """One notification as stored: its name, newest actor and their time, how many
    actors it has, and whether it is unread."""

    name: str
    actor_id: int
    at_ms: int
    actor_count: int
    unread: bool


class NotificationStore:
    def __init__(self, client: RedisClient) -> None:
        self._redis = client

    async def add(
        self, recipient: int, name: str, actor: int, at_ms: int, post_id: int, keep: int
    ) -> bool:
        """True if the actor is new to the notification (and it was kept)."""
        keys = (
            notifications_key(recipient),
            notifications_unread_key(recipient),
            notification_actors_key(recipient, name),
            notification_withdrawn_key(recipient, name),
            notifications_deleted_posts_key(recipient),
            notifications_live_channel(recipient),
        )
        args = (name, actor, at_ms, keep, post_id, notification_actors_key(recipient, ""))
        return bool(await _ADD.run(self._redis, keys, args))

    async def withdraw(self, recipient: int, name: str, actor: int, at_ms: int) -> bool:
        keys = (
            notifications_key(recipient),
            notifications_unread_key(recipient),
            notification_actors_key(recipient, name),
            notification_withdrawn_key(recipient, name),
        )
        args = (name, actor, at_ms, WITHDRAWN_TTL_SECONDS)
        return bool(await _WITHDRAW.run(self._redis, keys, args))

    async def forget_post(self, recipient: int, post_id: int, now_ms: int) -> None:
        keys = (
            notifications_key(recipient),
            notifications_unread_key(recipient),
            notifications_deleted_posts_key(recipient),
        )
        args = (post_id, now_ms, DELETED_POSTS_KEPT, notification_actors_key(recipient, ""))
        await _FORGET_POST.run(self._redis, keys, args)

    async def mark_read(self, recipient: int) -> int:
        return int(await _MARK_READ.run(self._redis, [notifications_unread_key(recipient)]))

    async def unread_count(self, recipient: int) -> int:
        return int(await self._redis.scard(notifications_unread_key(recipient)))

    async def names(
        self, recipient: int, at_or_before: int | None, count: int
    ) -> list[tuple[str, int]]:
        """Up to ``count`` names scored at or before the bound, newest first, with scores."""
        top: int | str = at_or_before if at_or_before is not None else "+inf"
        found = await self._redis.zrange(
            notifications_key(recipient),
            top,
            "-inf",
            byscore=True,
            desc=True,
            offset=0,
            num=count,
            withscores=True,
        )
        return [(bytes(name).decode(), int(score)) for name, score in cast(Scored, found)]

    async def ties(self, recipient: int, score: int) -> int:
        """How many notifications share this score."""
        return int(await self._redis.zcount(notifications_key(recipient), score, score))

    async def details(self, recipient: int, names: Sequence[str]) -> list[Stored]:
        """The named notifications that still have an actor, in the order asked."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.zrevrange(notification_actors_key(recipient, name), 0, 0, withscores=True)
                pipe.zcard(notification_actors_key(recipient, name))
                pipe.sismember(notifications_unread_key(recipient), name)
            found = await pipe.execute()
        stored = []
        for at, name in enumerate(names):
            newest, count, unread = found[3 * at : 3 * at + 3]
            if newest:
                actor, score = newest[0]
                stored.append(Stored(name, int(actor), int(score), int(count), bool(unread)))
        return stored
