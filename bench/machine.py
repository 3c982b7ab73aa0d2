"""Facts about the machine and the software under test, recorded with each full run
so figures from different days can be told apart. Each fact is best effort: one that
cannot be found cheaply is None.

The running stack is described as it runs, not as the checkout would start it: each
process's PICTOR_* and OTEL_* environment (the code's defaults apply to the rest),
when it started, and whether its code changed since (a stack started from older
code measures that code).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pyvips
import redis

from bench.target import Target, datastore_pid
from harness.processes import environ
from infra.local import stack

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]
_SETTING_PREFIXES = ("PICTOR_", "OTEL_")
_SECRET_WORDS = ("SECRET", "PASSWORD", "TOKEN", "_KEY")
# What ``python -m`` runs in a Pictor process: a part, a test session, a benchmark.
_PICTOR_MODULES = {"gateway", "graph_svc", "post_svc", "feed_svc", "media_svc", "pytest", "bench"}


def _best_effort(find: Callable[[], T]) -> T | None:
    try:
        return find()
    except Exception:
        return None


def _first_line(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, timeout=10, check=True)
    return (done.stdout or done.stderr).strip().splitlines()[0]


def _proc_field(path: str, name: str) -> str:
    for line in Path(path).read_text().splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    raise LookupError(name)


def _memory_gib() -> float:
    kib = int(_proc_field("/proc/meminfo", "MemTotal").split()[0])
    return round(kib / 1024 / 1024, 1)


def pyvips_libvips() -> str:
    return f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"


def vipsthumbnail_libvips() -> str | None:
    """The libvips behind the vipsthumbnail CLI (Debian's, not pyvips-binary's)."""
    if shutil.which("vipsthumbnail") is None:
        return None
    # It prints e.g. "libvips 8.14.1".
    found = re.search(r"\d+\.\d+\.\d+", _first_line(["vipsthumbnail", "--vips-version"]))
    return found.group(0) if found else None


def _cassandra(target: Target) -> str:
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import RoundRobinPolicy

    settings = target.settings
    cluster = Cluster(
        list(settings.cql_hosts),
        port=settings.cql_port,
        protocol_version=4,
        connect_timeout=2,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(load_balancing_policy=RoundRobinPolicy())
        },
    )
    try:
        row = cluster.connect().execute("SELECT release_version FROM system.local").one()
        return str(row.release_version)
    finally:
        cluster.shutdown()


def _redis(target: Target) -> str:
    client = redis.Redis.from_url(target.settings.redis_url, socket_timeout=2)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()


def _minio() -> str:
    pid = datastore_pid("minio")
    if pid is None:
        raise LookupError("minio")
    return _first_line([os.readlink(f"/proc/{pid}/exe"), "--version"])


def _git() -> dict[str, Any]:
    commit = _first_line(["git", "-C", str(ROOT), "rev-parse", "HEAD"])
    changes = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        timeout=10,
        check=True,
    ).stdout
    return {"commit": commit, "uncommitted_changes": bool(changes.strip())}


def _diff_sha256() -> str | None:
    """Tells apart two runs from the same commit with different uncommitted changes."""
    diff = subprocess.run(
        ["git", "-C", str(ROOT), "diff", "HEAD"], capture_output=True, timeout=10, check=True
    ).stdout
    return hashlib.sha256(diff).hexdigest() if diff else None


def _started_at(pid: int) -> float:
    """When a process started, in seconds since the epoch."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _boot_time() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return int(line.split()[1])
    raise LookupError("btime")


def _newest_source(part: str) -> float:
    """The newest modification time of the Python code a part runs (its package and
    the shared ``pictor`` package)."""
    package = part if part == "gateway" else f"{part.split('_')[0]}_svc"
    return max(
        path.stat().st_mtime for name in (package, "pictor") for path in (ROOT / name).rglob("*.py")
    )


def _shown(name: str, value: str) -> str:
    return "<set>" if any(word in name for word in _SECRET_WORDS) else value


def _process(pid: int, part: str | None = None) -> dict[str, Any]:
    started = _started_at(pid)
    found: dict[str, Any] = {
        "pid": pid,
        "started_at": datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds"),
    }
    if part is not None:
        found["settings"] = {
            name: _shown(name, value)
            for name, value in sorted(environ(pid).items())
            if name.startswith(_SETTING_PREFIXES)
        }
        found["code_changed_since_start"] = _newest_source(part) > started
    return found


def stack_processes(target: Target) -> dict[str, Any]:
    """How each running part of the stack was started, by part."""
    names = [part.name for part in stack.applications(target.settings)]
    found: dict[str, Any] = {}
    for name in [*names, "cassandra", "redis", "minio"]:
        pid = target.pid(name)
        if pid is not None:
            found[name] = _best_effort(
                functools.partial(_process, pid, name if name in names else None)
            )
    return found


def other_pictor_processes(target: Target) -> list[str]:
    """``"<pid> <module>"`` of every Pictor process (a part, a test session, another
    benchmark or seed) that is not part of the target stack and not this process: on
    two cores, another stack or a test suite running beside a benchmark moves its
    figures more than most changes do."""
    ours = {
        os.getpid(),
        *target.pids(*(part.name for part in stack.applications(target.settings))).values(),
    }
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "-m" in command[:-1] and "python" in Path(command[0]).name:
            module = command[command.index("-m") + 1]
            if module.split(".")[0] in _PICTOR_MODULES:
                found.append(f"{entry.name} {module}")
    return sorted(found, key=lambda line: int(line.split()[0]))


def facts(target: Target) -> dict[str, Any]:
    cores = os.cpu_count()
    with contextlib.suppress(AttributeError):
        cores = len(os.sched_getaffinity(0))
    return {
        "cores": cores,
        "memory_gib": _best_effort(_memory_gib),
        "cpu_model": _best_effort(lambda: _proc_field("/proc/cpuinfo", "model name")),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "pyvips": pyvips.__version__,
        "libvips_pyvips": pyvips_libvips(),
        "libvips_vipsthumbnail": _best_effort(vipsthumbnail_libvips),
        "cassandra": _best_effort(lambda: _cassandra(target)),
        "redis": _best_effort(lambda: _redis(target)),
        "minio": _best_effort(_minio),
        "minio_module_pinned": stack.MINIO_MODULE,
        "git": _best_effort(_git),
        "uncommitted_diff_sha256": _best_effort(_diff_sha256),
        "gateway_url": target.gateway_url,
        "loadavg": os.getloadavg(),
        "stack": stack_processes(target),
        "other_pictor_processes": _best_effort(lambda: other_pictor_processes(target)),
    }
