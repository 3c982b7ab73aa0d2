"""Peers: other projects' servers that scenarios measure ours against (thumbor, GraphQL
Mesh). Each is installed on demand by its module into ``.pictor/peers/`` (git-ignored),
never into the project's virtualenv, and only by full runs: a smoke run reports a
peer that is not installed as n/a.

This module holds what the peers share: where they live, installs that leave a marker
only once complete (under a lock, so two runs never install at once), and servers run
in a session of their own on a free port, stopped as a whole process group.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, TypeVar

import httpx

from infra.local import stack

if TYPE_CHECKING:
    from bench.run import BenchRun

T = TypeVar("T")

# What the peers are asked to make: media_svc's renditions as the design states them
# (thumb 150x150 crop; small, medium, large by width; each JPEG and WebP) with its
# encoder settings. The pipeline checks that the worker's renditions have these sizes.
THUMB = 150
WIDTHS = {"small": 320, "medium": 640, "large": 1080}
JPEG_QUALITY, WEBP_QUALITY, WEBP_EFFORT = 82, 80, 2
PEERS_DIR = stack.STATE / "peers"
LOG_DIR = PEERS_DIR / "logs"
# Installs download and build; generous, they happen once.
INSTALL_TIMEOUT_SECONDS = 900
START_TIMEOUT_SECONDS = 60
STOP_TIMEOUT_SECONDS = 10
_LOG_TAIL_LINES = 15


class PeerUnavailable(Exception):
    """The peer could not be installed or started here; the message says why (the
    error itself), and the scenario reports the figure as n/a with it."""


async def ready(
    name: str, installed: Callable[[], T | None], install: Callable[[], T], bench: BenchRun
) -> T:
    """A peer's install: the one found, else made now by a full run (never by a smoke
    run); PeerUnavailable says why not."""
    done = installed()
    if done is not None:
        return done
    if bench.smoke:
        raise PeerUnavailable(f"{name} is not installed (smoke runs never install peers)")
    bench.say(f"installing {name} into {PEERS_DIR}")
    return await asyncio.to_thread(install)


def log_tail(path: Path) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
    # The commands' own lines ("$ ...") are left out: the message names the command.
    said = [line.strip() for line in text.splitlines() if line.strip() and line[:2] != "$ "]
    return " | ".join(said[-_LOG_TAIL_LINES:])


def installed_once(
    name: str, installed: Callable[[], T | None], marker: Path, install: Callable[[Path], T]
) -> T:
    """``install(log)`` under the peer's lock (two runs never install at once), unless
    the run that held it before installed the peer; a partial install's marker and log
    are cleared first, and ``install`` writes the marker once it is whole."""
    PEERS_DIR.mkdir(parents=True, exist_ok=True)
    with (PEERS_DIR / f".{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = installed()
            if done is not None:
                return done
            log = LOG_DIR / f"{name}-install.log"
            log.unlink(missing_ok=True)
            marker.unlink(missing_ok=True)
            return install(log)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def read_marker(path: Path) -> dict[str, Any] | None:
    """What a completed install recorded (versions), or None if it never completed."""
    try:
        recorded: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    return recorded


def write_marker(path: Path, facts: Mapping[str, Any]) -> None:
    partial = path.with_suffix(".part")
    partial.write_text(json.dumps(dict(facts), indent=2) + "\n")
    partial.rename(path)


def run_logged(
    command: Sequence[str | os.PathLike[str]],
    log: Path,
    *,
    cwd: Path | None = None,
    timeout: float = INSTALL_TIMEOUT_SECONDS,
) -> str:
    """Runs a step of an install or setup with its output appended to ``log``; returns
    its stdout. Raises PeerUnavailable with the command and the end of its output."""
    log.parent.mkdir(parents=True, exist_ok=True)
    printable = " ".join(map(str, command))
    with log.open("a") as out:
        out.write(f"$ {printable}\n")
        out.flush()
        try:
            done = subprocess.run(
                [str(part) for part in command],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=out,
                text=True,
                timeout=timeout,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            raise PeerUnavailable(f"`{printable}` failed: {error}") from error
        out.write(done.stdout)
    if done.returncode != 0:
        raise PeerUnavailable(
            f"`{printable}` exited with {done.returncode}: {log_tail(log)} (log: {log})"
        )
    return done.stdout


def process_tree(pid: int) -> list[int]:
    """The process and its descendants, parents first."""
    found = [pid]
    for parent in found:
        for task in Path(f"/proc/{parent}/task").glob("*"):
            with contextlib.suppress(OSError):
                found += [int(child) for child in (task / "children").read_text().split()]
    return found


@dataclass
class Server:
    """A peer's server, in a session (and process group) of its own."""

    name: str
    url: str
    process: subprocess.Popen[bytes]
    log: Path
    _log_file: IO[bytes]

    @classmethod
    def start(
        cls,
        name: str,
        command: Sequence[str | os.PathLike[str]],
        url: str,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> Server:
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = LOG_DIR / f"{name}.log"
        log_file = log.open("wb")
        try:
            process = subprocess.Popen(
                [str(part) for part in command],
                cwd=cwd,
                env={**os.environ, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            log_file.close()
            raise PeerUnavailable(f"could not start {name}: {error}") from error
        return cls(name, url, process, log, log_file)

    async def ready(self, path: str, within: float = START_TIMEOUT_SECONDS) -> None:
        """Waits until ``GET path`` answers 200; raises PeerUnavailable (after stopping
        the server) if it exits or does not answer in time."""
        deadline = time.monotonic() + within
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    self.stop()
                    raise PeerUnavailable(
                        f"{self.name} exited with {self.process.returncode} on start: "
                        f"{log_tail(self.log)} (log: {self.log})"
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(path)).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        self.stop()
        raise PeerUnavailable(
            f"{self.name} did not answer {path} within {within:.0f}s: {log_tail(self.log)}"
        )

    async def spawned(self, count: int, within: float = 10) -> None:
        """Waits until the server has ``count`` processes (itself and forked workers)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if len(process_tree(self.process.pid)) >= count:
                return
            await asyncio.sleep(0.05)

    def pids(self) -> dict[str, int]:
        """Every process of the server (forked workers too), named for a CPU meter."""
        server, *workers = process_tree(self.process.pid)
        named = {f"{self.name}.{number}": pid for number, pid in enumerate(workers, 1)}
        return {self.name: server, **named}

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL to what is left after a while."""
        group = self.process.pid
        try:
            if self.process.poll() is None or _group_alive(group):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGTERM)
                deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
                while time.monotonic() < deadline and (
                    self.process.poll() is None or _group_alive(group)
                ):
                    time.sleep(0.05)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(group, signal.SIGKILL)
            self.process.wait()
        finally:
            self._log_file.close()


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True
