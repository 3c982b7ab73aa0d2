"""The gateway against graphql-http's audit of the GraphQL-over-HTTP spec: every MUST
and every SHOULD passes (the MAYs are reported, not required)."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from infra.local import stack
from tests.harness import IsolatedStack

AUDIT = Path(__file__).with_name("graphql_http_audit.mjs")
# Installed by `make test` (npm, pinned in the Makefile), like buf.
TOOLS = stack.STATE / "tools"


def test_the_gateway_passes_every_must_and_should_of_the_graphql_over_http_audit(
    test_stack: IsolatedStack,
) -> None:
    node = shutil.which("node")
    assert node is not None, "node is not on PATH"
    assert (TOOLS / "node_modules" / "graphql-http").is_dir(), (
        "graphql-http is not installed: run `make tools` (or `make test`)"
    )
    run = subprocess.run(
        [node, str(AUDIT), str(TOOLS), f"{test_stack.gateway_url}/graphql"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    results = json.loads(run.stdout)

    passed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    failed = []
    for result in results:
        level = result["name"].split(" ", 1)[0]
        total[level] += 1
        if result["status"] == "ok":
            passed[level] += 1
        elif level in ("MUST", "SHOULD"):
            failed.append(result)
    print(
        "graphql-http audit: "
        + ", ".join(
            f"{level} {passed[level]}/{total[level]}" for level in ("MUST", "SHOULD", "MAY")
        )
    )
    assert total["MUST"], results
    assert total["SHOULD"], results
    assert not failed, json.dumps(failed, indent=2)
