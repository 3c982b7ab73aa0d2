"""Gateway settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from pictor.config import Settings


class GatewaySettings(Settings):
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8080
    # HS256 signing key of the bearer tokens. The default is for the local stack only.
    jwt_secret: SecretStr = SecretStr("pictor-local-development-secret-change-me")
    jwt_ttl_seconds: int = 7 * 24 * 3600
    # Query limits, checked before anything executes.
    max_query_depth: int = 10
    max_aliases: int = 15
    max_tokens: int = 2000
    # Largest `first` any connection accepts.
    max_page_size: int = 100
    # Most nodes one operation's connections may return (gateway.cost), checked before
    # it runs: e.g. 100 users' 50 followers each is 5,101.
    max_query_cost: int = 5000
    # Persisted queries (gateway.persisted): how long a registered operation is kept
    # unused (0: for good), and the production switch that runs only registered ones.
    persisted_query_ttl_seconds: int = 7 * 24 * 3600
    persisted_only: bool = False
    # How long HTTP caches may keep an anonymous query's answer to a GET (0: revalidate).
    public_max_age_seconds: int = 30
    graphiql: bool = True
    # Sign-up and log-in attempts per client address per minute.
    auth_rate_limit: int = 60
    # What one signed-in viewer may do per minute: posts, and follows plus unfollows.
    post_rate_limit: int = 10
    follow_rate_limit: int = 60
    # Likes plus unlikes, and comments added plus deleted.
    like_rate_limit: int = 120
    comment_rate_limit: int = 30
    # Failed log-ins per username before it is locked for the window.
    login_failure_limit: int = 10
    login_failure_window_seconds: int = 15 * 60
    # Largest request body: a photo at media_svc's limit plus the multipart envelope.
    max_request_bytes: int = 20 * 1024 * 1024 + 64 * 1024
    # Adds extensions.backendCalls (gRPC calls per operation) to every response.
    report_backend_calls: bool = False

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        # RFC 7518 §3.2: an HS256 key at least as long as the hash.
        if len(secret.get_secret_value().encode()) < 32:
            raise ValueError("PICTOR_JWT_SECRET must be at least 32 bytes")
        return secret
