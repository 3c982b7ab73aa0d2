"""Signing up and logging in."""

from __future__ import annotations

from datetime import UTC, datetime

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


class Accounts:
    def __init__(self, store: AccountStore, passwords: Passwords, ids: SnowflakeGenerator) -> None:
        self._store = store
        self._passwords = passwords
        self._ids = ids

    async def sign_up(
        self, username: str, password: str, display_name: str, within: float | None = None
    ) -> User:
        """A new account; ``within``: the seconds the caller has left (see Passwords)."""
        user = User(
            id=self._ids.next_id(),
            username=normalize_username(username),
            display_name=normalize_display_name(display_name),
            bio="",
            created_at=datetime.now(UTC),
        )
        check_password(password)
        if await self._store.find_id(user.username) is not None:
            raise Conflict(f"the username {user.username!r} is taken")
        account = Account(user=user, password_hash=await self._passwords.hash(password, within))
        if not await self._store.create(account):
            raise Conflict(f"the username {user.username!r} is taken")
        return user

    async def import_account(
        self, username: str, display_name: str, password_hash: str
    ) -> tuple[int, bool]:
        """An account whose password was hashed elsewhere; returns its id and whether it
        was created (an existing username is left alone)."""
        if not password_hash.startswith("$argon2id$"):
            raise InvalidInput("password_hash must be an argon2id hash in PHC format")
        user = User(
            id=self._ids.next_id(),
            username=normalize_username(username),
            display_name=normalize_display_name(display_name),
            bio="",
            created_at=datetime.now(UTC),
        )
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
