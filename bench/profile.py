"""Sampling profiles of the stack's processes while a scenario's timed part runs
(``python -m bench --profile``): ``py-spy record`` attached from outside to each named
process for that long, so nothing is changed or restarted to be profiled.

Each profile is py-spy's own output, collapsed stacks (``frame;frame;... count`` a
line), kept beside the run's results: speedscope and flamegraph.pl open them. py-spy
pauses a process for each sample, so a profiled run's figures are slower than a plain
one's: profile to find where the time goes, not to measure how much there is.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Samples per second of each process; py-spy's default.
RATE = 100
STOP_SECONDS = 30.0


class ProfilerUnavailable(RuntimeError):
    """py-spy is not installed, or may not attach to the stack's processes."""


def py_spy() -> str | None:
    """The py-spy of this virtualenv (the dev extras pin it), else one on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass(frozen=True)
class Profile:
    label: str
    process: str
    path: Path
    # Wall time of every thread (``idle``), or only of threads holding the GIL.
    idle: bool

    @property
    def samples(self) -> int:
        lines = self.path.read_text().splitlines()
        return sum(int(line.rpartition(" ")[2]) for line in lines if line)

    def as_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "process": self.process,
            "samples": self.samples,
            "idle": self.idle,
            "collapsed_stacks": str(self.path),
        }

    def line(self) -> str:
        kind = "wall time, every thread" if self.idle else "threads holding the GIL"
        return f"{self.label} / {self.process}: {self.samples} samples of {kind}: {self.path}"


@dataclass
class Profiler:
    """Profiles taken in one run; does nothing when ``folder`` is None."""

    folder: Path | None = None
    rate: int = RATE
    profiles: list[Profile] = field(default_factory=list)

    def check(self) -> None:
        """Raises ProfilerUnavailable unless py-spy can attach to this user's processes."""
        if self.folder is None:
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
        self, label: str, pids: Mapping[str, int], *, idle: bool = False
    ) -> AsyncIterator[None]:
        """Samples each of the processes while inside: with ``idle``, waiting threads
        too (a worker's thread waits while libvips' own threads work)."""
        executable = py_spy()
        if self.folder is None or executable is None:
            yield
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()
        recorders = {}
        for process, pid in pids.items():
            path = self.folder / f"{slug}.{process}.txt"
            command = [
                *(executable, "record", "--pid", str(pid), "--rate", str(self.rate)),
                *("--format", "raw", "--function", "--output", str(path)),
                "--idle" if idle else "--gil",
            ]
            recorder = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
            )
            recorders[process] = (recorder, Profile(label, process, path, idle))
        try:
            yield
        finally:
            for recorder, _ in recorders.values():
                recorder.send_signal(signal.SIGINT)
            for recorder, profile in recorders.values():
                _, error = await asyncio.wait_for(recorder.communicate(), STOP_SECONDS)
                if not profile.path.exists():
                    raise ProfilerUnavailable(
                        f"py-spy wrote no profile of {profile.process}: "
                        + error.decode(errors="replace")
                    )
                self.profiles.append(profile)

    def report(self) -> str:
        return "\n".join(profile.line() for profile in self.profiles)
