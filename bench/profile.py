"""Sampling profiles of the stack's processes while a scenario's timed part runs
(``python -m bench --profile``), taken with py-spy from outside the processes: no
service is changed or restarted to be profiled.

A scenario marks the part worth profiling with ``bench.profiler.profiling(...)``; with
``--profile`` a py-spy ``record`` is attached to each named process for that long, and
its collapsed stacks (one ``frame;frame;... count`` line per distinct stack, which
speedscope and flamegraph.pl read) are kept beside the run's results. Without
``--profile`` the context does nothing. py-spy pauses a process for each sample, so
the figures of a profiled run are slower than those of a plain one: profile to find
where the time goes, not to measure how much there is.

The summary of each profile names where the samples were:

- by package: the package of the innermost Python frame (``graphql``, ``grpc``,
  ``strawberry``, ``asyncio``, one of ours...), or the library of a native frame: the
  process's self time by layer;
- by our function, callees included: the share of samples inside each function of this
  repository (the steps of our code, however deep the libraries go below them);
- by our innermost function: each sample charged to the innermost function of ours on
  its stack, with the library code it called; "(none of ours)" is framework code
  (the event loop, graphql-core's executor, gRPC) running outside any of our frames,
  which in async code is most of it: a coroutine's caller is not on its stack.

Entry points (``<module>``, ``pictor/service.py:main``) are on nearly every stack and
say nothing, so they are left out of both.

``focus`` adds a summary of only the samples inside one function
(``path/module.py:name``), as shares of those: the steps of one job rather than of the
whole process. ``idle``
keeps samples of threads that wait, which a thread waiting on libvips' own worker
threads does: with it the shares are of wall time, without it of CPU time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Samples per second of each process; py-spy's default.
RATE = 100
TOP = 8
# This repository's packages: their functions are the steps a profile names.
OURS = ("gateway", "graph_svc", "post_svc", "feed_svc", "media_svc", "pictor", "bench")
ENTRY_POINTS = ("pictor/service.py:main",)
NONE_OF_OURS = "(none of ours)"
_FRAME = re.compile(r"^(?P<name>.*) \((?P<path>[^()]*?)(?::(?P<line>\d+))?\)$")
STOP_SECONDS = 30.0


class ProfilerUnavailable(RuntimeError):
    """py-spy is not installed, or may not attach to the stack's processes."""


def py_spy() -> str | None:
    """The py-spy of this virtualenv (the dev extras pin it), else one on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class Frame:
    name: str
    path: str

    @classmethod
    def parse(cls, text: str) -> Frame:
        found = _FRAME.match(text)
        if found is None:
            return cls(text, "")
        return cls(found["name"], found["path"])

    @property
    def native(self) -> bool:
        return not self.path.endswith(".py")

    @property
    def package(self) -> str:
        """``graphql`` for graphql/execution/execute.py, ``libvips.so.42`` for a native
        frame of that library."""
        if self.native:
            return self.path or "native"
        head = self.path.split("/", 1)[0]
        return head.removesuffix(".py")

    @property
    def ours(self) -> bool:
        """A function of this repository, entry points and generated stubs aside."""
        return (
            not self.native
            and self.package in OURS
            and "_pb2" not in self.path
            and self.name != "<module>"
            and str(self) not in ENTRY_POINTS
        )

    def __str__(self) -> str:
        return f"{self.path}:{self.name}" if self.path else self.name


@dataclass(frozen=True)
class Summary:
    """Where one process's samples were (shares of 0..1)."""

    process: str
    label: str
    samples: int
    by_package: list[tuple[str, float]]
    by_function: list[tuple[str, float]]
    by_innermost: list[tuple[str, float]]
    path: str
    focus: str | None = None
    idle: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "process": self.process,
            "label": self.label,
            "samples": self.samples,
            "focus": self.focus,
            "idle_included": self.idle,
            "by_package": [[name, round(share, 4)] for name, share in self.by_package],
            "by_function": [[name, round(share, 4)] for name, share in self.by_function],
            "by_innermost": [[name, round(share, 4)] for name, share in self.by_innermost],
            "collapsed_stacks": self.path,
        }

    def lines(self) -> list[str]:
        kind = "wall time, every thread" if self.idle else "threads holding the GIL"
        scope = f", inside {self.focus}" if self.focus else ""
        head = f"{self.label} / {self.process}: {self.samples} samples of {kind}{scope}"
        if not self.samples:
            return [head, "  no samples: the process did no work while profiled"]
        return [
            head,
            "  by package (innermost frame): " + _shares(self.by_package),
            "  by our function (callees included):",
            *(f"    {share:6.1%}  {name}" for name, share in self.by_function),
            "  by our innermost function (with the library code it called):",
            *(f"    {share:6.1%}  {name}" for name, share in self.by_innermost),
            f"  stacks: {self.path}",
        ]


def _shares(items: Iterable[tuple[str, float]]) -> str:
    return ", ".join(f"{name} {share:.0%}" for name, share in items)


def read_stacks(path: Path) -> list[tuple[list[Frame], int]]:
    """The collapsed stacks of a py-spy raw file, outermost frame first."""
    stacks = []
    for line in path.read_text().splitlines():
        text, _, count = line.rpartition(" ")
        if text and count.isdigit():
            stacks.append(([Frame.parse(part) for part in text.split(";")], int(count)))
    return stacks


def summarize(
    stacks: Sequence[tuple[list[Frame], int]],
    process: str,
    label: str,
    path: str,
    focus: str | None = None,
    idle: bool = False,
    top: int = TOP,
) -> Summary:
    """Shares by package (of the innermost Python frame, or native library) and by our
    functions (inclusive), of every sample or of those inside ``focus``."""
    if focus is not None:
        stacks = [
            (frames[_index(frames, focus) :], count)
            for frames, count in stacks
            if _index(frames, focus) >= 0
        ]
    total = sum(count for _, count in stacks)
    packages: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    innermost: Counter[str] = Counter()
    for frames, count in stacks:
        packages[frames[-1].package] += count
        ours = [str(frame) for frame in frames if frame.ours]
        for name in set(ours):
            functions[name] += count
        innermost[ours[-1] if ours else NONE_OF_OURS] += count

    def shares(counter: Counter[str]) -> list[tuple[str, float]]:
        return [(name, n / total) for name, n in counter.most_common(top)]

    if not total:
        return Summary(process, label, 0, [], [], [], path, focus, idle)
    return Summary(
        process,
        label,
        total,
        shares(packages),
        shares(functions),
        shares(innermost),
        path,
        focus,
        idle,
    )


def _index(frames: Sequence[Frame], focus: str) -> int:
    """Where the outermost frame ``module.py:name`` (or a path ending so) is, or -1."""
    for index, frame in enumerate(frames):
        if str(frame).endswith(focus):
            return index
    return -1


@dataclass
class Profiler:
    """Profiles taken in one run; does nothing when ``folder`` is None."""

    folder: Path | None = None
    rate: int = RATE
    summaries: list[Summary] = field(default_factory=list)

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def check(self) -> None:
        """Raises ProfilerUnavailable unless py-spy can attach to this user's processes."""
        if not self.enabled:
            return
        if py_spy() is None:
            raise ProfilerUnavailable("py-spy is not installed (it is in the dev extras)")
        scope = Path("/proc/sys/kernel/yama/ptrace_scope")
        if scope.exists() and scope.read_text().strip() != "0" and os.geteuid() != 0:
            raise ProfilerUnavailable(
                f"{scope} is {scope.read_text().strip()}: py-spy may not attach to the "
                "stack's processes; run as root or set it to 0"
            )

    @asynccontextmanager
    async def profiling(
        self,
        label: str,
        pids: Mapping[str, int],
        *,
        focus: str | None = None,
        idle: bool = False,
        native: bool = False,
    ) -> AsyncIterator[None]:
        """Samples each of the processes while inside."""
        if self.folder is None:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        executable = py_spy()
        if executable is None:
            raise ProfilerUnavailable("py-spy is not installed")
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()
        recorders: dict[str, tuple[asyncio.subprocess.Process, Path]] = {}
        for process, pid in pids.items():
            path = self.folder / f"{slug}.{process}.txt"
            command = [
                executable,
                "record",
                *("--pid", str(pid), "--rate", str(self.rate)),
                *("--format", "raw", "--function", "--output", str(path)),
                *(["--idle"] if idle else ["--gil"]),
                *(["--native"] if native else []),
            ]
            recorder = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            recorders[process] = (recorder, path)
        try:
            yield
        finally:
            for recorder, _ in recorders.values():
                recorder.send_signal(signal.SIGINT)
            for process, (recorder, path) in recorders.items():
                _, error = await asyncio.wait_for(recorder.communicate(), STOP_SECONDS)
                if not path.exists():
                    raise ProfilerUnavailable(
                        f"py-spy wrote no profile of {process}: {error.decode(errors='replace')}"
                    )
                stacks = read_stacks(path)
                self.summaries.append(summarize(stacks, process, label, str(path), idle=idle))
                if focus is not None:
                    self.summaries.append(
                        summarize(stacks, process, label, str(path), focus=focus, idle=idle)
                    )

    def report(self) -> str:
        return "\n".join(line for summary in self.summaries for line in summary.lines())
