"""post_svc settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pictor.config import Settings


class PostSettings(Settings):
    # Distinct per running instance, so post ids never collide (0..1023).
    worker_id: int = 0
