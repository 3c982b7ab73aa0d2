"""Editing one's profile through GraphQL: display name and bio, each left as it is
when not given, refused when invalid, and seen at once by every reader (the profile
cache that hydrates feed pages included); the avatar, through the photo pipeline,
square, with the replaced one's objects removed."""

from __future__ import annotations

from typing import Any, cast

import httpx
import pytest

from gateway.config import GatewaySettings
from harness.accounts import Person, sign_up
from harness.events import settle
from harness.graphql import GraphQLClient, GraphQLError
from media_svc.objects import AVATAR_OBJECTS
from media_svc.worker import PROCESSING_GROUP
from pictor import events
from tests import images
from tests.feed_svc.conftest import redis_of
from tests.harness import data, error_codes

UPDATE = """
mutation($name: String, $bio: String) {
  updateProfile(displayName: $name, bio: $bio) { id displayName bio followerCount }
}
"""
UPLOAD = 'mutation($file: Upload!) { uploadPost(caption: "me", file: $file) { id } }'
AUTHOR = "query($id: ID!) { post(id: $id) { author { displayName bio } } }"
PROFILE = "query($u: String!) { user(username: $u) { displayName bio } }"


async def test_display_name_and_bio_change_and_null_leaves_them(
    http: httpx.AsyncClient,
) -> None:
    ada = await sign_up(http, "ada")
    changed = data(await ada.client.execute(UPDATE, {"name": "Ada L.", "bio": "Counts things."}))
    assert changed["updateProfile"] == {
        "id": ada.id,
        "displayName": "Ada L.",
        "bio": "Counts things.",
        "followerCount": 0,
    }
    only_bio = data(await ada.client.execute(UPDATE, {"bio": "Engines.\nPoems."}))
    assert only_bio["updateProfile"]["displayName"] == "Ada L."
    assert only_bio["updateProfile"]["bio"] == "Engines.\nPoems."
    explicit_nulls = data(await ada.client.execute(UPDATE, {"name": None, "bio": None}))
    assert explicit_nulls["updateProfile"]["displayName"] == "Ada L."
    cleared = data(await ada.client.execute(UPDATE, {"bio": ""}))
    assert cleared["updateProfile"]["bio"] is None
    profile = data(await ada.client.execute(PROFILE, {"u": ada.username}))["user"]
    assert profile == {"displayName": "Ada L.", "bio": None}


async def test_invalid_fields_are_refused_and_change_nothing(http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, "ada")
    data(await ada.client.execute(UPDATE, {"name": "Ada", "bio": "Hello"}))
    for variables in (
        {"name": ""},
        {"name": "   "},
        {"name": "x" * 51},
        {"name": "a\u0000b"},
        {"bio": "y" * 151},
        {"bio": "tab\there"},
        {"name": "Fine", "bio": "z" * 151},
    ):
        result = await ada.client.execute(UPDATE, variables)
        assert error_codes(result) == ["BAD_USER_INPUT"], variables
    profile = data(await ada.client.execute(PROFILE, {"u": ada.username}))["user"]
    assert profile == {"displayName": "Ada", "bio": "Hello"}
    longest = data(await ada.client.execute(UPDATE, {"name": "n" * 50, "bio": "b" * 150}))
    assert len(longest["updateProfile"]["bio"]) == 150


async def test_an_edit_is_seen_at_once_where_pages_show_authors(http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, "ada")
    photo = ("photo.jpg", images.jpeg(64, 48), "image/jpeg")
    post = (await ada.client.upload(UPLOAD, {}, "file", photo))["uploadPost"]["id"]
    # Read once: the author's profile is now in the cache that hydrates pages.
    before = data(await ada.client.execute(AUTHOR, {"id": post}))["post"]["author"]
    assert before == {"displayName": None, "bio": None}
    data(await ada.client.execute(UPDATE, {"name": "Ada", "bio": "New here"}))
    after = data(await ada.client.execute(AUTHOR, {"id": post}))["post"]["author"]
    assert after == {"displayName": "Ada", "bio": "New here"}


async def test_anonymous_cannot_edit(http: httpx.AsyncClient) -> None:
    result = await GraphQLClient(http).execute(UPDATE, {"name": "Nobody"})
    assert error_codes(result) == ["UNAUTHENTICATED"]


# What XRANGE and XREVRANGE answer.
Entries = list[tuple[bytes, dict[bytes, bytes]]]
AVATAR_FIELDS = "avatar { status width height renditions { name width height url contentType } }"
UPDATE_AVATAR = f"mutation($file: Upload!) {{ updateAvatar(file: $file) {{ id {AVATAR_FIELDS} }} }}"
VIEWER_AVATAR = f"{{ viewer {{ {AVATAR_FIELDS} }} }}"


async def avatar_objects(s3: Any, settings: GatewaySettings) -> list[str]:
    listed = await s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=AVATAR_OBJECTS.renditions)
    return sorted(item["Key"] for item in listed.get("Contents", []))


async def set_avatar(person: Person, photo: bytes) -> dict[str, Any]:
    file = ("me.jpg", photo, "image/jpeg")
    return dict((await person.client.upload(UPDATE_AVATAR, {}, "file", file))["updateAvatar"])


async def test_an_avatar_is_null_until_set_then_square_renditions_that_load(
    http: httpx.AsyncClient,
) -> None:
    ada = await sign_up(http, "ada")
    assert data(await ada.client.execute(VIEWER_AVATAR))["viewer"]["avatar"] is None
    avatar = (await set_avatar(ada, images.jpeg(900, 600)))["avatar"]
    assert avatar["status"] == "READY"
    sides = {(r["name"], r["width"], r["height"]) for r in avatar["renditions"]}
    assert sides == {("thumb", 150, 150), ("small", 320, 320), ("medium", 600, 600)}
    assert {r["contentType"] for r in avatar["renditions"]} == {"image/jpeg", "image/webp"}
    async with httpx.AsyncClient() as plain:
        for rendition in avatar["renditions"]:
            assert (await plain.get(rendition["url"])).status_code == 200
    shown = data(await ada.client.execute(VIEWER_AVATAR))["viewer"]["avatar"]
    assert (shown["status"], shown["width"]) == ("READY", 600)


async def test_a_new_avatar_replaces_the_old_and_its_objects_go(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    ada = await sign_up(http, "ada")
    first = await set_avatar(ada, images.jpeg(300, 300))
    first_keys = await avatar_objects(s3, settings)
    second = await set_avatar(ada, images.jpeg(400, 200))
    assert second["avatar"]["renditions"] != first["avatar"]["renditions"]
    assert second["avatar"]["width"] == 200
    after = await avatar_objects(s3, settings)
    old = [key for key in first_keys if key not in after]
    assert len(old) == 6  # the first avatar's three sizes, two encodings each
    # Other readers see the new one: the profile cache was replaced.
    author = data(
        await GraphQLClient(http).execute(
            f"query($u: String!) {{ user(username: $u) {{ {AVATAR_FIELDS} }} }}",
            {"u": ada.username},
        )
    )["user"]["avatar"]
    assert author["width"] == 200


async def test_what_is_no_photo_is_refused_and_the_avatar_stays(http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, "ada")
    await set_avatar(ada, images.jpeg(200, 200))
    with pytest.raises(GraphQLError) as refused:
        await set_avatar(ada, b"definitely not a photo")
    assert refused.value.codes == ["BAD_USER_INPUT"]
    shown = data(await ada.client.execute(VIEWER_AVATAR))["viewer"]["avatar"]
    assert (shown["status"], shown["width"]) == ("READY", 200)


async def test_a_page_of_avatars_is_signed_in_one_call(http: httpx.AsyncClient) -> None:
    ada = await sign_up(http, "ada")
    fans = [await sign_up(http, "fan") for _ in range(3)]
    for size, fan in zip((200, 240, 280), fans, strict=True):
        await set_avatar(fan, images.jpeg(size, size))
        await fan.client.data("mutation($id: ID!) { follow(userId: $id) { id } }", {"id": ada.id})
    query = f"""query($u: String!) {{
      user(username: $u) {{ followers {{ edges {{ node {{ {AVATAR_FIELDS} }} }} }} }}
    }}"""
    result = await ada.client.execute(query, {"u": ada.username})
    edges = data(result)["user"]["followers"]["edges"]
    assert sorted(edge["node"]["avatar"]["width"] for edge in edges) == [200, 240, 280]
    assert all(r["url"] for edge in edges for r in edge["node"]["avatar"]["renditions"])
    calls = result["extensions"]["backendCalls"]["byMethod"]
    assert calls["/pictor.media.v1.MediaService/SignUrls"] == 1


async def test_avatar_events_delivered_again_change_nothing(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    ada = await sign_up(http, "ada")
    await set_avatar(ada, images.jpeg(300, 300))
    await set_avatar(ada, images.jpeg(260, 260))
    before = (await avatar_shown(ada), await avatar_objects(s3, settings))
    async with redis_of(settings) as redis:
        recent = cast(Entries, await redis.xrevrange(events.MEDIA_UPLOADED, count=20))
        uploaded = [
            {key.decode(): value.decode() for key, value in fields.items()}
            for _, fields in recent
            if fields.get(b"kind") == b"avatar"
        ][:2]  # ada's two, newest first
        for fields in [*uploaded, *reversed(uploaded)]:  # twice, the older one last
            await events.publish(redis, events.MEDIA_UPLOADED, fields)
        await settle(redis, [events.MEDIA_UPLOADED], PROCESSING_GROUP)
    assert (await avatar_shown(ada), await avatar_objects(s3, settings)) == before


async def avatar_shown(person: Person) -> tuple[int, list[str]]:
    shown = data(await person.client.execute(VIEWER_AVATAR))["viewer"]["avatar"]
    return shown["width"], sorted(r["url"].split("?")[0] for r in shown["renditions"])
