"""Editing one's profile through GraphQL: display name and bio, each left as it is
when not given, refused when invalid, and seen at once by every reader (the profile
cache that hydrates feed pages included)."""

from __future__ import annotations

import httpx

from harness.accounts import sign_up
from harness.graphql import GraphQLClient
from tests import images
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
