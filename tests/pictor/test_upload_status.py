"""Upload status channels (pure naming). graph_svc numbers avatars and post_svc posts,
each with its own Snowflake worker, so an avatar and a post can get the same id: each
has a channel of its own, or a watcher of one would hear the other's READY."""

from __future__ import annotations

from redis.crc import key_slot

from pictor.events import AVATAR_UPLOAD, POST_UPLOAD, upload_status_channel


def test_a_post_and_an_avatar_of_one_id_have_channels_of_their_own() -> None:
    assert upload_status_channel(POST_UPLOAD, 7) != upload_status_channel(AVATAR_UPLOAD, 7)


def test_a_channel_lives_on_its_id_slot() -> None:
    assert key_slot(upload_status_channel(POST_UPLOAD, 7).encode()) == key_slot(b"{7}")
