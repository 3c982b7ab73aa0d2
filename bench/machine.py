"""Facts about the machine and the software under test, recorded with each full run so
figures from different days can be told apart; each is best effort (None if not found).

The stack is described as it runs, not as the checkout would start it: each part's
PICTOR_* and OTEL_* environment (secrets masked), when it started, and whether its code
changed since (a stack started from older code measures that code).
"""

from __future__ import annotations

import hashlib
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pyvips

from bench.target import Target
from harness.processes import command_lines, environ
from infra.local import stack

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "_KEY")
# What ``python -m`` runs in a Pictor process: a part, a test session, a benchmark.
_PICTOR_MODULES = {"gateway", "graph_svc", "post_svc", "feed_svc", "media_svc", "pytest", "bench"}


def _best_effort(find: Callable[[], T]) -> T | None:
    try:
        return find()
    except Exception:
        return None


def _output(*command: str) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)
    return done.stdout or done.stderr


def pyvips_libvips() -> str:
    return f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"


def vipsthumbnail_libvips() -> str | None:
    """The libvips behind the vipsthumbnail CLI (Debian's, not pyvips-binary's)."""
    if shutil.which("vipsthumbnail") is None:
        return None
    found = re.search(r"\d+\.\d+\.\d+", _output("vipsthumbnail", "--vips-version"))
    return found.group(0) if found else None


def _cassandra(target: Target) -> str:
    settings = target.settings
    query = "SELECT release_version FROM system.local"
    rows = stack.node_query(settings.cql_hosts[0], query, settings.cql_port)
    if not rows:
        raise LookupError("Cassandra did not answer")
    return str(rows[0].release_version)


def _version(target: Target, datastore: str) -> str:
    """What the datastore's binary says of its version (redis-server's binary is
    redis-check-rdb, so the number alone)."""
    pid = target.pid(datastore)
    if pid is None:
        raise LookupError(datastore)
    said = _output(os.readlink(f"/proc/{pid}/exe"), "--version").splitlines()[0]
    found = re.search(r"v=(\S+)|\d+\.\d+\.\d+", said) if datastore == "redis" else None
    return found.group(0).removeprefix("v=") if found else said


def _git() -> dict[str, Any]:
    diff = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "HEAD"], capture_output=True, timeout=10, check=True
    ).stdout
    return {
        "commit": _output("git", "-C", str(ROOT), "rev-parse", "HEAD").strip(),
        "uncommitted_changes": bool(diff),
        # Tells apart two runs from one commit with different uncommitted changes.
        "uncommitted_diff_sha256": hashlib.sha256(diff).hexdigest() if diff else None,
    }


def _started_at(pid: int) -> float:
    """When a process started, in seconds since the epoch."""
    ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot = re.search(r"^btime (\d+)", Path("/proc/stat").read_text(), re.MULTILINE)
    assert boot is not None
    return int(boot.group(1)) + ticks / os.sysconf("SC_CLK_TCK")


def _part(pid: int, name: str) -> dict[str, Any]:
    started = _started_at(pid)
    # A part runs its own package (media_worker: media_svc) and the shared one.
    package = name if name == "gateway" else f"{name.split('_')[0]}_svc"
    newest = max(p.stat().st_mtime for d in (package, "pictor") for p in (ROOT / d).rglob("*.py"))
    return {
        "pid": pid,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
        "settings": {
            key: "<set>" if any(word in key for word in _SECRET_WORDS) else value
            for key, value in sorted(environ(pid).items())
            if key.startswith(("PICTOR_", "OTEL_"))
        },
        "code_changed_since_start": newest > started,
    }


def other_pictor_processes(target: Target) -> list[str]:
    """``"<pid> <module>"`` of every Pictor process (a part, a test session, another
    benchmark or seed) that is not part of the target stack and not this process: on
    two cores, another stack or a test suite running beside a benchmark moves its
    figures more than most changes do."""
    parts = [part.name for part in stack.applications(target.settings)]
    ours = {os.getpid(), *target.pids(*parts).values()}
    found = []
    for pid, command in command_lines().items():
        if pid not in ours and "-m" in command[:-1] and "python" in Path(command[0]).name:
            module = command[command.index("-m") + 1]
            if module.split(".")[0] in _PICTOR_MODULES:
                found.append(f"{pid} {module}")
    return found


def facts(target: Target) -> dict[str, Any]:
    pids = target.pids(*(part.name for part in stack.applications(target.settings)))
    memory = re.search(r"^MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text(), re.MULTILINE)
    cpu = re.search(r"^model name\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE)
    return {
        "cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(memory.group(1)) / 1024**2, 1) if memory else None,
        "cpu_model": cpu.group(1) if cpu else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyvips": pyvips.__version__,
        "libvips_pyvips": pyvips_libvips(),
        "libvips_vipsthumbnail": _best_effort(vipsthumbnail_libvips),
        "cassandra": _best_effort(lambda: _cassandra(target)),
        "redis": _best_effort(lambda: _version(target, "redis")),
        "minio": _best_effort(lambda: _version(target, "minio")),
        "minio_module_pinned": stack.MINIO_MODULE,
        "git": _best_effort(_git),
        "gateway_url": target.gateway_url,
        "loadavg": os.getloadavg(),
        "stack": {name: _best_effort(partial(_part, pid, name)) for name, pid in pids.items()},
        "other_pictor_processes": _best_effort(lambda: other_pictor_processes(target)),
    }
