"""Avatars: each upload a media record that moves like a post's photo (PENDING,
PROCESSING, then READY or FAILED, moved by the media service), and the user's current
avatar, the newest READY one. An upload not READY expires a while after its last move
(``avatar_upload_ttl_seconds``): one whose photo never came leaves no record behind,
as its bytes leave none in the bucket. Only the user's current avatar keeps its record:
one replaced, or READY after a newer one, is forgotten with its objects.

Of two uploads the newer wins, whichever finishes last: the current avatar is written
with its upload's time (the avatar id's) as the write time. The media service learns
from each READY move whether the avatar is now the user's, and which one it replaced,
so that the objects of neither a replaced nor a superseded avatar are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from graph_svc.profiles import Profiles
from graph_svc.store import AvatarRow, AvatarStore
from pictor.errors import DomainError, NotFound
from pictor.post.v1 import post_pb2
from pictor.snowflake import SnowflakeGenerator, timestamp_ms

PENDING = post_pb2.MEDIA_STATUS_PENDING
PROCESSING = post_pb2.MEDIA_STATUS_PROCESSING
READY = post_pb2.MEDIA_STATUS_READY
FAILED = post_pb2.MEDIA_STATUS_FAILED
# The statuses each status may be reached from.
_SOURCES = {PROCESSING: (PENDING,), READY: (PENDING, PROCESSING), FAILED: (PENDING, PROCESSING)}


class AvatarMoveRefused(DomainError):
    """The avatar's upload is past the asked status (FAILED_PRECONDITION)."""


@dataclass(frozen=True)
class Moved:
    avatar: AvatarRow
    moved: bool
    current: bool = False
    replaced: int | None = None


def media_of(avatar: AvatarRow) -> post_pb2.Media:
    return post_pb2.Media.FromString(avatar.media)


class Avatars:
    def __init__(self, store: AvatarStore, ids: SnowflakeGenerator, profiles: Profiles) -> None:
        self._store = store
        self._ids = ids
        self._profiles = profiles

    async def create(self, user_id: int) -> AvatarRow:
        if not await self._profiles.hydrate([user_id]):
            raise NotFound("no such user")
        media = post_pb2.Media(status=PENDING).SerializeToString()
        avatar = AvatarRow(self._ids.next_id(), user_id, media)
        await self._store.create(avatar, PENDING)
        return avatar

    async def get(self, avatar_id: int) -> AvatarRow | None:
        return await self._store.get(avatar_id)

    async def update_media(self, avatar_id: int, media: post_pb2.Media) -> Moved:
        """Moves the upload to media.status; a READY one becomes the user's avatar unless
        a newer one is, and is kept while it is (an upload not READY expires)."""
        if media.status not in _SOURCES:
            raise AvatarMoveRefused("an avatar moves to PROCESSING, READY or FAILED")
        avatar = await self._store.get(avatar_id)
        if avatar is None:
            raise NotFound("no such avatar upload")
        wanted = replace(avatar, media=media.SerializeToString())
        sources = _SOURCES[media.status]
        moved = await self._store.move(wanted, media.status, sources, kept=media.status == READY)
        if moved:
            avatar = wanted
        else:
            avatar = await self._store.get(avatar_id)  # as the move that won left it
            if avatar is None:
                raise NotFound("no such avatar upload")
            if media_of(avatar).status != media.status:
                raise AvatarMoveRefused("this avatar upload is past that status")
        if media.status != READY:
            return Moved(avatar, moved)
        return await self._make_current(avatar, moved)

    async def _make_current(self, avatar: AvatarRow, moved: bool) -> Moved:
        before = await self._store.current_id(avatar.user_id)
        repeated = before == avatar.avatar_id
        if before is not None and not repeated:
            # Recorded first, so that a report repeated after a crash names it again.
            await self._store.remember_replaced(avatar.avatar_id, before)
        await self._store.make_current(avatar, timestamp_ms(avatar.avatar_id) * 1000)
        if await self._store.current_id(avatar.user_id) != avatar.avatar_id:
            # A newer one is the user's, and this one can never be (its write time is
            # older): the media service deletes its objects, and its record goes too.
            await self._store.forget(avatar.avatar_id)
            return Moved(avatar, moved)
        await self._profiles.recache(avatar.user_id)
        # A repeated report: the one it replaced the first time, as recorded.
        replaced = await self._store.replaced(avatar.avatar_id) if repeated else before
        if replaced is not None:
            await self._store.forget(replaced)
        return Moved(avatar, moved, current=True, replaced=replaced)
