"""Facts about the machine and the software under test, recorded with each full run
so figures from different days can be told apart. Each fact is best effort: one that
cannot be found cheaply is None."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pyvips
import redis

from bench.target import Target, datastore_pid
from infra.local import stack

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


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
        "gateway_url": target.gateway_url,
    }
