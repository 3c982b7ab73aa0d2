"""An avatar upload whose photo never came does not stay forever (graph_svc.avatars on
the test stack's Cassandra): a record not READY expires a while after its last move,
and a READY one, the avatar a user has, keeps every column for good."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from gateway import ids
from gateway.config import GatewaySettings
from graph_svc.avatars import FAILED, PENDING, PROCESSING, READY, Avatars
from graph_svc.profiles import Profiles
from graph_svc.store import AccountStore, AvatarRow, AvatarStore
from pictor.cql import CqlSession
from pictor.errors import NotFound
from pictor.post.v1 import post_pb2
from pictor.snowflake import SnowflakeGenerator
from tests.feed_svc.conftest import redis_of
from tests.harness import sign_up, wait_until

# Short, so the tests see it pass; the setting's default is a day and more.
UPLOAD_TTL_SECONDS = 3
# Past the TTL, with room for a slow Cassandra.
EXPIRY_SECONDS = UPLOAD_TTL_SECONDS + 15
READY_MEDIA = post_pb2.Media(status=READY, width=150, height=150)
# Apart from the test stack's graph_svc (worker 0), so no avatar id repeats.
WORKER_ID = 12


@pytest.fixture
async def avatars(cql: CqlSession, settings: GatewaySettings) -> AsyncIterator[Avatars]:
    async with redis_of(settings) as redis:
        profiles = Profiles(AccountStore(cql), redis, settings.hydration_ttl_seconds)
        store = AvatarStore(cql, UPLOAD_TTL_SECONDS)
        yield Avatars(store, SnowflakeGenerator(WORKER_ID), profiles)


async def a_user(http: httpx.AsyncClient) -> int:
    return ids.decode("User", (await sign_up(http, "pictured")).id)


async def ttls(cql: CqlSession, avatar_id: int) -> tuple[int | None, ...]:
    """What is left of each column's time to live (None: it never expires)."""
    (row,) = await cql.read(
        "SELECT TTL(user_id), TTL(status), TTL(media) FROM avatars WHERE avatar_id = ?",
        (avatar_id,),
        fresh=True,
    )
    return tuple(row)


async def two_uploads(avatars: Avatars, http: httpx.AsyncClient) -> tuple[AvatarRow, AvatarRow]:
    """Two avatar uploads of one new user, the older first."""
    user = await a_user(http)
    return await avatars.create(user), await avatars.create(user)


def expired(avatars: Avatars, avatar_id: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await avatars.get(avatar_id) is None

    return check


async def test_an_avatar_upload_whose_photo_never_came_is_gone_after_its_time(
    avatars: Avatars, cql: CqlSession, http: httpx.AsyncClient
) -> None:
    pending = await avatars.create(await a_user(http))
    assert await avatars.get(pending.avatar_id) == pending

    await wait_until(expired(avatars, pending.avatar_id), within=EXPIRY_SECONDS)
    # A move that comes too late (a media worker's) does not bring it back.
    with pytest.raises(NotFound):
        await avatars.update_media(pending.avatar_id, post_pb2.Media(status=PROCESSING))
    late = AvatarStore(cql, UPLOAD_TTL_SECONDS)
    assert not await late.move(pending, READY, [PENDING, PROCESSING], kept=True)
    assert await avatars.get(pending.avatar_id) is None


async def test_a_ready_avatar_keeps_every_column_for_good(
    avatars: Avatars, cql: CqlSession, http: httpx.AsyncClient
) -> None:
    user = await a_user(http)
    kept, abandoned = await avatars.create(user), await avatars.create(user)
    await avatars.update_media(kept.avatar_id, post_pb2.Media(status=PROCESSING))
    assert (await avatars.update_media(kept.avatar_id, READY_MEDIA)).current

    assert await ttls(cql, kept.avatar_id) == (None, None, None)
    # Its creation's time to live has passed (its sibling of the same moment is gone).
    await wait_until(expired(avatars, abandoned.avatar_id), within=EXPIRY_SECONDS)
    assert await avatars.get(kept.avatar_id) == AvatarRow(
        kept.avatar_id, user, READY_MEDIA.SerializeToString()
    )


async def test_a_failed_avatar_upload_still_expires(
    avatars: Avatars, cql: CqlSession, http: httpx.AsyncClient
) -> None:
    failed = await avatars.create(await a_user(http))
    await avatars.update_media(failed.avatar_id, post_pb2.Media(status=PROCESSING))
    await avatars.update_media(failed.avatar_id, post_pb2.Media(status=FAILED, error="no photo"))

    left = await ttls(cql, failed.avatar_id)
    assert all(ttl is not None and 0 < ttl <= UPLOAD_TTL_SECONDS for ttl in left), left
    await wait_until(expired(avatars, failed.avatar_id), within=EXPIRY_SECONDS)


async def test_an_avatar_replaced_by_a_newer_one_leaves_no_record(
    avatars: Avatars, http: httpx.AsyncClient
) -> None:
    first, second = await two_uploads(avatars, http)
    assert (await avatars.update_media(first.avatar_id, READY_MEDIA)).current

    replacing = await avatars.update_media(second.avatar_id, READY_MEDIA)
    assert (replacing.current, replacing.replaced) == (True, first.avatar_id)
    # Its objects go (the media service deletes them); its record goes with them.
    assert await avatars.get(first.avatar_id) is None
    assert await avatars.get(second.avatar_id) == replacing.avatar


async def test_an_avatar_ready_after_a_newer_one_leaves_no_record(
    avatars: Avatars, http: httpx.AsyncClient
) -> None:
    older, newer = await two_uploads(avatars, http)
    assert (await avatars.update_media(newer.avatar_id, READY_MEDIA)).current

    late = await avatars.update_media(older.avatar_id, READY_MEDIA)
    assert (late.current, late.replaced) == (False, None)
    assert await avatars.get(older.avatar_id) is None
    assert await avatars.get(newer.avatar_id) is not None
    # The media worker's repeated report of it finds nothing to move.
    with pytest.raises(NotFound):
        await avatars.update_media(older.avatar_id, READY_MEDIA)


async def test_a_repeated_ready_report_names_the_avatar_it_replaced_again(
    avatars: Avatars, http: httpx.AsyncClient
) -> None:
    first, second = await two_uploads(avatars, http)
    await avatars.update_media(first.avatar_id, READY_MEDIA)
    replacing = await avatars.update_media(second.avatar_id, READY_MEDIA)
    assert replacing.replaced == first.avatar_id

    # The media worker reports READY again (it stopped before deleting the replaced
    # avatar's objects, and its message came back): it learns which one again.
    again = await avatars.update_media(second.avatar_id, READY_MEDIA)
    assert (again.moved, again.current, again.replaced) == (False, True, first.avatar_id)
