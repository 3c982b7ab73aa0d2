"""post_svc settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pictor.config import Settings


class PostSettings(Settings):
    # Distinct per running instance, so post ids never collide (0..1023).
    worker_id: int = 0
    # A post still PENDING (no photo came) this long after the upload URL's lifetime
    # (upload_url_ttl_seconds) is abandoned: deleted, with whatever reached S3.
    abandoned_upload_grace_seconds: float = 60.0
    # How often each replica looks for abandoned uploads.
    abandoned_upload_sweep_seconds: float = 60.0
