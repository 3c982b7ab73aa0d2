"""Snowflake ids: 64-bit, time-ordered, unique across instances.

Layout (most significant first): 41 bits of milliseconds since PICTOR_EPOCH,
10 bits of worker id, 12 bits of sequence within the millisecond. Sorting ids
sorts by creation time, so "newest first" is "largest id first".
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z
# Every id (users, posts) is a positive signed 64-bit integer: what CQL bigint and
# protobuf int64 hold. A number outside is no id of ours, whatever sent it.
ID_MAX = (1 << 63) - 1
WORKER_BITS = 10
SEQUENCE_BITS = 12
MAX_WORKER = (1 << WORKER_BITS) - 1
_SEQUENCE_MASK = (1 << SEQUENCE_BITS) - 1


class SnowflakeGenerator:
    def __init__(self, worker_id: int) -> None:
        if not 0 <= worker_id <= MAX_WORKER:
            raise ValueError(f"worker id must be in 0..{MAX_WORKER}")
        self._worker_id = worker_id
        self._last_ms = -1
        self._sequence = 0
        self._lock = threading.Lock()

    @staticmethod
    def _now_ms() -> int:
        return time.time_ns() // 1_000_000

    def next_id(self) -> int:
        with self._lock:
            now = max(self._now_ms(), self._last_ms)  # never go back if the clock does
            if now == self._last_ms:
                self._sequence = (self._sequence + 1) & _SEQUENCE_MASK
                if self._sequence == 0:  # 4096 ids this millisecond: borrow the next one
                    now += 1
            else:
                self._sequence = 0
            self._last_ms = now
            return (
                ((now - EPOCH_MS) << (WORKER_BITS + SEQUENCE_BITS))
                | (self._worker_id << SEQUENCE_BITS)
                | self._sequence
            )


def is_id(number: int) -> bool:
    return 0 < number <= ID_MAX


def timestamp_ms(snowflake: int) -> int:
    """Unix milliseconds at which the id was made (exact as a Redis score: < 2**53)."""
    return (snowflake >> (WORKER_BITS + SEQUENCE_BITS)) + EPOCH_MS


def created_at(snowflake: int) -> datetime:
    return datetime.fromtimestamp(timestamp_ms(snowflake) / 1000, UTC)
