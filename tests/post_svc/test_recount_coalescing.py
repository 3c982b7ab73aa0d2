"""Coalesced recounts (pictor.coalescing, as post_svc.settling uses it), pure logic: whoever asks while a recount
runs is answered by the next one, which starts after them all and carries the newest
version asked for; different posts do not wait for each other."""

from __future__ import annotations

import asyncio

from pictor.coalescing import Coalesced
from post_svc.engagement import newer_version


class Recounts:
    """Records each run, and holds it until released."""

    def __init__(self) -> None:
        self.runs: list[tuple[int, str]] = []
        self.release = asyncio.Event()
        self.started = asyncio.Event()
        self.fail = False

    async def __call__(self, post_id: int, version: str) -> None:
        self.runs.append((post_id, version))
        self.started.set()
        await self.release.wait()
        if self.fail:
            raise RuntimeError("CQL unavailable")


async def test_askers_during_a_run_share_the_next_run_with_the_newest_version() -> None:
    recounts = Recounts()
    recount = Coalesced(recounts, newer_version)
    first = asyncio.create_task(recount(7, "100-0"))
    await recounts.started.wait()
    waiting = [asyncio.create_task(recount(7, version)) for version in ("102-0", "101-5", "102-1")]
    await asyncio.sleep(0)  # they queue behind the run in flight
    assert not any(task.done() for task in waiting)

    recounts.release.set()
    await asyncio.gather(first, *waiting)
    assert recounts.runs == [(7, "100-0"), (7, "102-1")]


async def test_posts_are_recounted_apart_and_a_failure_reaches_every_asker() -> None:
    recounts = Recounts()
    recount = Coalesced(recounts, newer_version)
    asked = [asyncio.create_task(recount(post_id, "5-0")) for post_id in (1, 2, 1)]
    await recounts.started.wait()
    recounts.fail = True
    recounts.release.set()
    results = await asyncio.gather(*asked, return_exceptions=True)
    assert [type(result) for result in results] == [RuntimeError] * 3
    # The second ask for post 1 came before its run started, so it shares that run.
    assert sorted(recounts.runs) == [(1, "5-0"), (2, "5-0")]

    recounts.fail = False
    await recount(1, "6-0")  # a failed run leaves nothing behind that blocks the next
    assert recounts.runs[-1] == (1, "6-0")
