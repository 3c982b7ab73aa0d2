"""graph_svc settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pictor.config import Settings


class GraphSettings(Settings):
    # Distinct per running instance, so user ids never collide (0..1023).
    worker_id: int = 0
    # argon2id cost (RFC 9106 "second recommended" profile by default).
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 64 * 1024
    argon2_parallelism: int = 4
    # Hashes computed at once; more wait their turn, if it comes within their deadline.
    # Each uses argon2_memory_kib, and the parallelism lanes already share the cores.
    argon2_concurrency: int = 2
    # A sign-up repeated this soon after it created the account (same name, display
    # name and password: its answer was lost) is answered with that account.
    sign_up_retry_window_seconds: float = 600.0
    # An avatar upload not READY (its photo never came, or it failed) expires this long
    # after its last move. Past anything that may still move it: its bytes stream in
    # one call (grpc_stream_deadline_seconds, an hour), and a PROCESSING one can be
    # processed while its raw upload is in the bucket (media_svc's
    # raw_upload_expiry_days, a day), through outages the worker waits out.
    avatar_upload_ttl_seconds: int = 25 * 3600
