"""The scenarios, by name, in the order a full run takes them.

A scenario is a module with ``NAME`` and ``async def run(bench: BenchRun) ->
list[Figure]``; add one by writing the module and listing it here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from bench.report import Figure
from bench.run import BenchRun
from bench.scenarios import (
    cluster,
    create_post,
    fanout,
    feed_read,
    feed_throughput,
    follows,
    gateway_overhead,
    growth,
    likes,
    pipeline,
    soak,
    upload_memory,
)

Scenario = Callable[[BenchRun], Awaitable[list[Figure]]]

SCENARIOS: dict[str, Scenario] = {
    module.NAME: module.run
    for module in (
        follows,
        create_post,
        gateway_overhead,
        pipeline,
        upload_memory,
        fanout,
        feed_read,
        feed_throughput,
        growth,
        likes,
        soak,
        cluster,
    )
}


async def run_scenarios(bench: BenchRun, names: Sequence[str] = ()) -> list[Figure]:
    """Runs the named scenarios (all when none are named) one after another."""
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        raise ValueError(f"no such scenario: {', '.join(unknown)}; have {', '.join(SCENARIOS)}")
    figures: list[Figure] = []
    for name in names or SCENARIOS:
        figures += await SCENARIOS[name](bench)
    return figures
