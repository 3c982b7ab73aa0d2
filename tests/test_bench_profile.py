"""The profiler behind ``python -m bench --profile``: how it reads py-spy's collapsed
stacks, and that it really samples the test stack's processes while a scenario runs."""

from __future__ import annotations

from pathlib import Path

from bench.profile import Frame, Profiler, read_stacks, summarize
from bench.run import BenchRun
from bench.scenarios import run_scenarios
from bench.scenarios.feed_read import PROFILED
from bench.target import Target

STACKS = """\
<module> (gateway/__main__.py:1);main (pictor/service.py:10);handle (gateway/app.py:5);execute (graphql/execution/execute.py:1) 6
<module> (gateway/__main__.py:1);main (pictor/service.py:10);handle (gateway/app.py:5);sign (media_svc/signing.py:3) 3
<module> (gateway/__main__.py:1);main (pictor/service.py:10);select (selectors.py:451);0x7f00 (libc.so.6) 1
"""


def test_a_frame_is_named_by_its_path_and_function() -> None:
    frame = Frame.parse("Executor.run (strawberry/schema/execute.py:120)")
    assert (str(frame), frame.package, frame.ours) == (
        "strawberry/schema/execute.py:Executor.run",
        "strawberry",
        False,
    )
    assert Frame.parse("handle (gateway/app.py:5)").ours
    assert Frame.parse("ProtoStub (pictor/feed/v1/feed_pb2.py:1)").ours is False
    native = Frame.parse("vips_sink_disc (libvips.so.42)")
    assert (native.native, native.package) == (True, "libvips.so.42")


def test_shares_count_each_sample_once_per_function_and_by_innermost_package(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stacks.txt"
    path.write_text(STACKS)

    summary = summarize(read_stacks(path), "gateway", "label", str(path))

    assert summary.samples == 10
    assert dict(summary.by_package) == {"graphql": 0.6, "media_svc": 0.3, "libc.so.6": 0.1}
    # The entry points are on every stack, telling nothing.
    assert dict(summary.by_function) == {
        "gateway/app.py:handle": 0.9,
        "media_svc/signing.py:sign": 0.3,
    }
    assert dict(summary.by_innermost) == {
        "gateway/app.py:handle": 0.6,
        "media_svc/signing.py:sign": 0.3,
        "(none of ours)": 0.1,
    }


def test_a_focus_takes_shares_of_the_samples_inside_one_function(tmp_path: Path) -> None:
    path = tmp_path / "stacks.txt"
    path.write_text(STACKS)

    summary = summarize(read_stacks(path), "gateway", "label", str(path), focus="app.py:handle")

    assert summary.samples == 9
    assert dict(summary.by_function) == {
        "gateway/app.py:handle": 1.0,
        "media_svc/signing.py:sign": 3 / 9,
    }


def files_in(folder: Path) -> set[str]:
    return {str(path) for path in folder.iterdir()}


async def test_profiling_samples_the_processes_a_feed_read_goes_through(
    target: Target, tmp_path: Path
) -> None:
    profiler = Profiler(tmp_path)
    profiler.check()

    await run_scenarios(
        BenchRun(target, smoke=True, say=lambda _: None, profiler=profiler), ["feed_read"]
    )

    assert {summary.process for summary in profiler.summaries} == set(PROFILED)
    assert {summary.path for summary in profiler.summaries} == files_in(tmp_path)
    (gateway,) = [summary for summary in profiler.summaries if summary.process == "gateway"]
    # The gateway resolves every field of every read: it cannot have gone unsampled.
    assert gateway.samples > 0
    assert any(name.startswith("gateway/") for name, _ in gateway.by_function)
