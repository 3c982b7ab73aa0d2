"""Signed GET URLs for renditions, reused while they have most of their life left.

Signing is CPU (about 0.2 ms a URL, 96 for a feed page), and a fresh signature per
response also defeats every cache between us and the reader. A URL valid for the TTL
is served again for the first half of it, so a client always gets one with at least
half the TTL left, and the same photo has the same URL for a while.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from media_svc.objects import ObjectStore

# Signed URLs remembered (about 300 bytes each).
CAPACITY = 100_000


class UrlSigner:
    def __init__(
        self,
        objects: ObjectStore,
        ttl_seconds: int,
        capacity: int = CAPACITY,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._objects = objects
        self._ttl = ttl_seconds
        self._capacity = capacity
        self._clock = clock
        # key -> (url, signed at), least recently used first
        self._signed: OrderedDict[str, tuple[str, float]] = OrderedDict()

    async def sign(self, keys: Sequence[str]) -> tuple[list[str], datetime]:
        """A URL per key (aligned), and when the first of them expires."""
        now = self._clock()
        reuse_until = now - self._ttl / 2
        stale = list(
            dict.fromkeys(
                key for key in keys if key not in self._signed or self._signed[key][1] < reuse_until
            )
        )
        if stale:
            fresh = await self._objects.presign_get(stale, self._ttl)
            for key, url in zip(stale, fresh, strict=True):
                self._signed[key] = (url, now)
        urls = []
        oldest = now
        for key in keys:
            url, signed_at = self._signed[key]
            self._signed.move_to_end(key)
            urls.append(url)
            oldest = min(oldest, signed_at)
        while len(self._signed) > self._capacity:
            self._signed.popitem(last=False)
        return urls, datetime.fromtimestamp(oldest + self._ttl, UTC)
