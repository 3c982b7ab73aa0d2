"""Throttles kept in Redis so every gateway replica shares them: sign-up and log-in
attempts per client address per minute, failed log-ins per username (which stops
password guessing spread across many addresses), and what a signed-in viewer may do
per minute (post, follow). Keys carry the address, username or viewer as hash tag,
so they spread over a Redis Cluster."""

from __future__ import annotations

import time
from enum import StrEnum

from gateway.errors import ErrorCode, GatewayError
from pictor.redis_client import RedisClient

_MINUTE = 60


def attempts_key(address: str, at: float) -> str:
    """Where the sign-up and log-in attempts from address are counted in the minute
    of ``at`` (a Unix time)."""
    return f"ratelimit:auth:{{{address}}}:{int(at) // _MINUTE}"


class AuthRateLimiter:
    def __init__(
        self,
        client: RedisClient,
        attempts_per_minute: int,
        failures_allowed: int,
        failure_window_seconds: int,
    ) -> None:
        self._redis = client
        self._attempts_per_minute = attempts_per_minute
        self._failures_allowed = failures_allowed
        self._failure_window = failure_window_seconds

    async def count_attempt(self, address: str) -> None:
        """Counts one sign-up or log-in attempt from address; refuses past the limit."""
        key = attempts_key(address, time.time())
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, _MINUTE * 2)
            attempts, _ = await pipe.execute()
        if attempts > self._attempts_per_minute:
            retry_in = _MINUTE - int(time.time()) % _MINUTE
            raise rate_limited(f"too many attempts; try again in {retry_in}s", retry_in)

    async def check_username(self, username: str) -> None:
        failures = await self._redis.get(self._failures_key(username))
        if failures is not None and int(failures) >= self._failures_allowed:
            raise GatewayError(
                ErrorCode.RATE_LIMITED, "too many failed log-ins for this account; try later"
            )

    async def record_failure(self, username: str) -> None:
        key = self._failures_key(username)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self._failure_window, nx=True)
            await pipe.execute()

    async def clear_failures(self, username: str) -> None:
        await self._redis.delete(self._failures_key(username))

    @staticmethod
    def _failures_key(username: str) -> str:
        return f"ratelimit:login-failures:{{{username.strip().lower()}}}"


class Action(StrEnum):
    """What a viewer does that is limited per minute (follow and unfollow together,
    like and unlike together, adding and deleting comments together)."""

    POST = "post"
    FOLLOW = "follow"
    LIKE = "like"
    COMMENT = "comment"


class ViewerRateLimiter:
    def __init__(self, client: RedisClient, per_minute: dict[Action, int]) -> None:
        self._redis = client
        self._per_minute = per_minute

    async def count(self, viewer: int, action: Action) -> None:
        """Counts one action by the viewer; refuses it (RATE_LIMITED, with the seconds
        until the next minute starts) past the limit."""
        now = time.time()
        window = int(now) // _MINUTE
        key = f"ratelimit:{{{viewer}}}:{action.value}:{window}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, _MINUTE * 2)
            done, _ = await pipe.execute()
        limit = self._per_minute[action]
        if done > limit:
            retry_after = _MINUTE - int(now) % _MINUTE
            raise rate_limited(
                f"at most {limit} {action.value} actions a minute; try again in {retry_after}s",
                retry_after,
            )


def rate_limited(message: str, retry_after_seconds: int) -> GatewayError:
    """RATE_LIMITED with when to try again (``extensions.retryAfterSeconds``)."""
    error = GatewayError(ErrorCode.RATE_LIMITED, message)
    error.retry_after_seconds = retry_after_seconds
    return error
