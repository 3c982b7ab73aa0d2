"""Settings come from PICTOR_* variables, with defaults for the local stack."""

from __future__ import annotations

import pytest

from pictor.config import Settings


def test_defaults_describe_the_local_stack() -> None:
    settings = Settings()
    assert settings.graph_addr == "127.0.0.1:50051"
    assert settings.media_addr == "127.0.0.1:50054"
    assert settings.cql_port == 9042
    assert settings.redis_url.startswith("redis://127.0.0.1:6379")


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOR_GRAPH_ADDR", "graph-svc:7000")
    monkeypatch.setenv("PICTOR_BIND_HOST", "0.0.0.0")
    monkeypatch.setenv("PICTOR_CQL_HOSTS", '["scylla-0", "scylla-1"]')
    settings = Settings()
    assert settings.cql_hosts == ("scylla-0", "scylla-1")
    assert settings.bind_addr("graph") == "0.0.0.0:7000"


def test_secrets_never_appear_in_a_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PICTOR_S3_SECRET_KEY", "hunter2-hunter2")
    settings = Settings()
    assert settings.s3_secret_key.get_secret_value() == "hunter2-hunter2"
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.model_dump())
