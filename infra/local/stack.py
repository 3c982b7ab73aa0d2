"""The local stack: installs what is missing, starts each part as a background process
with a pid file under .pictor/run/, waits until each is ready, and stops exactly what
it started.

    python -m infra.local.stack up [--backends]   # everything, or just the datastores
    python -m infra.local.stack down
    python -m infra.local.stack status

Data lives in .pictor/<part>/, logs in .pictor/logs/<part>.log.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from gateway.config import GatewaySettings
from infra.local import graphiql
from pictor.config import ServiceName, Settings

ROOT = Path(__file__).resolve().parents[2]
STATE = ROOT / ".pictor"
RUN_DIR = STATE / "run"
# Where the cluster topology (infra/local/cluster.py) keeps its pid files; it shares
# the single stack's MinIO.
CLUSTER_RUN_DIR = STATE / "cluster" / "run"
LOG_DIR = STATE / "logs"
BIN_DIR = STATE / "bin"
CASSANDRA_DIR = Path(__file__).with_name("cassandra")

# `@latest` resolved to this on 2026-11-21; pinned so every machine builds the same server.
MINIO_MODULE = "github.com/minio/minio@v0.0.0-20260212201848-7aac2a2c5b7c"
MINIO_CONSOLE_PORT = 9001
SERVICES: tuple[ServiceName, ...] = ("graph", "post", "feed", "media")
# Where the local stack differs from the code's (production) defaults, unless the
# environment says otherwise: with 2,000 demo users (`make seed`) nobody could pass
# 10,000 followers, so the demo would show no celebrity being merged at read time;
# and the seed and the benchmarks post and follow as a few viewers at machine speed.
LOCAL_DEFAULTS = {
    name: value
    for name, value in {
        "PICTOR_CELEBRITY_THRESHOLD": "1000",
        "PICTOR_POST_RATE_LIMIT": "100000",
        "PICTOR_FOLLOW_RATE_LIMIT": "100000",
        "PICTOR_LIKE_RATE_LIMIT": "100000",
    }.items()
    if name not in os.environ
}


class StackError(Exception):
    pass


def say(message: str) -> None:
    print(f"pictor: {message}", flush=True)


def _port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


def _port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


# ---------------------------------------------------------------- installing


def _run(command: Sequence[str | Path], **kwargs: object) -> None:
    subprocess.run([str(part) for part in command], check=True, **kwargs)  # type: ignore[call-overload]


def install_debian_package(program: str, package: str) -> Path:
    """The program from PATH, else installed with Debian's package (as root or through
    sudo; `apt-get update` only if the install fails without it)."""
    found = shutil.which(program)
    if found:
        return Path(found)
    say(f"installing {program} from Debian's packages ({package})")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    # RUNLEVEL=1 keeps a package's init script from starting a system-wide server.
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "RUNLEVEL": "1"}
    install = [*sudo, "apt-get", "install", "-y", "-q", "--no-install-recommends", package]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        _run([*sudo, "apt-get", "update", "-q"], env=env)
        _run(install, env=env)
    return Path(shutil.which(program) or f"/usr/bin/{program}")


def redis_command(port: int, data: Path, *options: str) -> list[str]:
    """redis-server on localhost at ``port``, its files in ``data``: every write in the
    append-only file, no RDB snapshots, in the foreground (the stack stops it by pid)."""
    return [
        *(str(install_redis()), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data)),
        *options,
        *("--appendonly", "yes", "--save", "", "--daemonize", "no"),
    ]


def install_redis() -> Path:
    return install_debian_package("redis-server", "redis-server")


def install_wrk() -> Path:
    """The HTTP load generator of the throughput benchmarks (C, one core at most)."""
    return install_debian_package("wrk", "wrk")


def install_minio() -> Path:
    binary = BIN_DIR / "minio"
    if binary.exists():
        return binary
    say(f"building MinIO with `go install {MINIO_MODULE}` (a few minutes the first time)")
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    _run(["go", "install", MINIO_MODULE], env={**os.environ, "GOBIN": str(BIN_DIR)})
    return binary


def install_cassandra() -> None:
    if not (STATE / "cassandra" / "lib").is_dir():
        say("fetching Apache Cassandra 5 from Maven Central (first time only)")
    _run(["bash", CASSANDRA_DIR / "fetch.sh", STATE])


# ---------------------------------------------------------------- processes


@dataclass(frozen=True)
class Part:
    """One process of the stack: how to start it and how to tell it is ready."""

    name: str
    command: Callable[[], list[str]]
    ready: Callable[[], bool]
    start_timeout: float
    env: Mapping[str, str]
    stop_timeout: float = 15.0
    run_dir: Path = RUN_DIR
    log_dir: Path = LOG_DIR

    @property
    def pid_file(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_file(self) -> Path:
        return self.log_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid from the pid file, if that process is still alive."""
        return _alive(self.pid_file)


def _alive(pid_file: Path) -> int | None:
    """The pid in the file, if that process is still alive."""
    try:
        pid = int(pid_file.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    if not Path(f"/proc/{pid}").exists():
        return None
    return pid


def spawn(
    command: Sequence[str], env: Mapping[str, str], log_file: Path
) -> subprocess.Popen[bytes]:
    """Starts a detached process that outlives this one, logging to log_file."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        return subprocess.Popen(
            list(command),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=ROOT,
            env={**os.environ, **env},
            start_new_session=True,
        )


def _log_tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def wait_ready(part: Part, process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + part.start_timeout
    while not part.ready():
        exited = process.poll() if process is not None else None
        if exited is not None:
            raise StackError(
                f"{part.name} exited with {exited} while starting; "
                f"end of {part.log_file}:\n{_log_tail(part.log_file)}"
            )
        if time.monotonic() > deadline:
            raise StackError(
                f"{part.name} not ready after {part.start_timeout:.0f}s; "
                f"end of {part.log_file}:\n{_log_tail(part.log_file)}"
            )
        time.sleep(0.2)


# Processes this one started, so stop() can reap them (and Python does not warn that
# a Popen was dropped while its process runs on, which is the point of a stack).
_spawned: dict[int, subprocess.Popen[bytes]] = {}


def start(part: Part) -> bool:
    """Starts the part unless it runs already; True when this call started it."""
    if part.pid() is not None:
        return False
    if part.ready():
        say(f"{part.name} is already answering (started elsewhere); using it")
        return False
    part.run_dir.mkdir(parents=True, exist_ok=True)
    started_at = time.monotonic()
    process = spawn(part.command(), part.env, part.log_file)
    _spawned[process.pid] = process
    part.pid_file.write_text(str(process.pid))
    try:
        wait_ready(part, process)
    except StackError:
        stop(part)
        raise
    say(f"{part.name} ready in {time.monotonic() - started_at:.1f}s (pid {process.pid})")
    return True


def exit_code(part: Part) -> int | None:
    """The exit status of a part this process started, once it has exited."""
    for process in _spawned.values():
        if str(process.pid) == _read(part.pid_file):
            return process.poll()
    return None


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None


def stop(part: Part) -> bool:
    """SIGTERM, then SIGKILL after the part's timeout; True if something was running."""
    pid = part.pid()
    part_was_running = pid is not None
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + part.stop_timeout
        while Path(f"/proc/{pid}").exists() and not _is_zombie(pid):
            if time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                break
            time.sleep(0.1)
    recorded = _read(part.pid_file)
    if recorded and recorded.isdigit():
        _reap(int(recorded))
    part.pid_file.unlink(missing_ok=True)
    return part_was_running


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except FileNotFoundError:
        return False


def _reap(pid: int) -> None:
    process = _spawned.pop(pid, None)
    if process is not None:
        process.wait()


# ---------------------------------------------------------------- readiness


def cql_ready(port: int, host: str = "127.0.0.1") -> bool:
    """The node at ``host`` answers CQL (itself, not another node of its ring)."""
    if not _port_open(port, host):
        return False
    return node_query(host, "SELECT release_version FROM system.local", port) is not None


def node_query(host: str, query: str, port: int = 9042) -> list[Any] | None:
    """The rows one Cassandra node answers ``query`` with, asked of that node alone
    (no other member of its ring); None when it does not answer."""
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
    from cassandra.policies import WhiteListRoundRobinPolicy

    cluster = Cluster(
        [host],
        port=port,
        protocol_version=4,
        connect_timeout=2,
        execution_profiles={
            EXEC_PROFILE_DEFAULT: ExecutionProfile(
                load_balancing_policy=WhiteListRoundRobinPolicy([host])
            )
        },
    )
    try:
        return list(cluster.connect().execute(query))
    except (NoHostAvailable, OSError):
        return None
    finally:
        cluster.shutdown()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _redis_ready(port: int) -> bool:
    # A closed port answers at once; the client would retry it with backoff first.
    if not _port_open(port):
        return False
    import redis

    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except (redis.ConnectionError, redis.TimeoutError):
        return False


def grpc_serving(address: str) -> bool:
    with grpc.insecure_channel(address) as channel:
        try:
            response = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(), timeout=1
            )
        except grpc.RpcError:
            return False
    return bool(response.status == health_pb2.HealthCheckResponse.SERVING)


# ---------------------------------------------------------------- the stack


def backends(settings: Settings) -> list[Part]:
    redis_port = urlsplit(settings.redis_url).port or 6379
    s3_port = urlsplit(settings.s3_endpoint).port or 9000
    return [
        Part(
            name="cassandra",
            command=lambda: ["bash", str(CASSANDRA_DIR / "run.sh"), str(STATE)],
            ready=lambda: cql_ready(settings.cql_port),
            start_timeout=240,
            stop_timeout=60,
            env={"CASSANDRA_NATIVE_PORT": str(settings.cql_port)},
        ),
        Part(
            name="redis",
            command=lambda: redis_command(redis_port, _data_dir("redis")),
            ready=lambda: _redis_ready(redis_port),
            start_timeout=30,
            env={},
        ),
        Part(
            name="minio",
            command=lambda: [
                str(install_minio()),
                "server",
                str(_data_dir("minio")),
                "--address",
                f"127.0.0.1:{s3_port}",
                "--console-address",
                f"127.0.0.1:{MINIO_CONSOLE_PORT}",
                "--quiet",
            ],
            ready=lambda: http_ok(f"http://127.0.0.1:{s3_port}/minio/health/ready"),
            start_timeout=60,
            env={
                "MINIO_ROOT_USER": settings.s3_access_key,
                "MINIO_ROOT_PASSWORD": settings.s3_secret_key.get_secret_value(),
                "MINIO_UPDATE": "off",
            },
        ),
    ]


def applications(
    settings: GatewaySettings,
    env: Mapping[str, str] | None = None,
    run_dir: Path = RUN_DIR,
    log_dir: Path = LOG_DIR,
) -> list[Part]:
    """The four services and the gateway, as configured by ``settings``.

    ``env`` is added to each process's environment; it must describe the same
    settings (the test suite runs a second stack this way).
    """

    def part(name: str, module: str, ready: Callable[[], bool]) -> Part:
        return Part(
            name=name,
            command=lambda: [sys.executable, "-m", module],
            ready=ready,
            start_timeout=60,
            env={**LOCAL_DEFAULTS, **(env or {})},
            run_dir=run_dir,
            log_dir=log_dir,
        )

    def service_part(service: ServiceName) -> Part:
        address = settings.service_addr(service)
        return part(f"{service}_svc", f"{service}_svc", lambda: grpc_serving(address))

    media_worker, feed_worker = settings.media_worker_addr, settings.feed_worker_addr
    gateway_ready = f"{gateway_url(settings)}/readyz"
    return [
        *(service_part(service) for service in SERVICES),
        part("media_worker", "media_svc.worker", lambda: grpc_serving(media_worker)),
        part("feed_worker", "feed_svc.worker", lambda: grpc_serving(feed_worker)),
        part("gateway", "gateway", lambda: http_ok(gateway_ready)),
    ]


def gateway_url(settings: GatewaySettings) -> str:
    return f"http://127.0.0.1:{settings.gateway_port}"


def _data_dir(name: str) -> Path:
    path = STATE / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def prepare_datastores(settings: Settings) -> None:
    """Applies CQL migrations and creates the bucket; both are idempotent."""
    from pictor.migrations import migrate
    from pictor.s3 import ensure_bucket, open_s3

    async def prepare() -> int:
        async with open_s3(settings) as s3:
            await ensure_bucket(s3, settings.s3_bucket)
        return await migrate(settings)

    version = asyncio.run(prepare())
    say(
        f"keyspace {settings.cql_keyspace} at schema version {version}; "
        f"bucket {settings.s3_bucket} ready"
    )


def up_backends(settings: Settings) -> list[Part]:
    """Installs and starts the datastores that are not running; returns those it started."""
    install_redis()
    install_minio()
    install_cassandra()
    return [part for part in backends(settings) if start(part)]


def up(settings: GatewaySettings) -> None:
    every_part = all_parts(settings)
    if all(part.pid() is not None for part in every_part):
        say("the stack is already up; nothing to do")
    else:
        up_backends(settings)
        prepare_datastores(settings)
        graphiql.install()
        for part in applications(settings):
            start(part)
    say(f"GraphiQL: {gateway_url(settings)}/graphql")
    say(f"logs: {LOG_DIR.relative_to(ROOT)}/<part>.log; stop with `make down`")


def down(settings: GatewaySettings) -> None:
    stopped = [part.name for part in reversed(stopped_by_down(settings)) if stop(part)]
    say(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")


def stopped_by_down(settings: GatewaySettings) -> list[Part]:
    """The single stack's parts, in start order; MinIO only if the cluster topology,
    which shares it, is not running."""
    parts = all_parts(settings)
    if any(_alive(pid_file) for pid_file in CLUSTER_RUN_DIR.glob("*.pid")):
        return [part for part in parts if part.name != "minio"]
    return parts


def all_parts(settings: GatewaySettings) -> list[Part]:
    """Every part of the stack, datastores first."""
    return backends(settings) + applications(settings)


def print_status(parts: Sequence[Part]) -> None:
    """A line per part: running (with its pid) or stopped."""
    width = max(len(part.name) for part in parts) + 2
    for part in parts:
        pid = part.pid()
        print(f"{part.name:<{width}}{f'running (pid {pid})' if pid else 'stopped'}")


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.stack")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--backends", action="store_true", help="only Cassandra, Redis, MinIO")
    args = parser.parse_args(argv)
    return run(args.command, args.backends, GatewaySettings(), up_backends, up, down, all_parts)


Step = Callable[[GatewaySettings], object]


def run(
    command: str,
    backends: bool,
    settings: GatewaySettings,
    up_backends: Step,
    up: Step,
    down: Step,
    all_parts: Callable[[GatewaySettings], Sequence[Part]],
) -> int:
    """Runs one command of a ``main`` (``up --backends``: the datastores alone, then
    prepared); a failure is reported and exits 1."""
    try:
        if command == "up" and backends:
            up_backends(settings)
            prepare_datastores(settings)
        elif command == "up":
            up(settings)
        elif command == "down":
            down(settings)
        else:
            print_status(all_parts(settings))
    except (StackError, subprocess.CalledProcessError) as error:
        print(f"pictor: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
