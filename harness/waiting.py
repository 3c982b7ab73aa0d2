"""Waiting on a condition with a deadline, and running many calls a few at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

A = TypeVar("A")
T = TypeVar("T")


async def wait_until(
    check: Callable[[], Awaitable[T | None]], *, within: float = 10.0, interval: float = 0.05
) -> T:
    """Polls ``check`` until it returns something truthy; fails after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s (last: {result!r})")
        await asyncio.sleep(interval)


async def bounded(
    limit: int, operation: Callable[[A], Awaitable[T]], items: Iterable[A]
) -> list[T]:
    """``operation(item)`` for every item, at most ``limit`` at a time, results in order.

    Each call starts only when a slot is free (a gRPC call starts when it is made, not
    when it is awaited), and only ``limit`` coroutines exist however many items there are.
    """
    todo = list(enumerate(items))
    todo.reverse()
    results: dict[int, T] = {}

    async def worker() -> None:
        while todo:
            index, item = todo.pop()
            results[index] = await operation(item)

    await asyncio.gather(*(worker() for _ in range(min(limit, len(todo)))))
    return [results[index] for index in range(len(results))]
