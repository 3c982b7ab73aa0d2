"""Lua scripts, sent by their SHA1 (EVALSHA) rather than whole on every call.

Redis keeps loaded scripts per server, and forgets them on a restart; on a Redis
Cluster each node keeps its own, so a new primary (a failover, a node added) lacks
what the old one had. A call there answers NOSCRIPT, having run nothing: the scripts
are loaded (SCRIPT LOAD goes to every primary of a cluster) and the call is sent
again. EVALSHA is routed by its keys like any keyed command, so on a cluster a
script runs on the node that owns its keys' slot: every script here touches the keys
of one hash tag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from redis.asyncio.client import Pipeline
from redis.asyncio.cluster import ClusterPipeline
from redis.exceptions import NoScriptError
from redis.typing import EncodableT

from pictor.redis_client import RedisClient

# A pipeline of either client; never a transaction (on a cluster it may span nodes).
Pipe = Pipeline | ClusterPipeline
Reply = TypeVar("Reply")


@dataclass(frozen=True)
class Script:
    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())

    def _command(self, keys: Sequence[str], args: Sequence[EncodableT]) -> list[EncodableT]:
        return ["EVALSHA", self.sha, len(keys), *keys, *args]

    async def run(
        self, client: RedisClient, keys: Sequence[str], args: Sequence[EncodableT] = ()
    ) -> Any:
        """Runs the script once, and returns its reply."""
        command = self._command(keys, args)
        return await _loading(client, [self], lambda: client.execute_command(*command))

    def queue(self, pipe: Pipe, keys: Sequence[str], args: Sequence[EncodableT] = ()) -> None:
        # As a raw command: redis-py's cluster pipeline refuses its evalsha method,
        # though it routes EVALSHA by its keys like any keyed command.
        pipe.execute_command(*self._command(keys, args))


async def pipelined(
    client: RedisClient, queue: Callable[[Pipe], None], scripts: Sequence[Script]
) -> list[Any]:
    """Runs the commands ``queue`` puts in a pipeline (never a transaction), among
    them any of ``scripts``. A NOSCRIPT runs the whole pipeline again: every command
    queued must be one that a repeat leaves alone."""

    async def execute() -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            queue(pipe)
            return list(await pipe.execute())

    return await _loading(client, scripts, execute)


async def _loading(
    client: RedisClient, scripts: Sequence[Script], send: Callable[[], Awaitable[Reply]]
) -> Reply:
    """What ``send`` answers; on NOSCRIPT, sent again once ``scripts`` are loaded."""
    try:
        return await send()
    except NoScriptError:
        for script in scripts:
            await client.script_load(script.source)
        return await send()
