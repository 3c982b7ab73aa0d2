"""The single-node stack and the cluster topology (``make up TOPOLOGY=cluster``) side by
side in one run: homeFeed pages/s by wrk and fan-out writes/s on each; on the cluster,
the failover window of a Cassandra node and of the Redis primary serving
``follow.changed`` killed (-9) under a probe that follows, unfollows and reads every
50 ms, from the kill to the last failed request. The cluster's nodes are killed: run
it on a stack nobody else is using.

The datastores' CPU per page and per write is metered node by node (each Redis and
Cassandra node of the cluster by its pid file) and summed per datastore, beside the
single node's one process of each.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import redis

from bench.accounts import signed_in
from bench.backend import audience, connected, create_posts, import_users, landed, publish
from bench.home_feed import HOME_FEED, PAGE, reading
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import CpuMeter
from bench.target import Target
from harness.graphql import GraphQLClient
from harness.processes import kill
from harness.waiting import wait_until
from infra.local import cluster, stack
from media_svc.config import MediaSettings
from pictor import events
from pictor.redis_client import PooledCluster

NAME = "cluster"
# Fan-out bursts: followers per author (below the celebrity threshold: pushed, not
# pulled), authors, posts.
FOLLOWERS, AUTHORS, POSTS = 500, 4, 40
SMOKE_FOLLOWERS, SMOKE_AUTHORS, SMOKE_POSTS = 12, 2, 4
# What a fan-out burst's CPU is metered on, and the datastores whose cost per operation
# is reported node by node.
FAN_OUT_PROCESSES = ("post_svc", "feed_worker", "graph_svc", "redis", "cassandra")
DATASTORES = ("redis", "cassandra")
# The failover probe: one request every PROBE_SECONDS, and how long after a node is
# back it keeps probing.
PROBE_SECONDS = 0.05
AFTER_BACK_SECONDS = 5.0
FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id } }"
USER_ID = "query($username: String!) { user(username: $username) { id } }"
# The author the failover probe follows and unfollows.
AUTHOR = "bench.cluster.a0"


async def run(bench: BenchRun) -> list[Figure]:
    """On the stack the run targets; in a full run, on the cluster topology beside it
    and the failover windows there (a smoke run touches only its own target)."""
    stacks = [(_topology(bench.target), bench.target)]
    figures: list[Figure] = []
    on_cluster = _cluster_target()
    beside = not bench.smoke and not bench.target.settings.redis_cluster
    if beside and not on_cluster.ready():
        why = "not measured: the cluster topology is not up (make up TOPOLOGY=cluster)"
        figures.append(Figure(NAME, "cluster topology", None, "", notes=why))
    elif beside:
        stacks.append(("cluster", on_cluster))
    for topology, target in stacks:
        run_on = BenchRun(target, bench.smoke, bench.say, bench.profiler)
        figures.append(await _feed_pages(run_on, topology))
        figures.append(await _fan_out(run_on, topology))
    if len(stacks) == 2:  # kills the cluster's nodes: a full run only
        figures += await _failover_windows(BenchRun(on_cluster, False, bench.say, bench.profiler))
    return figures


def _topology(target: Target) -> str:
    return "cluster" if target.settings.redis_cluster else "single node"


def _cluster_target() -> Target:
    settings = cluster.settings()
    parts = {part.name: part for part in cluster.applications(settings)}

    def part_pid(name: str) -> int | None:
        part = parts.get(name)
        return part.pid() if part is not None else None

    nodes = {"redis": cluster.REDIS.nodes(), "cassandra": cluster.ring()}
    return Target(stack.gateway_url(settings), settings, MediaSettings(), part_pid, nodes)


def _datastore_cost(
    target: Target, per_process: Mapping[str, float], unit: str
) -> tuple[str, dict[str, Any]]:
    """The datastores' CPU per operation (``unit``, e.g. ``ms/page``) summed over each
    one's nodes, with each node's share, for a figure's notes and details:
    ``datastore CPU ms/page: redis 1.21 (redis-6381 0.40, ...); cassandra ...``."""
    spent = {
        name: {node: per_process[node] for node in target.members(name) if node in per_process}
        for name in DATASTORES
    }
    words, details = [], {}
    for name, nodes in spent.items():
        if not nodes:
            continue  # not running, or not metered
        total = sum(nodes.values())
        shares = ", ".join(f"{node} {value:.2f}" for node, value in nodes.items())
        words.append(f"{name} {total:.2f}" + ("" if list(nodes) == [name] else f" ({shares})"))
        rounded = {node: round(value, 4) for node, value in nodes.items()}
        details[name] = {"total": round(total, 4), "nodes": rounded}
    key = "datastore_cpu_" + unit.replace("/", "_per_")
    return f"datastore CPU {unit}: {'; '.join(words) or 'not metered'}; ", {key: details}


async def _feed_pages(bench: BenchRun, topology: str) -> Figure:
    bench.say(f"{NAME}: homeFeed on the {topology} stack")
    async with reading(bench) as feed:
        await feed.warm(8)
        pages = await feed.with_wrk()
    cost, details = _datastore_cost(bench.target, pages.cpu_ms_per_request(), "ms/page")
    metric = f"homeFeed(first: 12) pages/s, {topology}"
    return pages.rate_figure(NAME, metric, notes=cost, details=details)


@dataclass(frozen=True)
class Burst:
    writes: int
    landed: int
    seconds: float
    # Cores each metered process used over the burst.
    cpu: dict[str, float]

    def figure(self, target: Target, topology: str) -> Figure:
        per_write = {
            name: cores * self.seconds / self.writes * 1e6 for name, cores in self.cpu.items()
        }
        cost, details = _datastore_cost(target, per_write, "us/write")
        return Figure(
            NAME,
            f"fan-out writes/s, {topology}",
            self.writes / self.seconds,
            "/s",
            notes=(
                f"{self.writes} timeline writes in {self.seconds:.2f} s; {self.landed} landed; "
                + cost.removesuffix("; ")
            ),
            details={
                "writes": self.writes,
                "landed": self.landed,
                "seconds": self.seconds,
                "cpu_us_per_write": {name: round(us, 2) for name, us in per_write.items()},
                **details,
            },
        )


async def _fan_out(bench: BenchRun, topology: str) -> Figure:
    followers_each, authors_count, posts = (
        (SMOKE_FOLLOWERS, SMOKE_AUTHORS, SMOKE_POSTS)
        if bench.smoke
        else (FOLLOWERS, AUTHORS, POSTS)
    )
    bench.say(f"{NAME}: fan-out burst of {posts} posts to {followers_each} followers, {topology}")
    async with connected(bench.target) as (clients, client):
        names = [f"bench.cluster.f{number:04d}" for number in range(followers_each)]
        authors = {f"bench.cluster.a{number}": followers_each for number in range(authors_count)}
        _, ids, active = await audience(bench, clients, client, names, authors, 1.0)
        posted_by = [list(ids.values())[n % authors_count] for n in range(posts)]
        made = await create_posts(clients, client, posted_by, "bench cluster")
        meter = CpuMeter(bench.target.pids(*FAN_OUT_PROCESSES))
        meter.start()
        _, seconds = await publish(clients, client, made)
        cpu = meter.stop()
        found = await landed(client, sorted(active), made)
    return Burst(posts * len(active), found, seconds, cpu).figure(bench.target, topology)


@dataclass
class Probe:
    """A viewer following, unfollowing and reading through the gateway, all the time."""

    client: GraphQLClient
    author_id: str
    failures: list[tuple[float, str]]
    requests: int = 0

    async def run(self, stopping: asyncio.Event) -> None:
        calls = (
            (FOLLOW, {"id": self.author_id}),
            (HOME_FEED, {"first": PAGE}),
            (UNFOLLOW, {"id": self.author_id}),
        )
        while not stopping.is_set():
            query, variables = calls[self.requests % len(calls)]
            self.requests += 1
            try:
                result = await asyncio.wait_for(self.client.execute(query, variables), 10)
                errors = result.get("errors")
                if errors:
                    code = errors[0].get("extensions", {}).get("code", "NO CODE")
                    self.failures.append((time.monotonic(), str(code)))
            except Exception as error:  # the transport failing is a failure too
                self.failures.append((time.monotonic(), type(error).__name__))
            await asyncio.sleep(PROBE_SECONDS)  # the probe's pace


async def _failover_windows(bench: BenchRun) -> list[Figure]:
    async with connected(bench.target) as (clients, client), bench.graphql() as anonymous:
        assert isinstance(client, PooledCluster)
        viewer = await signed_in(clients, bench.allowance, anonymous, "bench.cluster.viewer")
        await import_users(clients, [AUTHOR])
        author = (await viewer.data(USER_ID, {"username": AUTHOR}))["user"]["id"]
        probe = Probe(viewer, author, [])
        stopping = asyncio.Event()
        probing = asyncio.create_task(probe.run(stopping))
        try:
            return [
                await _lose_cassandra_node(bench, probe),
                await _lose_redis_primary(bench, client, probe),
            ]
        finally:
            stopping.set()
            await probing


async def _lose_cassandra_node(bench: BenchRun, probe: Probe) -> Figure:
    host = cluster.CASSANDRA_HOSTS[-1]
    part = cluster.cassandra_node(host)
    bench.say(f"{NAME}: killing Cassandra {host}")
    killed = kill(part)
    await asyncio.sleep(AFTER_BACK_SECONDS)  # the ring of two under the probe
    await asyncio.to_thread(stack.start, part)
    await asyncio.to_thread(cluster.wait_for_ring)
    back = time.monotonic()
    await asyncio.sleep(AFTER_BACK_SECONDS)  # the probe goes on after it is back
    return _window_figure(f"Cassandra node {host}", probe, killed, killed, back)


async def _lose_redis_primary(bench: BenchRun, client: PooledCluster, probe: Probe) -> Figure:
    await client.initialize()
    primary = client.get_node_from_key(events.FOLLOW_CHANGED)
    assert primary is not None
    port = int(primary.port)
    part = cluster.REDIS.node(port)
    bench.say(f"{NAME}: killing the Redis primary on {port} (follow.changed's slot)")
    killed = kill(part)
    others = [p for p in cluster.REDIS.ports if p != port]

    async def promoted_replica() -> bool:
        return await asyncio.to_thread(_primaries, others) == 3

    await wait_until(promoted_replica, within=60, interval=0.05)
    promoted = time.monotonic()
    await asyncio.to_thread(stack.start, part)
    await asyncio.to_thread(cluster.REDIS.form)
    back = time.monotonic()
    await asyncio.sleep(AFTER_BACK_SECONDS)
    return _window_figure(f"Redis primary {port}", probe, killed, promoted, back)


def _primaries(ports: list[int]) -> int:
    """How many of the nodes are primaries now."""
    roles = [redis.Redis(port=port, socket_timeout=1).info("replication") for port in ports]
    return sum(role["role"] == "master" for role in roles)


def _window_figure(
    lost: str, probe: Probe, killed: float, served_again: float, back: float
) -> Figure:
    failed = [(at, code) for at, code in probe.failures if at >= killed]
    window = max((at for at, _ in failed), default=killed) - killed
    late = [code for at, code in failed if at > back + 3.0]
    codes = dict(Counter(code for _, code in failed))
    return Figure(
        NAME,
        f"failover window, {lost} killed",
        window,
        "s",
        notes=(
            f"{len(failed)} failed probe requests {codes or ''}; served again after "
            f"{served_again - killed:.1f} s, back after {back - killed:.1f} s; "
            f"{len(late)} failures more than 3 s after it was back"
        ),
        details={
            "failed": len(failed),
            "codes": codes,
            "served_again_seconds": served_again - killed,
            "back_seconds": back - killed,
            "late_failures": len(late),
        },
    )
