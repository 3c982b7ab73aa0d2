"""Password hashing with argon2id: off the event loop (it is deliberately slow), and
bounded, so a burst of sign-ups or log-ins cannot queue up past its callers' deadlines.

At most ``argon2_concurrency`` hashes run at once, on threads of their own (each holds
``argon2_memory_kib`` of memory while it runs). A caller is let in only if the hashes
ahead of it and its own are expected to end within its share of its deadline, judged
by how long hashes have been taking; otherwise it is told at once to retry later
(RateLimited, with a hint), and a caller whose turn does not come in time is told the
same before its deadline, never left to time out.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from graph_svc.config import GraphSettings
from pictor.errors import RateLimited

T = TypeVar("T")

# The share of a call's remaining deadline that hashing (waiting included) may take;
# the rest is for the account's reads and writes and the way back.
HASHING_SHARE = 0.6
# Weight of the newest hash in the running estimate of how long one takes.
_NEWEST_WEIGHT = 0.25


class Passwords:
    def __init__(self, settings: GraphSettings) -> None:
        self._hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
        )
        self._concurrency = settings.argon2_concurrency
        self._default_deadline = settings.grpc_deadline_seconds
        self._threads = ThreadPoolExecutor(self._concurrency, thread_name_prefix="argon2")
        self._turns = asyncio.Semaphore(self._concurrency)
        # Hashes running or waiting for their turn.
        self._admitted = 0
        started = time.monotonic()
        # Checked against when the username is unknown, so a miss costs what a hit
        # costs and response times do not reveal which usernames exist.
        self._decoy = self._hasher.hash("decoy password, never matches")
        # How long one hash takes (wall clock, alongside the others), measured.
        self._hash_seconds = time.monotonic() - started

    async def hash(self, password: str, within: float | None = None) -> str:
        """The hash of ``password``, for a caller with ``within`` seconds left (None:
        the default deadline)."""
        return await self._bounded(partial(self._hasher.hash, password), within)

    async def verify(
        self, stored_hash: str | None, password: str, within: float | None = None
    ) -> bool:
        def check() -> bool:
            try:
                return self._hasher.verify(stored_hash or self._decoy, password)
            except (VerificationError, InvalidHashError):
                return False

        matched = await self._bounded(check, within)
        return matched and stored_hash is not None

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)

    async def _bounded(self, work: Callable[[], T], within: float | None) -> T:
        budget = HASHING_SHARE * (self._default_deadline if within is None else within)
        # The hashes ahead of this one end in rounds of ``concurrency``; then this one.
        expected = (self._admitted // self._concurrency + 1) * self._hash_seconds
        if expected > budget:
            raise self._busy(expected - budget)
        self._admitted += 1
        try:
            try:
                async with asyncio.timeout(budget - self._hash_seconds):
                    await self._turns.acquire()
            except TimeoutError:
                raise self._busy(self._hash_seconds) from None
            try:
                started = time.monotonic()
                result = await asyncio.get_running_loop().run_in_executor(self._threads, work)
                self._learn(time.monotonic() - started)
                return result
            finally:
                self._turns.release()
        finally:
            self._admitted -= 1

    def _learn(self, seconds: float) -> None:
        self._hash_seconds += _NEWEST_WEIGHT * (seconds - self._hash_seconds)

    def _busy(self, seconds: float) -> RateLimited:
        retry_after = max(1, math.ceil(seconds))
        return RateLimited(
            f"too many sign-ups and log-ins at once; try again in {retry_after}s",
            retry_after_seconds=retry_after,
        )
