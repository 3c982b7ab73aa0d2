"""Latency percentiles, throughput, CPU shares, and the load generator that makes them.

Load through the gateway comes from wrk (``bench.wrk``); the loop here times paths of
reads made from this process (the floors under the feed), and meters its own CPU too.
"""

from __future__ import annotations

import asyncio
import os
import resource
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# What this process is called among the processes a CPU meter watches.
GENERATOR = "bench"
# Every process on the machine, ours or not: well above the sum of the watched ones
# means something else (a test suite, a compaction) competed for the cores.
MACHINE = "machine"


def percentile(samples: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` (0..1) of the samples fall, interpolating
    linearly between neighbours as numpy's default does."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    position = (len(ordered) - 1) * fraction
    below = int(position)
    above = min(below + 1, len(ordered) - 1)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def own_cpu_seconds() -> float:
    """CPU time of this process, every thread included."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def children_cpu_seconds() -> float:
    """CPU time of the child processes this one has waited for."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_cpu_seconds(pid: int) -> float | None:
    """CPU time of another process (all its threads), or None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces; fields after it are space separated.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def machine_cpu_seconds() -> float:
    """CPU time every core of the machine has worked since boot (not idle, not waiting
    on I/O, not stolen by the hypervisor)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq = (int(f) for f in fields[:7])
    return (user + nice + system + irq + softirq) / _CLOCK_TICKS


@dataclass
class CpuMeter:
    """Cores used over an interval: CPU seconds per wall second, for this process
    (``bench``) and for each watched process."""

    processes: Mapping[str, int] = field(default_factory=dict)
    _wall: float = 0.0
    _start: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        found = {GENERATOR: own_cpu_seconds(), MACHINE: machine_cpu_seconds()}
        for name, pid in self.processes.items():
            seconds = process_cpu_seconds(pid)
            if seconds is not None:
                found[name] = seconds
        return found

    def start(self) -> None:
        self._wall, self._start = time.perf_counter(), self._now()

    def stop(self) -> dict[str, float]:
        wall, now = time.perf_counter() - self._wall, self._now()
        return {
            name: (now[name] - began) / wall
            for name, began in self._start.items()
            if name in now and wall > 0
        }


def describe_cpu(cores: Mapping[str, float]) -> str:
    """``cpu bench 0.31, gateway 0.95, graph_svc 0.40 of machine 1.80`` (in cores:
    the generator first, then busiest first, then the whole machine)."""
    ordered = sorted(
        ((name, share) for name, share in cores.items() if name != MACHINE),
        key=lambda item: (item[0] != GENERATOR, -item[1]),
    )
    text = "cpu " + ", ".join(f"{name} {share:.2f}" for name, share in ordered)
    return f"{text} of machine {cores[MACHINE]:.2f}" if MACHINE in cores else text


@dataclass(frozen=True)
class LoadResult:
    """A timed load: this process's loop, or h2load's (``bench.h2load``)."""

    # Durations of the operations that succeeded, in seconds.
    samples: tuple[float, ...]
    errors: int
    first_error: str | None
    wall_seconds: float
    concurrency: int
    # Cores used during the run, by the generator and each watched process.
    cpu: dict[str, float]
    generator: str = "python"
    percents: tuple[int, ...] = (50, 99)

    @property
    def throughput(self) -> float:
        return len(self.samples) / self.wall_seconds if self.wall_seconds > 0 else 0.0

    @property
    def percentiles(self) -> dict[int, float | None]:
        """Latency in seconds by percent."""
        samples = self.samples
        return {p: percentile(samples, p / 100) if samples else None for p in self.percents}

    def cpu_ms_per_operation(self) -> dict[str, float]:
        if not self.samples:
            return {}
        seconds = self.wall_seconds / len(self.samples) * 1000
        return {name: share * seconds for name, share in self.cpu.items()}

    def summary(self) -> str:
        by = "in this process" if self.generator == "python" else f"by {self.generator}"
        parts = [f"{len(self.samples)} ops {by}", f"{self.throughput:.1f} ops/s"]
        if self.errors:
            parts.append(f"{self.errors} errors (first: {self.first_error})")
        return "; ".join([*parts, describe_cpu(self.cpu)])

    def details(self) -> dict[str, object]:
        """What the JSON result keeps of a run beyond its headline figures."""
        return {
            "generator": self.generator,
            "operations": len(self.samples),
            "errors": self.errors,
            "first_error": self.first_error,
            "wall_seconds": round(self.wall_seconds, 4),
            "concurrency": self.concurrency,
            **{
                f"p{p}_ms": None if s is None else round(s * 1000, 3)
                for p, s in self.percentiles.items()
            },
            "cpu_cores": {name: round(share, 3) for name, share in self.cpu.items()},
        }


Operation = Callable[[int], Awaitable[object]]


async def run_load(
    operation: Operation, *, concurrency: int, count: int, processes: Mapping[str, int] = {}
) -> LoadResult:
    """Runs ``operation(i)`` for i in range(count), ``concurrency`` at a time, timing each
    in this process: for what wrk cannot send (a path of reads made from here). One that
    raises counts as an error, left out of the latencies; ``processes`` (name -> pid)
    have their CPU metered alongside this process's."""
    samples: list[float] = []
    errors: list[BaseException] = []
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:
            began = time.perf_counter()
            try:
                await operation(index)
            except Exception as error:
                errors.append(error)
            else:
                samples.append(time.perf_counter() - began)

    meter = CpuMeter(dict(processes))
    meter.start()
    began = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return LoadResult(
        tuple(samples),
        len(errors),
        f"{type(errors[0]).__name__}: {errors[0]}" if errors else None,
        time.perf_counter() - began,
        concurrency,
        meter.stop(),
    )


def resident_kib(pid: int) -> int | None:
    """VmRSS of a process in KiB, or None once it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    for line in status.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return None


class ResidentMemorySampler:
    """Samples the resident memory of some processes every ``interval`` seconds on a
    thread of its own, so an event loop busy with an upload does not skew the timing.

    Use as a context manager; ``between`` slices the samples by moments (perf_counter).
    """

    def __init__(self, processes: Mapping[str, int], interval: float = 0.01) -> None:
        self._processes = dict(processes)
        self._interval = interval
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="rss-sampler", daemon=True)
        # (perf_counter, KiB) per process name.
        self.samples: dict[str, list[tuple[float, int]]] = {name: [] for name in processes}
        # The largest sum over the processes of one round of samples.
        self.peak_total_kib = 0

    def __enter__(self) -> ResidentMemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()
        self._thread.join()

    def _sample(self) -> None:
        while True:
            total = 0
            for name, pid in self._processes.items():
                kib = resident_kib(pid)
                if kib is not None:
                    self.samples[name].append((time.perf_counter(), kib))
                    total += kib
            self.peak_total_kib = max(self.peak_total_kib, total)
            if self._stopping.wait(self._interval):
                return

    def between(self, name: str, start: float, end: float) -> list[int]:
        return [kib for moment, kib in self.samples[name] if start <= moment <= end]
