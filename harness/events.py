"""Whether the events sent so far have had all their effects: every consumer group of
the given streams has read up to the stream's last entry and acknowledged everything.

Redis's own ``lag`` of a group can be nil (after a trim or a deletion it cannot tell),
so a group is compared by its last delivered id against the stream's last id.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from feed_svc import keys as feed_keys
from harness.waiting import wait_until
from pictor import events
from pictor.redis_client import RedisClient

# Every stream the feed worker consumes, all read by its one group.
FEED_WORKER_STREAMS = (
    events.POST_PUBLISHED,
    feed_keys.FANOUT_JOBS,
    events.FOLLOW_CHANGED,
    events.FOLLOWS_IMPORTED,
    events.POST_DELETED,
)


def _stream_id(value: bytes | str) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else value
    milliseconds, _, sequence = text.partition("-")
    return int(milliseconds), int(sequence or 0)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def settled(client: RedisClient, streams: Sequence[str], group: str | None = None) -> bool:
    """Whether every group (or only ``group``) of every stream has read and
    acknowledged all of it; a stream not made yet has had nothing sent on it."""
    async with client.pipeline(transaction=False) as pipe:
        for stream in streams:
            pipe.xinfo_stream(stream)
            pipe.xinfo_groups(stream)
        replies = await pipe.execute(raise_on_error=False)
    for stream_info, groups in zip(replies[::2], replies[1::2], strict=True):
        if isinstance(stream_info, ResponseError):
            continue
        newest = _stream_id(stream_info["last-generated-id"])
        for info in groups:
            if group is not None and _text(info["name"]) != group:
                continue
            if info["pending"] or _stream_id(info["last-delivered-id"]) < newest:
                return False
    return True


async def settle(
    client: RedisClient,
    streams: Sequence[str],
    group: str | None = None,
    *,
    within: float = 20.0,
    interval: float = 0.05,
) -> None:
    """Returns once the events on ``streams`` have settled; fails after ``within``."""

    async def quiet() -> bool:
        return await settled(client, streams, group)

    await wait_until(quiet, within=within, interval=interval)


async def settle_feed_worker(
    client: RedisClient, *, within: float = 120.0, interval: float = 0.05
) -> None:
    """Returns once the feed worker has handled every event and fan-out job so far."""
    await settle(
        client, FEED_WORKER_STREAMS, feed_keys.WORKER_GROUP, within=within, interval=interval
    )


async def channel_subscribers(client: RedisClient, channel: str) -> int:
    """Subscribers of a sharded pub/sub channel, asked of the node that serves it (a
    cluster's nodes each count only their own)."""
    where = {}
    if isinstance(client, RedisCluster):
        await client.initialize()  # the slot map, if no command has read it yet
        where["target_nodes"] = client.get_node_from_key(channel)
    counts = dict(await client.pubsub_shardnumsub(channel, **where))
    return int(counts[channel.encode()])
