"""The cluster topology of the local stack: a Redis Cluster of three primaries with a
replica each and a three-node Cassandra ring, the shape production runs on, beside the
single-node stack (`make up TOPOLOGY=cluster`).

Both sets of datastores and both sets of applications can run at once: the Redis
nodes listen on 6381-6386, the Cassandra nodes on 127.0.0.2-127.0.0.4 (the
single node binds 127.0.0.1 only), and the cluster's services and gateway on ports
100 above the single stack's (gateway 8180). MinIO is shared. State lives under
.pictor/cluster/. The test suite's sessions on this topology (`make test-cluster`) share
the ring, in a keyspace of their own, and run a Redis Cluster of their own on 6391-6396
(a cluster has one database, and the node-loss tests kill its nodes).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from gateway.config import GatewaySettings
from infra.local import graphiql, stack
from infra.local.stack import Part, StackError, say
from pictor.config import ServiceName

CLUSTER_STATE = stack.STATE / "cluster"
RUN_DIR = stack.CLUSTER_RUN_DIR
LOG_DIR = CLUSTER_STATE / "logs"

# Production's cluster-node-timeout is usually 15 s; a short one makes a replica take
# over within seconds of its primary's loss, which the node-loss test waits for.
REDIS_NODE_TIMEOUT_MS = 3000
CASSANDRA_HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4")
CASSANDRA_HEAP = "512M"
CASSANDRA_DC = "datacenter1"  # what SimpleSnitch calls every node's datacenter
# Every node is a seed: no node bootstraps (streams data in) on its first start, and a
# node restarting finds the ring through whichever other node is up.
CASSANDRA_SEEDS = ",".join(f"{host}:7000" for host in CASSANDRA_HOSTS)
# Gossip settles in a second on loopback; Cassandra's default waits are for real networks.
CASSANDRA_FAST_START = "-Dcassandra.ring_delay_ms=1000"

# The ring in settings (the test suite adds its own keyspace).
CASSANDRA: Mapping[str, Any] = {
    "cql_hosts": CASSANDRA_HOSTS,
    "cql_local_dc": CASSANDRA_DC,
    "cql_replication": f"{{'class': 'NetworkTopologyStrategy', '{CASSANDRA_DC}': 3}}",
}
# The cluster's services and gateway listen 100 above the single stack's ports, so
# both sets of applications can run side by side.
_PORT_OFFSET = 100
_PROCESSES: tuple[ServiceName, ...] = (
    "graph",
    "post",
    "feed",
    "media",
    "media_worker",
    "feed_worker",
)


def settings(**overrides: Any) -> GatewaySettings:
    """The settings of the cluster topology's processes (the environment's otherwise)."""
    single = GatewaySettings()
    ports: dict[str, Any] = {"gateway_port": single.gateway_port + _PORT_OFFSET}
    for process in _PROCESSES:
        host, port = single.service_addr(process).rsplit(":", 1)
        ports[f"{process}_addr"] = f"{host}:{int(port) + _PORT_OFFSET}"
        ports[f"{process}_metrics_port"] = single.metrics_port(process) + _PORT_OFFSET
    return GatewaySettings(**{**CASSANDRA, **REDIS.settings(), **ports, **overrides})


def environment(settings: GatewaySettings) -> dict[str, str]:
    """The PICTOR_* variables that give a process these settings' datastores and ports."""
    names = [*CASSANDRA, *REDIS.settings(), "gateway_port"]
    names += [f"{process}_addr" for process in _PROCESSES]
    names += [f"{process}_metrics_port" for process in _PROCESSES]
    env = {}
    for name in names:
        value = getattr(settings, name)
        if isinstance(value, tuple):
            value = json.dumps(list(value))
        env[f"PICTOR_{name.upper()}"] = str(value)
    return env


# ---------------------------------------------------------------- Redis Cluster


@dataclass(frozen=True)
class RedisCluster:
    """Six redis-server processes made one cluster: three primaries, a replica each."""

    ports: tuple[int, ...]
    state_dir: Path
    run_dir: Path
    log_dir: Path

    def node(self, port: int) -> Part:
        return Part(
            name=f"redis-{port}",
            command=lambda: _redis_command(port, self.state_dir / str(port)),
            ready=lambda: stack._redis_ready(port),
            start_timeout=30,
            env={},
            run_dir=self.run_dir,
            log_dir=self.log_dir,
        )

    def nodes(self) -> list[Part]:
        return [self.node(port) for port in self.ports]

    def settings(self) -> dict[str, Any]:
        """The settings that point a process at this cluster."""
        first, *others = self.ports
        return {
            "redis_url": f"redis://127.0.0.1:{first}/0",
            "redis_cluster": True,
            "redis_cluster_seeds": tuple(f"127.0.0.1:{port}" for port in others),
        }

    def form(self) -> None:
        """Creates the cluster when every node is new; otherwise waits for the nodes,
        restarted from their nodes.conf, to agree on it again."""
        infos = [_cluster_info(port) for port in self.ports]
        if all(info["cluster_known_nodes"] == "1" for info in infos):
            if any(info["cluster_slots_assigned"] != "0" for info in infos):
                raise StackError(
                    f"a Redis node has slots but knows no other; remove {self.state_dir}"
                )
            self._create()
        elif not all(info["cluster_known_nodes"] == str(len(self.ports)) for info in infos):
            raise StackError(
                "the Redis nodes disagree on who is in the cluster (a node's state was lost?); "
                f"stop them and remove {self.state_dir}"
            )
        deadline = time.monotonic() + 60
        while not self.healthy():
            if time.monotonic() > deadline:
                raise StackError(f"Redis Cluster on {self.ports} not ok after 60 s")
            time.sleep(0.2)

    def _create(self) -> None:
        say(f"creating a Redis Cluster on ports {self.ports[0]}-{self.ports[-1]}")
        log = self.log_dir / "redis-cluster-create.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        command = [
            str(stack.install_redis().with_name("redis-cli")),
            "--cluster",
            "create",
            *(f"127.0.0.1:{port}" for port in self.ports),
            "--cluster-replicas",
            "1",
            "--cluster-yes",
        ]
        with log.open("ab") as output:
            created = subprocess.run(command, stdout=output, stderr=subprocess.STDOUT, check=False)
        if created.returncode != 0:
            raise StackError(f"redis-cli --cluster create failed; see {log}")

    def healthy(self) -> bool:
        """Every node sees all six, every slot served, every replica in sync with its primary."""
        try:
            infos = [_cluster_info(port) for port in self.ports]
            linked = all(_replica_linked(port) for port in self.ports)
        except redis.RedisError:
            return False
        return linked and all(
            info["cluster_state"] == "ok"
            and info["cluster_known_nodes"] == str(len(self.ports))
            and info["cluster_size"] == str(len(self.ports) // 2)
            for info in infos
        )


def _redis_command(port: int, data: Path) -> list[str]:
    data.mkdir(parents=True, exist_ok=True)
    return stack.redis_command(
        port,
        data,
        "--cluster-enabled",
        "yes",
        # The node's identity and its view of the cluster: a restarted node rejoins
        # the cluster it belonged to from this file.
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        str(REDIS_NODE_TIMEOUT_MS),
        # A replica takes over however long it was cut off from its primary: on one
        # machine a stale replica beats no primary.
        "--cluster-replica-validity-factor",
        "0",
        # Slots whose primary is down fail; the others keep answering.
        "--cluster-require-full-coverage",
        "no",
    )


def _cluster_info(port: int) -> dict[str, str]:
    with redis.Redis(port=port, socket_timeout=2, decode_responses=True) as node:
        info: dict[str, str] = node.execute_command("CLUSTER INFO")
        return info


def _replica_linked(port: int) -> bool:
    with redis.Redis(port=port, socket_timeout=2, decode_responses=True) as node:
        info = node.info("replication")
    return bool(info["role"] == "master" or info.get("master_link_status") == "up")


# The cluster topology's Redis, and a second one the test suite has to itself (a
# cluster has a single database, and the node-loss tests kill its nodes).
REDIS = RedisCluster(tuple(range(6381, 6387)), CLUSTER_STATE / "redis", RUN_DIR, LOG_DIR)
TEST_REDIS = RedisCluster(
    tuple(range(6391, 6397)),
    stack.STATE / "test" / "cluster" / "redis",
    stack.STATE / "test" / "cluster" / "run",
    stack.STATE / "test" / "cluster" / "logs",
)


# ---------------------------------------------------------------- Cassandra ring


def cassandra_node(host: str) -> Part:
    name = f"cassandra-{host.rsplit('.', 1)[1]}"
    node_dir = CLUSTER_STATE / name
    return Part(
        name=name,
        command=lambda: ["bash", str(stack.CASSANDRA_DIR / "run.sh"), str(stack.STATE)],
        ready=lambda: stack.cql_ready(9042, host),
        start_timeout=240,
        stop_timeout=60,
        env={
            "CASSANDRA_LISTEN_ADDRESS": host,
            "CASSANDRA_NODE_DIR": str(node_dir),
            "CASSANDRA_LOG_DIR": str(LOG_DIR / name),
            "CASSANDRA_SEEDS": CASSANDRA_SEEDS,
            "CASSANDRA_NUM_TOKENS": "4",
            "CASSANDRA_PAXOS_VARIANT": "v2",
            "CASSANDRA_HINTED_HANDOFF": "true",
            "CASSANDRA_HEAP": CASSANDRA_HEAP,
            "CASSANDRA_JVM_EXTRA_OPTS": CASSANDRA_FAST_START,
        },
        run_dir=RUN_DIR,
        log_dir=LOG_DIR,
    )


def wait_for_ring(within: float = 120) -> None:
    """Until every node knows all three as members in normal state (none still joining)."""
    deadline = time.monotonic() + within
    while not all(_sees_ring(host) for host in CASSANDRA_HOSTS):
        if time.monotonic() > deadline:
            raise StackError(f"the Cassandra ring did not form within {within:.0f} s")
        time.sleep(0.5)


def _sees_ring(host: str) -> bool:
    rows = stack.node_query(host, "SELECT address, status_with_port FROM system_views.gossip_info")
    normal = {row.address for row in rows or () if str(row.status_with_port).startswith("NORMAL")}
    return normal >= set(CASSANDRA_HOSTS)


def ring() -> list[Part]:
    return [cassandra_node(host) for host in CASSANDRA_HOSTS]


def start_ring() -> list[Part]:
    """Starts the ring's nodes that are not running, one at a time (each joins a ring
    whose other members are up; two cores); returns those it started."""
    stack.install_cassandra()
    started = [node for node in ring() if stack.start(node)]
    wait_for_ring()
    return started


def start_redis(cluster: RedisCluster) -> list[Part]:
    stack.install_redis()
    started = [node for node in cluster.nodes() if stack.start(node)]
    cluster.form()
    return started


def minio(settings: GatewaySettings) -> Part:
    """MinIO is shared with the single stack (its pid file is the single stack's)."""
    return next(part for part in stack.backends(settings) if part.name == "minio")


def up_backends(settings: GatewaySettings, redis_cluster: RedisCluster = REDIS) -> list[Part]:
    """Starts the datastores that are not running; returns those it started."""
    stack.install_minio()
    started = start_redis(redis_cluster) + start_ring()
    shared = minio(settings)
    if stack.start(shared):
        started.append(shared)
    return started


def applications(settings: GatewaySettings) -> list[Part]:
    return stack.applications(settings, environment(settings), RUN_DIR, LOG_DIR)


def up(settings: GatewaySettings) -> None:
    every_part = [*REDIS.nodes(), *ring(), minio(settings), *applications(settings)]
    if all(part.pid() is not None for part in every_part):
        say("the cluster topology is already up; nothing to do")
    else:
        started_at = time.monotonic()
        up_backends(settings)
        say(f"datastores of the cluster topology ready in {time.monotonic() - started_at:.0f}s")
        stack.prepare_datastores(settings)
        graphiql.install()
        for part in applications(settings):
            stack.start(part)
    say(f"GraphiQL: {stack.gateway_url(settings)}/graphql")
    logs = LOG_DIR.relative_to(stack.ROOT)
    say(f"logs: {logs}/<part>.log; stop with `make down TOPOLOGY=cluster`")


def down(settings: GatewaySettings) -> None:
    """Stops the cluster topology, and MinIO unless the single stack still uses it."""
    parts = [*REDIS.nodes(), *ring(), *applications(settings)]
    single = [part for part in stack.backends(settings) if part.name != "minio"]
    if not any(part.pid() is not None for part in single):
        parts.insert(0, minio(settings))
    stopped = [part.name for part in reversed(parts) if stack.stop(part)]
    say(f"stopped {', '.join(stopped)}" if stopped else "nothing of the cluster was running")


def all_parts(settings: GatewaySettings) -> list[stack.Part]:
    """Every part of the cluster topology, datastore nodes first."""
    return [*REDIS.nodes(), *ring(), *applications(settings)]


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.cluster")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--backends", action="store_true", help="only the datastores")
    args = parser.parse_args(argv)
    cluster = settings()
    # Whatever this process runs (migrations, the applications) sees the cluster.
    os.environ.update(environment(cluster))
    return stack.run(args.command, args.backends, cluster, up_backends, up, down, all_parts)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
