"""The benchmarks' accounts, within the gateway's per-address sign-up and log-in limit
(PICTOR_AUTH_RATE_LIMIT attempts per clock minute): a run waits for the next minute
rather than be refused. The client and the sign-up itself are ``harness``'s."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from harness import accounts
from harness.accounts import Person
from harness.graphql import GraphQLClient, GraphQLError
from pictor.clients import ServiceClients

# Every bench account's: the dev stack keeps them, and later runs log in with it.
PASSWORD = "a bench password"
RATE_LIMITED = "RATE_LIMITED"
ATTEMPTS = 3
T = TypeVar("T")


class AuthAllowance:
    """Keeps this run's sign-ups and log-ins under the gateway's per-address limit by
    waiting for the next minute when they would go past it."""

    WINDOW_SECONDS = 60

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.time) -> None:
        self.per_minute = per_minute
        self.waited_seconds = 0.0
        self._clock = clock
        self._window = -1
        self._used = 0

    async def take(self, attempts: int = 1) -> None:
        """Returns once ``attempts`` more fit in the current minute."""
        if attempts > self.per_minute:
            raise ValueError(f"{attempts} attempts never fit in a limit of {self.per_minute}")
        while True:
            window = int(self._clock()) // self.WINDOW_SECONDS
            if window != self._window:
                self._window, self._used = window, 0
            if self._used + attempts <= self.per_minute:
                self._used += attempts
                return
            # A little past the boundary, so the gateway's clock has turned too.
            pause = (window + 1) * self.WINDOW_SECONDS - self._clock() + 0.25
            self.waited_seconds += pause
            await asyncio.sleep(pause)

    async def within(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """``attempt()`` once it fits; again if the gateway refused it anyway (someone
        else on this address spent part of the minute)."""
        for _ in range(ATTEMPTS):
            await self.take()
            try:
                return await attempt()
            except GraphQLError as error:
                if error.codes != [RATE_LIMITED]:
                    raise
                self._used = self.per_minute
        raise RuntimeError(f"rate limited {ATTEMPTS} times in a row")


async def _signed_up(client: GraphQLClient, allowance: AuthAllowance, username: str) -> Person:
    return await allowance.within(
        lambda: accounts.sign_up(client.http, username=username, password=PASSWORD)
    )


async def sign_up_many(
    client: GraphQLClient, allowance: AuthAllowance, prefix: str, count: int, concurrency: int = 2
) -> list[Person]:
    """``count`` new accounts, named so that no earlier run took them."""
    run = secrets.token_hex(3)
    slots = asyncio.Semaphore(concurrency)

    async def one(number: int) -> Person:
        async with slots:
            return await _signed_up(client, allowance, f"{prefix}.{run}.{number}")

    return list(await asyncio.gather(*(one(number) for number in range(count))))


async def signed_in(
    clients: ServiceClients, allowance: AuthAllowance, anonymous: GraphQLClient, username: str
) -> GraphQLClient:
    """A client signed in as ``username``: signed up the first time, logged in after."""
    if await accounts.find_user(clients, username) is None:
        return (await _signed_up(anonymous, allowance, username)).client
    return await allowance.within(lambda: accounts.log_in(anonymous, username, PASSWORD))
