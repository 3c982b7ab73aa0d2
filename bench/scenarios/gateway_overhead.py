"""What a GraphQL gateway adds to one RPC: ``user(username:)`` through Pictor's gateway
(one graph_svc GetUserByUsername call) and the same RPC through GraphQL Mesh (v1:
Mesh Compose's gRPC loader over our protos, served by Hive Gateway), both judged
against the bare call, GetUserByUsername over grpc.aio from this process.

The three run one after another at the same concurrency and count, for the same
existing user, each after a warm-up; the load generator's CPU share is in the notes.
Mesh is installed on demand (``bench.peers.mesh``), never by a smoke run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import grpc
import httpx

from bench.accounts import sign_up_many
from bench.peers import PeerUnavailable, Server
from bench.peers import mesh as mesh_peer
from bench.report import Figure, latency_figures
from bench.run import HTTP_TIMEOUT_SECONDS, BenchRun
from bench.stats import LoadResult, Operation, run_load
from harness.graphql import GraphQLClient, GraphQLError
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc

NAME = "gateway_overhead"
CONCURRENCY = 8
PROCESSES = ("graph_svc", "cassandra")
RPC_TIMEOUT_SECONDS = 5.0
# The same fields both ways: our schema's names, and the proto's (which Mesh keeps).
PICTOR_QUERY = """
query($username: String!) {
  user(username: $username) {
    id username displayName bio followerCount followingCount postCount
  }
}
"""
USER_FIELDS = (
    "id",
    "username",
    "display_name",
    "bio",
    "follower_count",
    "following_count",
    "post_count",
)
INTROSPECT_QUERY_FIELDS = """
{ __schema { queryType { fields {
  name
  args { name type { kind name ofType { kind name } } }
  type { name fields { name type { name kind ofType { name kind } } } }
} } } }
"""
INTROSPECT_TYPE = "query($name: String!) { __type(name: $name) { fields { name } } }"


@dataclass(frozen=True)
class Counts:
    operations: int
    warm_up: int


FULL = Counts(operations=400, warm_up=4 * CONCURRENCY)
SMOKE = Counts(operations=3, warm_up=2)


@dataclass(frozen=True)
class MeshQuery:
    """The query Mesh generated for GetUserByUsername, found by introspection."""

    text: str
    field: str
    input_type: str

    def variables(self, username: str) -> dict[str, Any]:
        return {"input": {"username": username}}


async def run(bench: BenchRun) -> list[Figure]:
    counts = SMOKE if bench.smoke else FULL
    graph_addr = bench.target.settings.graph_addr
    processes = bench.target.pids(*PROCESSES)

    async with bench.graphql() as anonymous:
        (account,) = await sign_up_many(anonymous, bench.allowance, "bench.overhead", 1)
        username = account.username

        bench.say(f"{NAME}: {counts.operations} bare GetUserByUsername calls to {graph_addr}")
        async with grpc.aio.insecure_channel(graph_addr) as channel:
            stub = graph_pb2_grpc.GraphServiceStub(channel)
            bare = await _measure(_bare(stub, username), counts, processes)

        bench.say(f"{NAME}: {counts.operations} user(username:) through Pictor's gateway")
        pictor = await _measure(
            _pictor(anonymous, username), counts, {**bench.target.pids("gateway"), **processes}
        )

    bench.say(f"{NAME}: {counts.operations} of the same through GraphQL Mesh")
    mesh: LoadResult | None = None
    mesh_versions: Mapping[str, str] = {}
    query: MeshQuery | None = None
    try:
        mesh_versions = await _mesh_installed(bench)
        async with mesh_peer.serving(graph_addr) as server:
            mesh, query = await _through_mesh(server, username, counts, processes)
    except PeerUnavailable as error:
        reason = str(error)
    except (GraphQLError, httpx.HTTPError, RuntimeError) as error:
        # The peer answered, but not as expected: its figures are missing, ours stand.
        reason = f"GraphQL Mesh failed: {type(error).__name__}: {error}"
    else:
        reason = ""

    figures = [
        *_figures("GetUserByUsername, bare gRPC (grpc.aio)", bare, None),
        *_figures(
            "user(username:) via Pictor gateway",
            pictor,
            bare,
            notes=_versus(pictor, mesh),
            details={"query": PICTOR_QUERY.strip()},
        ),
    ]
    mesh_metric = "user(username:) via GraphQL Mesh"
    if mesh is None or query is None:
        return [*figures, Figure(NAME, mesh_metric, None, "ms", notes=reason)]
    versions = ", ".join(f"{name} {version}" for name, version in mesh_versions.items())
    return [
        *figures,
        *_figures(
            mesh_metric,
            mesh,
            bare,
            notes=f"{versions}; query {query.field}(input:); ",
            details={"query": query.text, "versions": dict(mesh_versions)},
        ),
    ]


async def _measure(
    operation: Operation, counts: Counts, processes: Mapping[str, int]
) -> LoadResult:
    warm = await run_load(operation, concurrency=CONCURRENCY, count=counts.warm_up)
    if warm.errors:
        raise RuntimeError(f"warm-up failed: {warm.first_error}")
    return await run_load(
        operation, concurrency=CONCURRENCY, count=counts.operations, processes=processes
    )


def _bare(stub: graph_pb2_grpc.GraphServiceStub, username: str) -> Operation:
    request = graph_pb2.GetUserByUsernameRequest(username=username)

    async def call(_: int) -> None:
        response = await stub.GetUserByUsername(request, timeout=RPC_TIMEOUT_SECONDS)
        if response.user.username != username:
            raise RuntimeError(f"GetUserByUsername returned {response.user.username!r}")

    return call


def _pictor(client: GraphQLClient, username: str) -> Operation:
    async def query(_: int) -> None:
        user = (await client.data(PICTOR_QUERY, {"username": username}))["user"]
        if not user or user["username"] != username:
            raise RuntimeError(f"user(username:) returned {user!r}")

    return query


async def _mesh_installed(bench: BenchRun) -> Mapping[str, str]:
    versions = mesh_peer.installed()
    if versions is not None:
        return versions
    if bench.smoke:
        raise PeerUnavailable(
            f"GraphQL Mesh is not installed in {mesh_peer.PREFIX} (smoke runs never install peers)"
        )
    bench.say(f"{NAME}: installing GraphQL Mesh into {mesh_peer.PREFIX} (npm install --prefix)")
    return await asyncio.to_thread(mesh_peer.install)


async def _through_mesh(
    server: Server, username: str, counts: Counts, processes: Mapping[str, int]
) -> tuple[LoadResult, MeshQuery]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(
        base_url=server.url, timeout=HTTP_TIMEOUT_SECONDS, limits=limits
    ) as http:
        client = GraphQLClient(http)
        query = await _mesh_query(client)

        async def call(_: int) -> None:
            response = (await client.data(query.text, query.variables(username)))[query.field]
            user = response and response["user"]
            if not user or user["username"] != username:
                raise RuntimeError(f"{query.field} returned {response!r}")

        result = await _measure(call, counts, {**server.pids(), **processes})
    return result, query


async def _mesh_query(client: GraphQLClient) -> MeshQuery:
    """Introspects Mesh's schema for the field that calls GetUserByUsername (for our
    protos ``pictor_graph_v1_GraphService_GetUserByUsername(input: ...)``)."""
    fields = (await client.data(INTROSPECT_QUERY_FIELDS))["__schema"]["queryType"]["fields"]
    matching = [field for field in fields if field["name"].endswith("GetUserByUsername")]
    if len(matching) != 1:
        names = [field["name"] for field in fields]
        raise RuntimeError(f"no single GetUserByUsername field in Mesh's Query: {names}")
    (field,) = matching
    (argument,) = [arg for arg in field["args"] if arg["name"] == "input"]
    argument_type = argument["type"]["name"] or argument["type"]["ofType"]["name"]
    (user,) = [child for child in field["type"]["fields"] if child["name"] == "user"]
    user_type = user["type"]["name"] or user["type"]["ofType"]["name"]
    have = {
        child["name"]
        for child in (await client.data(INTROSPECT_TYPE, {"name": user_type}))["__type"]["fields"]
    }
    missing = [name for name in USER_FIELDS if name not in have]
    if missing:
        raise RuntimeError(f"Mesh's {user_type} lacks {missing}")
    text = (
        f"query($input: {argument_type}) {{\n"
        f"  {field['name']}(input: $input) {{\n"
        f"    user {{ {' '.join(USER_FIELDS)} }}\n"
        "  }\n}"
    )
    return MeshQuery(text, field["name"], argument_type)


def _versus(ours: LoadResult, mesh: LoadResult | None) -> str:
    if mesh is None or not mesh.latencies.count:
        return ""
    parts = [
        f"p{percent} {(ours.latencies.p(percent) or 0) / (mesh.latencies.p(percent) or 1):.2f}x"
        for percent in (50, 95, 99)
    ]
    throughput = ours.throughput / mesh.throughput if mesh.throughput else 0.0
    return f"Pictor/Mesh: {', '.join(parts)}, throughput {throughput:.2f}x; "


def _figures(
    metric: str,
    result: LoadResult,
    baseline: LoadResult | None,
    notes: str = "",
    details: Mapping[str, Any] | None = None,
) -> list[Figure]:
    """p50, p95, p99 and throughput; the summary (with the generator's CPU) on p50."""
    figures = latency_figures(
        NAME, metric, result, baseline, percents=(50, 95, 99), notes=notes, details=details
    )
    figures.append(
        Figure(
            scenario=NAME,
            metric=f"{metric} throughput",
            value=result.throughput,
            unit="/s",
            baseline=baseline.throughput if baseline else None,
            concurrency=result.concurrency,
        )
    )
    return figures
