"""Work that many callers ask for at once, run once for them all: each caller returns
after a run (for its key) that started after it asked; callers arriving while a run is
under way share the next one. A burst of asks becomes a few runs, never a stale one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


@dataclass
class _Run(Generic[V]):
    value: V
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


def _first(kept: V, asked: V) -> V:
    return kept


class Coalesced(Generic[K, V]):
    """``run(key, value)`` coalesced per key: the callers that share a run give it one
    value, ``merge``d from theirs (the first one's, unless said otherwise)."""

    def __init__(
        self, run: Callable[[K, V], Awaitable[None]], merge: Callable[[V, V], V] = _first
    ) -> None:
        self._run = run
        self._merge = merge
        self._queued: dict[K, _Run[V]] = {}
        self._running: set[K] = set()
        # The loop keeps only weak references to tasks: these keep the runs alive.
        self._drivers: set[asyncio.Task[None]] = set()

    async def __call__(self, key: K, value: V) -> None:
        run = self._queued.get(key)
        if run is None:
            run = self._queued[key] = _Run(value)
        else:
            run.value = self._merge(run.value, value)
        if key not in self._running:
            self._running.add(key)
            driver = asyncio.get_running_loop().create_task(self._drive(key))
            self._drivers.add(driver)
            driver.add_done_callback(self._drivers.discard)
        await asyncio.shield(run.done)

    async def _drive(self, key: K) -> None:
        try:
            while (run := self._queued.pop(key, None)) is not None:
                try:
                    await self._run(key, run.value)
                except Exception as error:
                    run.done.set_exception(error)
                else:
                    run.done.set_result(None)
        finally:
            self._running.discard(key)
