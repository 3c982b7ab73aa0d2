"""What a running process of the stack was started with, read from ``/proc``."""

from __future__ import annotations

from pathlib import Path


def environ(pid: int) -> dict[str, str]:
    """A running process's environment, from ``/proc/<pid>/environ``."""
    found = {}
    for entry in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
        key, sep, value = entry.decode(errors="replace").partition("=")
        if sep:
            found[key] = value
    return found
