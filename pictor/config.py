"""Settings shared by every process, read once from ``PICTOR_*`` environment variables.

Defaults match the local stack that ``make up`` starts. Each service extends
:class:`Settings` with its own fields in its ``config.py``.
"""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

ServiceName = Literal["graph", "post", "feed", "media", "media_worker", "feed_worker"]
Consistency = Literal["ONE", "LOCAL_ONE", "QUORUM", "LOCAL_QUORUM", "ALL"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PICTOR_", frozen=True, extra="ignore")

    # Where each gRPC service listens (host:port). A service binds to its own port
    # on bind_host; every other process dials the address.
    graph_addr: str = "127.0.0.1:50051"
    post_addr: str = "127.0.0.1:50052"
    feed_addr: str = "127.0.0.1:50053"
    media_addr: str = "127.0.0.1:50054"
    # Workers serve only health checks, for probes.
    media_worker_addr: str = "127.0.0.1:50055"
    feed_worker_addr: str = "127.0.0.1:50056"
    bind_host: str = "127.0.0.1"
    # Prometheus /metrics of each service and worker, on an HTTP port of its own
    # (the gateway serves /metrics on its HTTP port).
    graph_metrics_port: int = 9451
    post_metrics_port: int = 9452
    feed_metrics_port: int = 9453
    media_metrics_port: int = 9454
    media_worker_metrics_port: int = 9455
    feed_worker_metrics_port: int = 9456
    # Default deadline of every outgoing gRPC call that does not set its own.
    grpc_deadline_seconds: float = 5.0
    # Streams (uploads, processing status, live feeds) live longer than unary calls.
    grpc_stream_deadline_seconds: float = 3600.0
    # How long SIGTERM waits for in-flight calls before cancelling them.
    shutdown_grace_seconds: float = 10.0

    cql_hosts: tuple[str, ...] = ("127.0.0.1",)
    cql_port: int = 9042
    cql_keyspace: str = "pictor"
    cql_local_dc: str = "datacenter1"
    # Used only when the keyspace is created. Production: NetworkTopologyStrategy.
    cql_replication: str = "{'class': 'SimpleStrategy', 'replication_factor': 1}"
    cql_write_consistency: Consistency = "LOCAL_QUORUM"
    cql_read_consistency: Consistency = "LOCAL_ONE"
    # Reads that must see every write acknowledged before them (sign-in right after
    # sign-up, a list right after a follow): a read quorum meets every write quorum.
    cql_fresh_read_consistency: Consistency = "LOCAL_QUORUM"

    redis_url: str = "redis://127.0.0.1:6379/0"
    # A Redis Cluster rather than one server: redis_url then names one seed node (its
    # database must be 0, the only one a cluster has) and redis_cluster_seeds any
    # others as host:port, so a process can start while one seed is down.
    redis_cluster: bool = False
    redis_cluster_seeds: tuple[str, ...] = ()
    # Connections per process; a caller waits this long for one before giving up.
    redis_max_connections: int = 64
    redis_pool_timeout_seconds: float = 5.0
    # How long a hydration cache entry (a post, a profile) or a deleted post's
    # tombstone lives in Redis; a miss after that costs one CQL read.
    hydration_ttl_seconds: int = 86_400

    s3_endpoint: str = "http://127.0.0.1:9000"
    s3_region: str = "us-east-1"
    s3_bucket: str = "pictor-media"
    s3_access_key: str = "pictor"
    s3_secret_key: SecretStr = SecretStr("pictor-local-secret")
    # Lifetime of a pre-signed PUT URL for the two-phase upload: media_svc signs them,
    # post_svc deletes the posts still waiting for their photo after it.
    upload_url_ttl_seconds: int = 900

    # Event workers: how long an unacknowledged message waits before another try, and
    # how many tries before it is dead-lettered.
    worker_claim_idle_ms: int = 30_000
    worker_max_deliveries: int = 5

    log_level: str = "INFO"

    def redis_nodes(self) -> list[tuple[str, int]]:
        """Where a Redis Cluster client starts: redis_url's node, then the other seeds."""
        first = urlsplit(self.redis_url)
        nodes = [(first.hostname or "127.0.0.1", first.port or 6379)]
        for seed in self.redis_cluster_seeds:
            host, port = seed.rsplit(":", 1)
            nodes.append((host, int(port)))
        return nodes

    def service_addr(self, service: ServiceName) -> str:
        addr: str = getattr(self, f"{service}_addr")
        return addr

    def metrics_port(self, service: ServiceName) -> int:
        port: int = getattr(self, f"{service}_metrics_port")
        return port

    def bind_addr(self, service: ServiceName) -> str:
        port = self.service_addr(service).rsplit(":", 1)[1]
        return f"{self.bind_host}:{port}"
