"""``python -m pictor.replay STREAM [DEAD_ID ...]``: puts dead-lettered messages of a
stream (all of them, or the named ones) back on the stream, once the handler that
kept failing on them is fixed. Prints each new message id."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence

from pictor.config import Settings
from pictor.consumer import replay_dead
from pictor.redis_client import open_redis


async def _replay(stream: str, message_ids: Sequence[str]) -> list[str]:
    client = open_redis(Settings())
    try:
        return await replay_dead(client, stream, message_ids)
    finally:
        await client.aclose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pictor.replay", description=__doc__)
    parser.add_argument("stream", help="the stream, e.g. events:post.published")
    parser.add_argument("ids", nargs="*", help="dead-letter ids to replay (default: all)")
    args = parser.parse_args(argv)
    for new_id in asyncio.run(_replay(args.stream, args.ids)):
        print(new_id)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
