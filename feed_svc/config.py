"""feed_svc settings (``PICTOR_*``), on top of the shared ones."""

from __future__ import annotations

from pictor.config import Settings


class FeedSettings(Settings):
    # Entries kept per home timeline (oldest trimmed on every write).
    feed_max: int = 800
    # Authors with more followers than this are pulled at read time, not pushed.
    celebrity_threshold: int = 10_000
    # Followers not seen for this long get no push; their timeline is rebuilt on read.
    inactive_days: float = 7.0
    # Followers per fan-out job: one message per page, so big fan-outs interleave.
    fanout_page_size: int = 1000

    @property
    def recent_per_author(self) -> int:
        """Posts kept per author for backfill, rebuild and celebrity merge."""
        return max(1, self.feed_max // 4)
