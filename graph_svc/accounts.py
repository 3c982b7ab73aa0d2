"""Signing up and logging in.

A sign-up is safe to retry: its answer can be lost (a client deadline, a dropped
connection) after the account was written, and the client's retry then finds the name
taken. A repeat of the same sign-up (same name, display name and password) within
``sign_up_retry_window_seconds`` of the account's creation is answered with that
account, as the first attempt would have been. It tells nothing a log-in would not:
only the password's holder gets the account; anyone else gets CONFLICT, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from graph_svc.passwords import Passwords
from graph_svc.store import AccountStore
from graph_svc.users import (
    Account,
    User,
    check_password,
    normalize_display_name,
    normalize_username,
)
from pictor.errors import Conflict, InvalidInput, Unauthenticated
from pictor.snowflake import SnowflakeGenerator

# One message for every failed log-in, so it never tells whether the username exists.
BAD_CREDENTIALS = "invalid username or password"
# Accounts a bulk import creates at once.
IMPORTS_IN_FLIGHT = 64


class ImportedAccount(NamedTuple):
    """An account moved in from elsewhere, its password already hashed there."""

    username: str
    display_name: str
    password_hash: str


class Accounts:
    def __init__(
        self,
        store: AccountStore,
        passwords: Passwords,
        ids: SnowflakeGenerator,
        retry_window: timedelta,
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._ids = ids
        self._retry_window = retry_window

    async def sign_up(
        self, username: str, password: str, display_name: str, within: float | None = None
    ) -> User:
        """A new account; ``within``: the seconds the caller has left (see Passwords)."""
        user = self._new_user(username, display_name)
        check_password(password)
        existing = await self._store.find_account(user.username)
        if existing is not None:
            return await self._repeated_sign_up(existing, user, password, within)
        account = Account(user=user, password_hash=await self._passwords.hash(password, within))
        if not await self._store.create(account):
            # Taken meanwhile, perhaps by this very sign-up's first attempt.
            existing = await self._store.find_account(user.username)
            if existing is None:
                raise Conflict(f"the username {user.username!r} is being claimed; retry")
            return await self._repeated_sign_up(existing, user, password, within)
        return user

    async def _repeated_sign_up(
        self, existing: Account, asked: User, password: str, within: float | None
    ) -> User:
        """The existing account if this sign-up repeats the one that created it moments
        ago (its answer was lost); otherwise the name is taken. Only recent accounts
        are checked, so an old name costs no hash."""
        created = existing.user.created_at
        if created.tzinfo is None:  # the driver reads timestamps as naive UTC
            created = created.replace(tzinfo=UTC)
        if (
            asked.created_at - created <= self._retry_window
            and existing.user.display_name == asked.display_name
            and await self._passwords.verify(existing.password_hash, password, within)
        ):
            users = await self._store.get_many([existing.user.id])
            return users[0] if users else existing.user
        raise Conflict(f"the username {asked.username!r} is taken")

    async def import_accounts(self, accounts: Sequence[ImportedAccount]) -> list[tuple[int, bool]]:
        """Many imports at once (each is a lightweight transaction), answered in order;
        a name repeated among them is imported once, by its first occurrence."""
        first_of: dict[str, int] = {}
        for index, account in enumerate(accounts):
            first_of.setdefault(account.username.strip().lower(), index)
        firsts = sorted(set(first_of.values()))
        imported = await asyncio.gather(*(self._import(*accounts[i]) for i in firsts))
        results = dict(zip(firsts, imported, strict=True))
        answers = []
        for index, account in enumerate(accounts):
            first = first_of[account.username.strip().lower()]
            user_id, created = results[first]
            answers.append((user_id, created and first == index))
        return answers

    async def _import(
        self, username: str, display_name: str, password_hash: str
    ) -> tuple[int, bool]:
        """One imported account: its id, and whether it was created (an existing
        username is left alone)."""
        if not password_hash.startswith("$argon2id$"):
            raise InvalidInput("password_hash must be an argon2id hash in PHC format")
        user = self._new_user(username, display_name)
        existing = await self._store.find_id(user.username)
        if existing is not None:
            return existing, False
        if await self._store.create(Account(user=user, password_hash=password_hash)):
            return user.id, True
        claimed = await self._store.find_id(user.username)
        if claimed is None:
            raise Conflict(f"the username {user.username!r} is being claimed; retry")
        return claimed, False

    async def log_in(self, username: str, password: str, within: float | None = None) -> User:
        try:
            normalized = normalize_username(username)
        except InvalidInput:
            normalized = None
        account = await self._store.find_account(normalized) if normalized else None
        stored_hash = account.password_hash if account else None
        if not await self._passwords.verify(stored_hash, password, within) or account is None:
            raise Unauthenticated(BAD_CREDENTIALS)
        if self._passwords.needs_rehash(account.password_hash):
            new_hash = await self._passwords.hash(password)
            await self._store.set_password_hash(account.user.id, new_hash)
        users = await self._store.get_many([account.user.id])
        return users[0] if users else account.user

    def _new_user(self, username: str, display_name: str) -> User:
        return User(
            id=self._ids.next_id(),
            username=normalize_username(username),
            display_name=normalize_display_name(display_name),
            bio="",
            created_at=datetime.now(UTC),
        )
