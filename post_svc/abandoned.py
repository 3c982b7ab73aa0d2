"""Abandoned uploads: posts whose photo never came (no PUT, no confirm, an upload that
was refused) are deleted once the upload's lifetime has passed.

Pending posts are filed by the minute they were created (``pending_uploads``), so a
sweep reads only the minutes it has not finished yet, never the table of posts. What
it finds still PENDING past the grace goes through the lifecycle (``abandon``): the
row is deleted only if still PENDING, and ``post.deleted`` makes the media worker
remove whatever reached the object store. Every replica may sweep at once: deleting
twice is harmless, and the shared progress mark only saves work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from prometheus_client import Counter

from post_svc.lifecycle import PostLifecycle
from post_svc.store import PENDING_MINUTE_MS, PENDING_SHARDS, PostStore, first_id_at

log = logging.getLogger(__name__)

# Pending posts read (and deleted at once) per request.
_PAGE = 200
# Where a sweep starts when none has run yet: pending posts are filed only since the
# table exists, so an hour back is plenty.
_FIRST_SWEEP_MINUTES = 60

ABANDONED = Counter(
    "pictor_abandoned_uploads", "Posts deleted because their photo never came (PENDING too long)."
)


class AbandonedUploads:
    def __init__(
        self,
        store: PostStore,
        lifecycle: PostLifecycle,
        grace_seconds: float,
        period_seconds: float,
    ) -> None:
        self._store = store
        self._lifecycle = lifecycle
        self._grace_ms = int(grace_seconds * 1000)
        self._period = period_seconds

    async def run(self, stopping: asyncio.Event) -> None:
        """Sweeps every period until stopping; a failed sweep is retried the next time."""
        while not stopping.is_set():
            try:
                await self.sweep()
            except Exception:
                log.exception("sweeping abandoned uploads failed; retrying in %ss", self._period)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stopping.wait(), self._period)

    async def sweep(self) -> int:
        """Deletes the posts still PENDING past the grace; returns how many."""
        cutoff_ms = int(time.time() * 1000) - self._grace_ms
        before_id = first_id_at(cutoff_ms)
        # The cutoff's own minute is swept only up to the cutoff, so it stays unfinished.
        last = cutoff_ms // PENDING_MINUTE_MS
        swept_through = await self._store.swept_through()
        first = last - _FIRST_SWEEP_MINUTES if swept_through is None else swept_through + 1
        deleted = 0
        for minute in range(first, last + 1):
            counts = await asyncio.gather(
                *(
                    self._sweep_partition(minute, shard, before_id)
                    for shard in range(PENDING_SHARDS)
                )
            )
            deleted += sum(counts)
            if minute < last:
                await self._store.set_swept_through(minute)
        return deleted

    async def _sweep_partition(self, minute: int, shard: int, before_id: int) -> int:
        deleted = 0
        after_id = 0
        while True:
            page = await self._store.pending_before(minute, shard, before_id, after_id, _PAGE)
            gone = await asyncio.gather(
                *(self._lifecycle.abandon(post_id, author_id) for post_id, author_id in page)
            )
            deleted += sum(gone)
            ABANDONED.inc(sum(gone))
            if len(page) < _PAGE:
                return deleted
            after_id = page[-1][0]
