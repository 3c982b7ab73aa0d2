"""`make down` stops the single stack, but not MinIO while the cluster topology, which
shares it, still runs (its uploads would fail). No part is started or stopped here."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.config import GatewaySettings
from infra.local import stack


def stopped(settings: GatewaySettings) -> set[str]:
    return {part.name for part in stack.stopped_by_down(settings)}


def test_make_down_spares_minio_while_the_cluster_topology_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "CLUSTER_RUN_DIR", tmp_path)
    settings = GatewaySettings()
    (tmp_path / "redis-6381.pid").write_text("999999999")  # a node that is gone
    assert "minio" in stopped(settings)

    (tmp_path / "redis-6382.pid").write_text(str(os.getpid()))  # one still running

    assert "minio" not in stopped(settings)
    assert {"cassandra", "redis", "gateway"} <= stopped(settings)
