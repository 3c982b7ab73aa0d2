"""Signed rendition URLs are reused for the first half of their life (pure logic,
with a real S3 client: signing is local, no request is sent); what SignUrls refuses."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import parse_qs, urlsplit

import grpc
import pytest

from gateway.config import GatewaySettings
from media_svc.limits import SIGN_URLS_MAX
from media_svc.objects import ObjectStore
from media_svc.signing import UrlSigner
from pictor.clients import ServiceClients
from pictor.media.v1 import media_pb2
from pictor.s3 import open_s3


class CountingStore(ObjectStore):
    """The real store, counting the URLs it signs."""

    signed = 0

    async def presign_get(self, keys: Sequence[str], ttl_seconds: int) -> list[str]:
        self.signed += len(keys)
        return await super().presign_get(keys, ttl_seconds)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_url_is_reused_for_half_its_life_then_signed_again() -> None:
    clock = Clock()
    async with open_s3(GatewaySettings()) as s3:
        store = CountingStore(s3, "pictor-media")
        signer = UrlSigner(store, ttl_seconds=3600, clock=clock)
        first, expires = await signer.sign(["media/1/large.jpg", "media/1/thumb.jpg"])
        assert store.signed == 2
        assert expires.timestamp() == clock.now + 3600
        assert parse_qs(urlsplit(first[0]).query)["X-Amz-Expires"] == ["3600"]

        clock.now += 1700
        again, expires_again = await signer.sign(["media/1/thumb.jpg", "media/1/large.jpg"])
        assert again == [first[1], first[0]]
        assert expires_again == expires
        assert store.signed == 2

        clock.now += 200  # past half of the hour: signed again
        _, renewed_expiry = await signer.sign(["media/1/large.jpg", "media/1/large.jpg"])
        assert store.signed == 3
        assert renewed_expiry.timestamp() == clock.now + 3600


async def test_the_memory_is_bounded() -> None:
    async with open_s3(GatewaySettings()) as s3:
        signer = UrlSigner(ObjectStore(s3, "pictor-media"), ttl_seconds=60, capacity=3)
        urls, _ = await signer.sign([f"media/{n}/small.jpg" for n in range(5)])
        assert len(urls) == 5
        assert len(signer._signed) == 3


async def test_sign_urls_signs_up_to_its_limit_and_only_renditions(
    clients: ServiceClients,
) -> None:
    keys = [f"media/{n}/small.jpg" for n in range(SIGN_URLS_MAX)]
    signed = await clients.media.SignUrls(media_pb2.SignUrlsRequest(object_keys=keys))
    assert len(signed.urls) == SIGN_URLS_MAX
    for refused in ([*keys, "media/0/large.jpg"], ["uploads/1"]):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await clients.media.SignUrls(media_pb2.SignUrlsRequest(object_keys=refused))
        assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
