"""What a GraphQL gateway adds to one RPC: ``user(username:)`` through Pictor's gateway
(one graph_svc GetUserByUsername call) and the same RPC through GraphQL Mesh (v1:
Mesh Compose's gRPC loader over our protos, served by Hive Gateway), both judged
against the bare call, GetUserByUsername over gRPC.

All three are sent by h2load (``bench.h2load``: HTTP/1.1 to the gateways, HTTP/2 to
graph_svc) one after another at the same concurrency and count, for the same existing
user, each after a warm-up and checked before and after. Mesh is installed on demand
(``bench.peers.mesh``), never by a smoke run.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import grpc
import httpx

from bench import peers
from bench.accounts import sign_up_many
from bench.h2load import grpc_message, run_h2load
from bench.peers import PeerUnavailable
from bench.peers import mesh as mesh_peer
from bench.report import Figure, latency_figures
from bench.run import HTTP_TIMEOUT_SECONDS, BenchRun
from bench.stats import LoadResult
from harness.graphql import GraphQLClient, GraphQLError
from pictor.graph.v1 import graph_pb2, graph_pb2_grpc

NAME = "gateway_overhead"
CONCURRENCY = 8
FULL, SMOKE = 400, 3
PROCESSES = ("graph_svc", "cassandra")
RPC_TIMEOUT_SECONDS = 5.0
RPC = "/pictor.graph.v1.GraphService/GetUserByUsername"
GRPC_HEADERS = {"content-type": "application/grpc", "te": "trailers"}
JSON_HEADERS = {"content-type": "application/json"}
# The same fields both ways: our schema's names, and the proto's (which Mesh keeps).
PICTOR_QUERY = """
query($username: String!) {
  user(username: $username) {
    id username displayName bio followerCount followingCount postCount
  }
}
"""
USER_FIELDS = "id username display_name bio follower_count following_count post_count"
MESH_FIELDS = """
{ __schema { queryType { fields { name args { name type { name ofType { name } } } } } } }
"""


async def run(bench: BenchRun) -> list[Figure]:
    count = SMOKE if bench.smoke else FULL
    graph_addr = bench.target.settings.graph_addr
    processes = bench.target.pids(*PROCESSES)

    async with bench.graphql() as anonymous:
        (account,) = await sign_up_many(anonymous, bench.allowance, "bench.overhead", 1)
        username = account.username
        bench.say(f"{NAME}: {count} bare GetUserByUsername calls to {graph_addr}")
        request = graph_pb2.GetUserByUsernameRequest(username=username)
        async with grpc.aio.insecure_channel(graph_addr) as channel:
            stub = graph_pb2_grpc.GraphServiceStub(channel)
            bare = await _checked(
                lambda: _rpc(stub, username),
                f"http://{graph_addr}{RPC}",
                grpc_message(request.SerializeToString()),
                count,
                processes,
            )
        bench.say(f"{NAME}: {count} user(username:) through Pictor's gateway")
        pictor = await _checked(
            lambda: _user(anonymous, PICTOR_QUERY, {"username": username}, "user", username),
            f"{bench.target.gateway_url}/graphql",
            {"query": PICTOR_QUERY, "variables": {"username": username}},
            count,
            {**bench.target.pids("gateway"), **processes},
        )

    bench.say(f"{NAME}: {count} of the same through GraphQL Mesh")
    mesh: LoadResult | None = None
    versions: Mapping[str, str] = {}
    try:
        versions = await peers.ready("GraphQL Mesh", mesh_peer.installed, mesh_peer.install, bench)
        async with (
            mesh_peer.serving(graph_addr) as server,
            httpx.AsyncClient(base_url=server.url, timeout=HTTP_TIMEOUT_SECONDS) as http,
        ):
            client = GraphQLClient(http)
            field, query = await _mesh_query(client)
            variables = {"input": {"username": username}}
            mesh = await _checked(
                lambda: _user(client, query, variables, field, username),
                f"{server.url}/graphql",
                {"query": query, "variables": variables},
                count,
                {**server.pids(), **processes},
            )
    except PeerUnavailable as error:
        reason = str(error)
    except (GraphQLError, httpx.HTTPError, RuntimeError) as error:
        # The peer answered, but not as expected: its figures are missing, ours stand.
        reason = f"GraphQL Mesh failed: {type(error).__name__}: {error}"
    else:
        reason = f"{', '.join(f'{n} {v}' for n, v in versions.items())}; query {field}(input:); "

    mesh_metric = "user(username:) via GraphQL Mesh"
    return [
        *_figures("GetUserByUsername, bare gRPC (h2load)", bare, None),
        *_figures("user(username:) via Pictor gateway", pictor, bare, _versus(pictor, mesh)),
        *(
            _figures(mesh_metric, mesh, bare, reason)
            if mesh
            else [Figure(NAME, mesh_metric, None, "ms", notes=reason)]
        ),
    ]


async def _measure(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    count: int,
    processes: Mapping[str, int],
    http1: bool = True,
) -> LoadResult:
    """A warm-up, then ``count`` requests timed."""

    async def load(times: int, watched: Mapping[str, int]) -> LoadResult:
        return await run_h2load(
            url, body, headers, count=times, connections=CONCURRENCY, http1=http1, processes=watched
        )

    await load(4 * CONCURRENCY, {})
    return await load(count, processes)


async def _checked(
    check: Callable[[], Awaitable[None]],
    url: str,
    body: Mapping[str, Any] | bytes,
    count: int,
    processes: Mapping[str, int],
) -> LoadResult:
    """h2load reads no body: the answer is checked here before and after the load."""
    await check()
    if isinstance(body, bytes):
        result = await _measure(url, body, GRPC_HEADERS, count, processes, http1=False)
    else:
        result = await _measure(url, json.dumps(body).encode(), JSON_HEADERS, count, processes)
    await check()
    return result


async def _rpc(stub: graph_pb2_grpc.GraphServiceStub, username: str) -> None:
    request = graph_pb2.GetUserByUsernameRequest(username=username)
    response = await stub.GetUserByUsername(request, timeout=RPC_TIMEOUT_SECONDS)
    if response.user.username != username:
        raise RuntimeError(f"GetUserByUsername returned {response.user.username!r}")


async def _user(
    client: GraphQLClient, query: str, variables: dict[str, Any], field: str, username: str
) -> None:
    found = (await client.data(query, variables))[field]
    user = found.get("user", found) if found else None
    if not user or user["username"] != username:
        raise RuntimeError(f"{field} returned {found!r}")


async def _mesh_query(client: GraphQLClient) -> tuple[str, str]:
    """The field Mesh made for GetUserByUsername (for our protos
    ``pictor_graph_v1_GraphService_GetUserByUsername(input: ...)``) and a query of it."""
    fields = (await client.data(MESH_FIELDS))["__schema"]["queryType"]["fields"]
    matching = [field for field in fields if field["name"].endswith("GetUserByUsername")]
    if len(matching) != 1:
        names = [field["name"] for field in fields]
        raise RuntimeError(f"no single GetUserByUsername field in Mesh's Query: {names}")
    (field,) = matching
    (argument,) = [arg["type"] for arg in field["args"] if arg["name"] == "input"]
    input_type = argument["name"] or argument["ofType"]["name"]
    name = field["name"]
    query = (
        f"query($input: {input_type}) {{ {name}(input: $input) {{ user {{ {USER_FIELDS} }} }} }}"
    )
    return name, query


def _versus(ours: LoadResult, mesh: LoadResult | None) -> str:
    if mesh is None or not mesh.samples:
        return ""
    theirs = mesh.percentiles
    parts = [f"p{p} {(s or 0) / (theirs[p] or 1):.2f}x" for p, s in ours.percentiles.items()]
    throughput = ours.throughput / mesh.throughput if mesh.throughput else 0.0
    return f"Pictor/Mesh: {', '.join(parts)}, throughput {throughput:.2f}x; "


def _figures(
    metric: str, result: LoadResult, baseline: LoadResult | None, notes: str = ""
) -> list[Figure]:
    """p50, p95, p99 and throughput; the summary (with the generator's CPU) on p50."""
    return [
        *latency_figures(NAME, metric, result, baseline, notes=notes),
        Figure(
            NAME,
            f"{metric} throughput",
            result.throughput,
            "/s",
            baseline=baseline.throughput if baseline else None,
            concurrency=result.concurrency,
        ),
    ]
