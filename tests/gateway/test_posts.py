"""Posting photos, through GraphQL as a client app does it, against the real stack:
both upload paths, the subscription, renditions checked by decoding them, failures
that leave nothing behind, and deletes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
import pyvips

from gateway import ids
from gateway.config import GatewaySettings
from tests import images
from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    Person,
    data,
    error_codes,
    sign_up,
    subscribe,
    wait_until,
)

POST_FIELDS = """
id caption createdAt
author { username postCount }
media {
  status width height blurhash error
  renditions { name url width height contentType }
}
"""
CREATE_POST = f"""
mutation($caption: String!, $type: String!) {{
  createPost(caption: $caption, contentType: $type) {{
    post {{ {POST_FIELDS} }} uploadUrl uploadHeaders {{ name value }} expiresAt
  }}
}}
"""
CONFIRM = f"mutation($id: ID!) {{ confirmUpload(postId: $id) {{ {POST_FIELDS} }} }}"
GET_POST = f"query($id: ID!) {{ post(id: $id) {{ {POST_FIELDS} }} }}"
POSTS_OF = "query($u: String!) { user(username: $u) { postCount posts { edges { cursor } } } }"
UPLOAD_STATUS = """
subscription($id: ID!) {
  uploadStatus(postId: $id) { postId status progress message post { id media { status } } }
}
"""
UPLOAD_POST = f"""
mutation($caption: String!, $file: Upload!) {{
  uploadPost(caption: $caption, file: $file) {{ {POST_FIELDS} }}
}}
"""


async def keys_under(s3: Any, settings: GatewaySettings, prefix: str) -> list[str]:
    response = await s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
    return sorted(item["Key"] for item in response.get("Contents", []))


@asynccontextmanager
async def kept_nowhere(author: Person, s3: Any, settings: GatewaySettings) -> AsyncIterator[None]:
    """Around an upload that is refused: it leaves no object behind, and no post."""
    before = await keys_under(s3, settings, "uploads/")
    yield
    assert await keys_under(s3, settings, "uploads/") == before
    profile = data(await author.client.execute(POSTS_OF, {"u": author.username}))["user"]
    assert profile == {"postCount": 0, "posts": {"edges": []}}


async def create_and_put(
    person: Person, photo: bytes, content_type: str = "image/jpeg"
) -> dict[str, Any]:
    created: dict[str, Any] = data(
        await person.client.execute(
            CREATE_POST, {"caption": "at the seaside", "type": content_type}
        )
    )["createPost"]
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    async with httpx.AsyncClient() as http:
        put = await http.put(created["uploadUrl"], content=photo, headers=headers)
    assert put.status_code == 200, put.text
    return created


async def settled(client: GraphQLClient, post_id: str) -> dict[str, Any]:
    """The post once processing has ended (READY or FAILED)."""

    async def done() -> dict[str, Any] | None:
        post = data(await client.execute(GET_POST, {"id": post_id}))["post"]
        return post if post["media"]["status"] in ("READY", "FAILED") else None

    return await wait_until(done, within=30, interval=0.1)


async def upload_one_shot(
    person: Person, photo: bytes, filename: str = "photo.jpg", content_type: str = "image/jpeg"
) -> dict[str, Any]:
    operations = {"query": UPLOAD_POST, "variables": {"caption": "one shot", "file": None}}
    response = await person.client.http.post(
        "/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.file"]})},
        files={"0": (filename, photo, content_type)},
        headers={"Authorization": f"Bearer {person.client.token}"},
    )
    body: dict[str, Any] = response.json()
    return body


async def decoded(url: str) -> tuple[pyvips.Image, bytes]:
    async with httpx.AsyncClient() as http:
        response = await http.get(url)
    assert response.status_code == 200
    return pyvips.Image.new_from_buffer(response.content, ""), response.content


async def test_two_phase_upload_ends_in_ready_renditions(
    http: httpx.AsyncClient, test_stack: IsolatedStack, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "photographer")
    created = await create_and_put(author, images.jpeg(2400, 1600))
    post = created["post"]
    assert post["media"] == {
        "status": "PENDING",
        "width": None,
        "height": None,
        "blurhash": None,
        "error": None,
        "renditions": [],
    }

    confirmed = data(await author.client.execute(CONFIRM, {"id": post["id"]}))["confirmUpload"]
    assert confirmed["media"]["status"] in ("PROCESSING", "READY")

    events = await subscribe(
        test_stack.gateway_url, author.client.token, UPLOAD_STATUS, {"id": post["id"]}
    )
    assert events[-1]["data"]["uploadStatus"]["status"] == "READY"
    assert events[-1]["data"]["uploadStatus"]["post"]["media"]["status"] == "READY"

    ready = data(await author.client.execute(GET_POST, {"id": post["id"]}))["post"]
    media = ready["media"]
    assert (media["width"], media["height"]) == (1080, 720)
    assert len(media["blurhash"]) == 28  # 4x3 components
    sizes = {(r["name"], r["contentType"]): (r["width"], r["height"]) for r in media["renditions"]}
    expected = {
        "thumb": (150, 150),
        "small": (320, 213),
        "medium": (640, 427),
        "large": (1080, 720),
    }
    assert sizes == {
        (name, kind): size
        for name, size in expected.items()
        for kind in ("image/jpeg", "image/webp")
    }
    for rendition in media["renditions"]:
        image, raw = await decoded(rendition["url"])
        assert (image.width, image.height) == (rendition["width"], rendition["height"])
        loader = image.get("vips-loader")
        assert loader.startswith("jpeg" if rendition["contentType"] == "image/jpeg" else "webp")
        assert images.metadata_fields(raw) == []
    assert ready["author"]["postCount"] == 1

    # The original is gone once renditions exist; only renditions stay.
    post_id = ids.decode("Post", post["id"])
    assert await keys_under(s3, settings, f"uploads/{post_id}") == []
    assert len(await keys_under(s3, settings, f"media/{post_id}/")) == 8


async def test_one_shot_upload_streams_through_the_gateway(http: httpx.AsyncClient) -> None:
    author = await sign_up(http, "streamer")
    result = await upload_one_shot(author, images.jpeg(1200, 900))
    post = data(result)["uploadPost"]
    assert post["media"]["status"] in ("PROCESSING", "READY")
    ready = await settled(author.client, post["id"])
    assert ready["media"]["status"] == "READY"
    assert (ready["media"]["width"], ready["media"]["height"]) == (1080, 810)

    grid = data(
        await author.client.execute(
            "query($u: String!) { user(username: $u) { postCount posts { edges { node { id } } } } }",
            {"u": author.username},
        )
    )["user"]
    assert grid["postCount"] == 1
    assert [edge["node"]["id"] for edge in grid["posts"]["edges"]] == [post["id"]]


async def test_a_rotated_photo_with_gps_comes_out_upright_and_anonymous(
    http: httpx.AsyncClient,
) -> None:
    original = images.jpeg(800, 400, orientation=6, gps=True)
    fields = pyvips.Image.new_from_buffer(original, "").get_fields()
    assert any("GPS" in name for name in fields), "the test photo must carry GPS"

    author = await sign_up(http, "traveller")
    ready = await settled(
        author.client, data(await upload_one_shot(author, original))["uploadPost"]["id"]
    )
    media = ready["media"]
    assert media["status"] == "READY"
    assert (media["width"], media["height"]) == (400, 800)  # turned a quarter, never upscaled
    large = next(
        r for r in media["renditions"] if r["name"] == "large" and r["contentType"] == "image/jpeg"
    )
    image, raw = await decoded(large["url"])
    assert images.metadata_fields(raw) == []
    # Orientation 6 means "turn clockwise": the left (red) half ends up on top.
    red_top = image.crop(0, 0, 400, 100)
    assert red_top.extract_band(0).avg() > red_top.extract_band(2).avg()
    blue_bottom = image.crop(0, 700, 400, 100)
    assert blue_bottom.extract_band(2).avg() > blue_bottom.extract_band(0).avg()


async def test_a_png_with_alpha_is_accepted(http: httpx.AsyncClient) -> None:
    author = await sign_up(http, "designer")
    result = await upload_one_shot(author, images.png_with_alpha(500, 300), "logo.png", "image/png")
    ready = await settled(author.client, data(result)["uploadPost"]["id"])
    assert ready["media"]["status"] == "READY"
    webp = next(
        r
        for r in ready["media"]["renditions"]
        if r["name"] == "large" and r["contentType"] == "image/webp"
    )
    image, _ = await decoded(webp["url"])
    assert image.hasalpha()
    assert (image.width, image.height) == (500, 300)


@pytest.mark.parametrize(
    ("photo", "reason"),
    [
        (images.text_named_jpg(), "unsupported image"),
        (images.truncated_jpeg(), "truncated or corrupt"),
        (images.pixel_flood(), "pixels"),
    ],
    ids=["text-named-jpg", "truncated-jpeg", "pixel-flood"],
)
async def test_a_bad_photo_fails_with_a_reason_and_leaves_nothing(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings, photo: bytes, reason: str
) -> None:
    author = await sign_up(http, "unlucky")
    created = await create_and_put(author, photo)
    data(await author.client.execute(CONFIRM, {"id": created["post"]["id"]}))
    failed = await settled(author.client, created["post"]["id"])
    assert failed["media"]["status"] == "FAILED"
    assert reason in failed["media"]["error"]
    assert failed["media"]["renditions"] == []
    post_id = ids.decode("Post", created["post"]["id"])
    assert await keys_under(s3, settings, f"uploads/{post_id}") == []
    assert await keys_under(s3, settings, f"media/{post_id}/") == []
    assert failed["author"]["postCount"] == 0


async def test_a_one_shot_upload_over_the_limit_is_refused_and_kept_nowhere(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "hoarder")
    too_big = b"\xff\xd8\xff" + bytes(21 * 1024 * 1024)
    async with kept_nowhere(author, s3, settings):
        assert error_codes(await upload_one_shot(author, too_big)) == ["PAYLOAD_TOO_LARGE"]


async def test_a_presigned_upload_over_the_limit_is_refused_at_confirm_and_deleted(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "bulky")
    created = await create_and_put(author, b"\xff\xd8\xff" + bytes(21 * 1024 * 1024))
    result = await author.client.execute(CONFIRM, {"id": created["post"]["id"]})
    assert error_codes(result) == ["PAYLOAD_TOO_LARGE"]
    post_id = ids.decode("Post", created["post"]["id"])
    assert await keys_under(s3, settings, f"uploads/{post_id}") == []
    post = data(await author.client.execute(GET_POST, {"id": created["post"]["id"]}))["post"]
    assert post["media"]["status"] == "FAILED"


async def test_confirming_before_uploading_is_bad_input(http: httpx.AsyncClient) -> None:
    author = await sign_up(http, "hasty")
    created = data(
        await author.client.execute(CREATE_POST, {"caption": "soon", "type": "image/jpeg"})
    )["createPost"]
    result = await author.client.execute(CONFIRM, {"id": created["post"]["id"]})
    assert error_codes(result) == ["BAD_USER_INPUT"]
    post = data(await author.client.execute(GET_POST, {"id": created["post"]["id"]}))["post"]
    assert post["media"]["status"] == "PENDING"


async def test_an_unsupported_content_type_is_bad_input(http: httpx.AsyncClient) -> None:
    author = await sign_up(http, "gifter")
    result = await author.client.execute(CREATE_POST, {"caption": "x", "type": "image/gif"})
    assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_only_the_author_may_confirm_watch_or_delete(
    http: httpx.AsyncClient, test_stack: IsolatedStack
) -> None:
    author, stranger = await sign_up(http, "owner"), await sign_up(http, "stranger")
    created = await create_and_put(author, images.jpeg(400, 300))
    post_id = created["post"]["id"]
    assert error_codes(await stranger.client.execute(CONFIRM, {"id": post_id})) == ["FORBIDDEN"]
    watched = await subscribe(
        test_stack.gateway_url, stranger.client.token, UPLOAD_STATUS, {"id": post_id}
    )
    assert [error["extensions"]["code"] for error in watched[-1]["errors"]] == ["FORBIDDEN"]
    deleted = await stranger.client.execute(
        "mutation($id: ID!) { deletePost(id: $id) }", {"id": post_id}
    )
    assert error_codes(deleted) == ["FORBIDDEN"]
    assert error_codes(await GraphQLClient(http).execute(CONFIRM, {"id": post_id})) == [
        "UNAUTHENTICATED"
    ]


async def test_others_see_a_post_only_once_it_is_ready(http: httpx.AsyncClient) -> None:
    author, stranger = await sign_up(http, "shy"), await sign_up(http, "curious")
    created = await create_and_put(author, images.text_named_jpg())
    post_id = created["post"]["id"]
    assert data(await stranger.client.execute(GET_POST, {"id": post_id})) == {"post": None}
    data(await author.client.execute(CONFIRM, {"id": post_id}))
    failed = await settled(author.client, post_id)
    assert failed["media"]["status"] == "FAILED"
    assert data(await stranger.client.execute(GET_POST, {"id": post_id})) == {"post": None}

    shown = data(await upload_one_shot(author, images.jpeg(300, 200)))["uploadPost"]
    await settled(author.client, shown["id"])
    seen = data(await stranger.client.execute(GET_POST, {"id": shown["id"]}))["post"]
    assert seen["media"]["status"] == "READY"


async def test_a_late_subscriber_gets_the_final_status_and_completes(
    http: httpx.AsyncClient, test_stack: IsolatedStack
) -> None:
    author = await sign_up(http, "latecomer")
    post = data(await upload_one_shot(author, images.jpeg(600, 400)))["uploadPost"]
    await settled(author.client, post["id"])
    events = await subscribe(
        test_stack.gateway_url, author.client.token, UPLOAD_STATUS, {"id": post["id"]}
    )
    assert [event["data"]["uploadStatus"]["status"] for event in events] == ["READY"]
    assert events[0]["data"]["uploadStatus"]["post"]["id"] == post["id"]


async def test_deleting_a_post_removes_it_from_reads_profiles_and_storage(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "regretful")
    kept = await settled(
        author.client,
        data(await upload_one_shot(author, images.jpeg(500, 500)))["uploadPost"]["id"],
    )
    gone = await settled(
        author.client,
        data(await upload_one_shot(author, images.jpeg(500, 500)))["uploadPost"]["id"],
    )
    assert data(
        await author.client.execute(
            "mutation($id: ID!) { deletePost(id: $id) }", {"id": gone["id"]}
        )
    ) == {"deletePost": True}
    assert data(await author.client.execute(GET_POST, {"id": gone["id"]})) == {"post": None}
    profile = data(
        await author.client.execute(
            "query($u: String!) { user(username: $u) { postCount posts { edges { node { id } } } } }",
            {"u": author.username},
        )
    )["user"]
    assert profile == {"postCount": 1, "posts": {"edges": [{"node": {"id": kept["id"]}}]}}

    async def objects_removed() -> bool:
        return await keys_under(s3, settings, f"media/{ids.decode('Post', gone['id'])}/") == []

    await wait_until(objects_removed, within=15)
    assert len(await keys_under(s3, settings, f"media/{ids.decode('Post', kept['id'])}/")) == 8
    again = await author.client.execute(
        "mutation($id: ID!) { deletePost(id: $id) }", {"id": gone["id"]}
    )
    assert error_codes(again) == ["NOT_FOUND"]


async def test_the_profile_grid_is_newest_first_in_pages(http: httpx.AsyncClient) -> None:
    author = await sign_up(http, "prolific")
    ids = []
    for _ in range(3):
        ids.append(data(await upload_one_shot(author, images.jpeg(300, 300)))["uploadPost"]["id"])
    for post_id in ids:
        await settled(author.client, post_id)
    query = """query($u: String!, $after: String) {
      user(username: $u) { posts(first: 2, after: $after) {
        edges { cursor node { id } } pageInfo { hasNextPage endCursor } } } }"""
    first = data(await author.client.execute(query, {"u": author.username}))["user"]["posts"]
    second = data(
        await author.client.execute(
            query, {"u": author.username, "after": first["pageInfo"]["endCursor"]}
        )
    )["user"]["posts"]
    listed = [edge["node"]["id"] for edge in first["edges"] + second["edges"]]
    assert listed == list(reversed(ids))
    assert first["pageInfo"]["hasNextPage"] is True
    assert second["pageInfo"]["hasNextPage"] is False
