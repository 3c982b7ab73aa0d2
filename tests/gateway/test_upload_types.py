"""A photo's type comes from its bytes, never from the label a client puts on it:
multipart uploads labelled application/octet-stream (what many HTTP clients and mobile
frameworks send) or with a type that disagrees with the bytes are photos all the same,
bytes that are no photo are refused at once, and a pre-signed upload takes its
declared type however the client spells it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.config import GatewaySettings
from tests import images
from tests.gateway.test_posts import (
    CONFIRM,
    CREATE_POST,
    create_and_put,
    kept_nowhere,
    settled,
    upload_one_shot,
)
from tests.harness import data, error_codes, sign_up


@pytest.mark.parametrize(
    ("photo", "filename", "label"),
    [
        (images.png_with_alpha(64, 48), "photo.png", "application/octet-stream"),
        (images.jpeg(64, 48), "IMG_0001", "application/octet-stream"),
        (images.jpeg(64, 48), "photo.png", "image/png"),
        (images.png_with_alpha(64, 48), "photo.jpg", "text/plain"),
    ],
    ids=["png-as-octet-stream", "jpeg-as-octet-stream", "jpeg-as-png", "png-as-text"],
)
async def test_a_photo_uploads_whatever_its_label_says(
    http: httpx.AsyncClient, photo: bytes, filename: str, label: str
) -> None:
    author = await sign_up(http, "labeller")
    post = data(await upload_one_shot(author, photo, filename=filename, content_type=label))
    ready = await settled(author.client, post["uploadPost"]["id"])
    assert ready["media"]["status"] == "READY", ready["media"]["error"]
    assert ready["media"]["width"] == 64


async def test_bytes_that_are_no_photo_are_refused_at_once_and_kept_nowhere(
    http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "shopper")
    async with kept_nowhere(author, s3, settings):
        result = await upload_one_shot(author, images.text_named_jpg(), content_type="image/jpeg")
        assert error_codes(result) == ["BAD_USER_INPUT"]


async def test_a_presigned_upload_takes_its_type_however_it_is_spelled(
    http: httpx.AsyncClient,
) -> None:
    author = await sign_up(http, "shouter")
    created = await create_and_put(author, images.jpeg(64, 48), content_type=" IMAGE/JPEG")
    assert {h["name"]: h["value"] for h in created["uploadHeaders"]} == {
        "Content-Type": "image/jpeg"
    }
    data(await author.client.execute(CONFIRM, {"id": created["post"]["id"]}))
    ready = await settled(author.client, created["post"]["id"])
    assert ready["media"]["status"] == "READY", ready["media"]["error"]


@pytest.mark.parametrize("declared", ["", "application/octet-stream", "image/gif"])
async def test_a_presigned_upload_still_needs_a_photo_type(
    http: httpx.AsyncClient, declared: str
) -> None:
    author = await sign_up(http, "vague")
    result = await author.client.execute(CREATE_POST, {"caption": "x", "type": declared})
    assert error_codes(result) == ["BAD_USER_INPUT"]
