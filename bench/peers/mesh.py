"""GraphQL Mesh (v1) in front of graph_svc, as the gateway's peer.

Mesh v1 is two steps: Mesh Compose (``@graphql-mesh/compose-cli`` with the gRPC
loader ``@omnigraph/grpc``) turns ``protos/pictor/graph/v1/graph.proto`` into a
supergraph whose fields call the RPCs, and Hive Gateway (``@graphql-hive/gateway``
with ``@graphql-mesh/transport-grpc``) serves it. Both are installed from npm with
``npm install --prefix .pictor/peers/mesh``, versions pinned below.

``@graphql-tools/delegate`` is held at 12.2.1: the npm registry reachable here does not
carry ``@graphql-tools/batch-execute`` 10.3.x, which delegate 12.3.x requires, so
an unpinned install fails with ETARGET.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from bench import peers
from harness.net import free_port
from infra.local import stack

PACKAGES = {
    "@graphql-mesh/compose-cli": "1.8.2",
    "@omnigraph/grpc": "0.2.28",
    "@graphql-hive/gateway": "2.15.1",
    "@graphql-mesh/transport-grpc": "0.7.0",
    "graphql": "16.15.0",
}
OVERRIDES = {"@graphql-tools/delegate": "12.2.1"}
# Recorded as installed, beside the packages asked for.
_REPORTED = ("@graphql-hive/gateway", "@graphql-mesh/compose-cli", "@omnigraph/grpc")
PREFIX = peers.PEERS_DIR / "mesh"
_MARKER = PREFIX / "pictor-installed.json"
_BIN = PREFIX / "node_modules" / ".bin"
PROTOS = stack.ROOT / "protos"
GRAPH_PROTO = PROTOS / "pictor" / "graph" / "v1" / "graph.proto"
SUBGRAPH = "Graph"


def _wanted() -> dict[str, object]:
    return {"packages": PACKAGES, "overrides": OVERRIDES}


def installed() -> dict[str, str] | None:
    """Versions of a completed install of the pinned packages (and node's), or None."""
    facts = peers.read_marker(_MARKER)
    if not facts or facts.get("wanted") != _wanted():
        return None
    if not all((_BIN / tool).exists() for tool in ("mesh-compose", "hive-gateway")):
        return None
    versions: dict[str, str] = facts["versions"]
    return versions


def install() -> dict[str, str]:
    """``npm install --prefix .pictor/peers/mesh`` of the pinned packages; raises
    PeerUnavailable with npm's error when that fails here."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        raise peers.PeerUnavailable("GraphQL Mesh needs node and npm, and they are not on PATH")
    return peers.installed_once("mesh", installed, _MARKER, functools.partial(_install, npm, node))


def _install(npm: str, node: str, log: Path) -> dict[str, str]:
    PREFIX.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": "pictor-bench-mesh",
        "private": True,
        "dependencies": PACKAGES,
        "overrides": OVERRIDES,
    }
    (PREFIX / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    peers.run_logged(
        [npm, "install", "--prefix", PREFIX, "--no-audit", "--no-fund", "--loglevel=error"],
        log,
    )
    versions = {"node": peers.run_logged([node, "--version"], log).strip().lstrip("v")}
    for package in (*_REPORTED, *OVERRIDES):
        meta = PREFIX / "node_modules" / package / "package.json"
        versions[package] = json.loads(meta.read_text())["version"]
    peers.write_marker(_MARKER, {"wanted": _wanted(), "versions": versions})
    return versions


def compose_config(graph_addr: str) -> str:
    source = {
        "file": str(GRAPH_PROTO),
        "load": {"defaults": True, "includeDirs": [str(PROTOS)]},
    }
    return (
        "import { defineConfig } from '@graphql-mesh/compose-cli';\n"
        "import { loadGrpcSubgraph } from '@omnigraph/grpc';\n\n"
        "export const composeConfig = defineConfig({\n"
        "  subgraphs: [{\n"
        f"    sourceHandler: loadGrpcSubgraph({json.dumps(SUBGRAPH)}, {{\n"
        f"      endpoint: {json.dumps(graph_addr)},\n"
        f"      source: {json.dumps(source)},\n"
        "    }),\n"
        "  }],\n"
        "});\n"
    )


@asynccontextmanager
async def serving(graph_addr: str) -> AsyncIterator[peers.Server]:
    """Composes the supergraph of graph_svc at ``graph_addr`` and serves it with Hive
    Gateway (one process, no fork) on a free port; stopped on the way out."""
    if installed() is None:
        raise peers.PeerUnavailable(f"GraphQL Mesh is not installed in {PREFIX}")
    # Under the prefix, so the config's imports resolve to its node_modules.
    with tempfile.TemporaryDirectory(prefix="run-", dir=PREFIX) as folder:
        run = Path(folder)
        (run / "compose").mkdir()
        (run / "compose" / "mesh.config.mjs").write_text(compose_config(graph_addr))
        supergraph = run / "supergraph.graphql"
        compose_log = peers.LOG_DIR / "mesh-compose.log"
        compose_log.unlink(missing_ok=True)
        peers.run_logged(
            [_BIN / "mesh-compose", "--output", supergraph],
            compose_log,
            cwd=run / "compose",
            timeout=120,
        )
        port = free_port()
        command = [
            str(_BIN / "hive-gateway"),
            *("supergraph", str(supergraph), "--host", "127.0.0.1", "--port", str(port)),
            *("--fork", "1"),
        ]
        server = peers.Server.start(
            "mesh",
            command,
            f"http://127.0.0.1:{port}",
            cwd=run,
            env={"NODE_ENV": "production", "LOG_LEVEL": "warn"},
        )
        try:
            await server.ready("/readiness")
            yield server
        finally:
            server.stop()
