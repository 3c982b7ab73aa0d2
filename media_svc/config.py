"""media_svc settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pictor.config import Settings


class MediaSettings(Settings):
    max_upload_bytes: int = 20 * 1024 * 1024
    max_pixels: int = 40_000_000
    # Lifetime of the signed GET URLs put in responses.
    media_url_ttl_seconds: int = 3600
    # How long an upload status stream waits for processing to end.
    processing_timeout_seconds: float = 120.0
    # Photos processed at once by one worker process (libvips uses threads too).
    worker_concurrency: int = 2
    # Unconfirmed raw uploads expire (bucket lifecycle rule), in days.
    raw_upload_expiry_days: int = 1
