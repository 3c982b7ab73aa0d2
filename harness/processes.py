"""What a running process of the stack was started with, read from ``/proc``, and its
sudden death (a crash, as the node-loss bench and tests stage it)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from infra.local import stack


def environ(pid: int) -> dict[str, str]:
    """A running process's environment, from ``/proc/<pid>/environ``."""
    found = {}
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            found[key] = value
    return found


def command_lines() -> dict[int, list[str]]:
    """Every process's arguments by pid, in pid order (those gone meanwhile left out)."""
    found = {}
    for entry in sorted(Path("/proc").iterdir(), key=lambda path: path.name.zfill(10)):
        if entry.name.isdigit():
            try:
                arguments = (entry / "cmdline").read_bytes().decode(errors="replace")
            except OSError:
                continue
            found[int(entry.name)] = arguments.split("\0")
    return found


def kill(part: stack.Part) -> float:
    """Kills a running part with SIGKILL (no graceful stop) and reaps it; returns when
    it was killed, on the monotonic clock."""
    pid = part.pid()
    assert pid is not None, f"{part.name} is not running"
    killed = time.monotonic()
    os.kill(pid, signal.SIGKILL)
    stack.stop(part)  # reaps it and clears its pid file
    return killed
