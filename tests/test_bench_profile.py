"""The profiles behind ``python -m bench --profile``: py-spy really samples the test
stack's processes while a scenario runs, and its output is kept for each of them."""

from __future__ import annotations

from pathlib import Path

from bench.home_feed import PROFILED
from bench.profile import Profiler
from bench.run import BenchRun
from bench.scenarios import run_scenarios
from bench.target import Target


def files_in(folder: Path) -> set[Path]:
    return set(folder.iterdir())


async def test_profiling_samples_the_processes_a_feed_read_goes_through(
    target: Target, tmp_path: Path
) -> None:
    profiler = Profiler(tmp_path)
    profiler.check()

    await run_scenarios(
        BenchRun(target, smoke=True, say=lambda _: None, profiler=profiler), ["feed_read"]
    )

    assert {profile.process for profile in profiler.profiles} == set(PROFILED)
    assert {profile.path for profile in profiler.profiles} == files_in(tmp_path)
    (gateway,) = [profile for profile in profiler.profiles if profile.process == "gateway"]
    # The gateway resolves every field of every read: it cannot have gone unsampled.
    assert gateway.samples > 0
    assert "(gateway/" in gateway.path.read_text()
    assert gateway.label in profiler.report()
