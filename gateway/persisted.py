"""Automatic persisted queries (Apollo's APQ protocol), shared by every gateway replica.

A client sends ``extensions.persistedQuery = {version: 1, sha256Hash}``. Without the
query text, a hash this gateway knows runs the operation it names; an unknown one is
answered ``PERSISTED_QUERY_NOT_FOUND``, and the client sends the text with the hash,
which registers it. Registered texts live in Redis under ``apq:{<hash>}`` (the hash is
the key's hash tag, so keys spread over a Cluster's slots), with a TTL that every
read from Redis renews; each replica also keeps the ones it has seen in memory, so a
known hash costs a dict lookup and leads to the same parsed and validated document
(``gateway.http.Documents``) as its text.

With ``persisted_only`` (production), only operations already registered run: raw
queries and new registrations are refused.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from pictor.redis_client import RedisClient

# extensions.code values this protocol adds to the contract's (README: Errors).
PERSISTED_QUERY_NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
PERSISTED_QUERY_ID_REQUIRED = "PERSISTED_QUERY_ID_REQUIRED"
PERSISTED_QUERY_NOT_IN_LIST = "PERSISTED_QUERY_NOT_IN_LIST"
# The message Apollo clients match on (with the code) before sending the text.
NOT_FOUND_MESSAGE = "PersistedQueryNotFound"

PROTOCOL_VERSION = 1
# Hashes kept in memory per replica.
HASHES_CACHED = 4096
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class PersistedQueryError(Exception):
    """A persisted-query request that cannot run: its code and HTTP status."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


def requested_hash(extensions: Mapping[str, Any]) -> str | None:
    """The sha256Hash of ``extensions.persistedQuery``, None when there is none."""
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict) or persisted.get("version") != PROTOCOL_VERSION:
        raise ValueError("unsupported persisted query: send {version: 1, sha256Hash}")
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not _SHA256_HEX.fullmatch(sha256):
        raise ValueError("persistedQuery.sha256Hash must be 64 lowercase hex digits")
    return sha256


def sha256_of(query: str) -> str:
    return hashlib.sha256(query.encode()).hexdigest()


def key(sha256: str) -> str:
    return f"apq:{{{sha256}}}"


class PersistedQueries:
    def __init__(
        self, *, ttl_seconds: int, persisted_only: bool, capacity: int = HASHES_CACHED
    ) -> None:
        self._ttl = ttl_seconds or None  # 0: registered for good
        self.persisted_only = persisted_only
        self._capacity = capacity
        self._texts: OrderedDict[str, str] = OrderedDict()

    async def query(self, client: RedisClient, sha256: str, query: str | None) -> tuple[str, bool]:
        """The text to run for a request that carries a hash (and maybe its text), and
        whether it is new (to ``register`` once it is known to be valid)."""
        known = await self._known(client, sha256)
        if known is not None:
            if query is not None and query != known:
                raise PersistedQueryError(
                    "BAD_USER_INPUT", "provided sha does not match query", 400
                )
            return known, False
        if self.persisted_only:
            raise PersistedQueryError(
                PERSISTED_QUERY_NOT_IN_LIST,
                "this gateway runs only registered operations, and this hash is not one",
                404,
            )
        if query is None:
            # 200, as Apollo Server answers it: clients retry with the text.
            raise PersistedQueryError(PERSISTED_QUERY_NOT_FOUND, NOT_FOUND_MESSAGE, 200)
        if sha256_of(query) != sha256:
            raise PersistedQueryError("BAD_USER_INPUT", "provided sha does not match query", 400)
        return query, True

    async def register(self, client: RedisClient, sha256: str, query: str) -> None:
        """Keeps a valid operation's text for every replica."""
        await client.set(key(sha256), query.encode(), ex=self._ttl)
        self._remember(sha256, query)

    def raw_query_refused(self) -> PersistedQueryError | None:
        if not self.persisted_only:
            return None
        return PersistedQueryError(
            PERSISTED_QUERY_ID_REQUIRED,
            "this gateway runs only registered operations: send "
            "extensions.persistedQuery.sha256Hash instead of a query",
            400,
        )

    async def _known(self, client: RedisClient, sha256: str) -> str | None:
        text = self._texts.get(sha256)
        if text is not None:
            self._texts.move_to_end(sha256)
            return text
        stored = await (
            client.getex(key(sha256), ex=self._ttl) if self._ttl else client.get(key(sha256))
        )
        if stored is None:
            return None
        text = stored.decode() if isinstance(stored, bytes) else str(stored)
        if sha256_of(text) != sha256:  # not ours to run
            return None
        self._remember(sha256, text)
        return text

    def _remember(self, sha256: str, text: str) -> None:
        self._texts[sha256] = text
        if len(self._texts) > self._capacity:
            self._texts.popitem(last=False)
