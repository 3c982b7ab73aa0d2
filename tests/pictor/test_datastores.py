"""Round trips against the real Redis and the real S3 server (MinIO)."""

from __future__ import annotations

import hashlib

import httpx
import redis.asyncio as redis

from gateway.config import GatewaySettings
from pictor.s3 import open_s3


async def test_redis_round_trip(settings: GatewaySettings) -> None:
    client = redis.from_url(settings.redis_url)
    try:
        await client.zadd("probe:{1}", {"42": 1.0, "43": 2.0})
        assert await client.zrevrange("probe:{1}", 0, -1) == [b"43", b"42"]
    finally:
        await client.aclose()


async def test_s3_put_get_and_presigned_urls(settings: GatewaySettings) -> None:
    body = bytes(range(256)) * 64
    async with open_s3(settings) as s3, httpx.AsyncClient() as http:
        await s3.put_object(Bucket=settings.s3_bucket, Key="probe/put.bin", Body=body)
        stored = await s3.get_object(Bucket=settings.s3_bucket, Key="probe/put.bin")
        async with stored["Body"] as stream:
            assert await stream.read() == body

        get_url = await s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": settings.s3_bucket, "Key": "probe/put.bin"},
            ExpiresIn=60,
        )
        fetched = await http.get(get_url)
        assert fetched.status_code == 200
        assert hashlib.sha256(fetched.content).digest() == hashlib.sha256(body).digest()

        put_url = await s3.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": settings.s3_bucket,
                "Key": "probe/presigned.bin",
                "ContentType": "image/jpeg",
            },
            ExpiresIn=60,
        )
        uploaded = await http.put(put_url, content=body, headers={"Content-Type": "image/jpeg"})
        assert uploaded.status_code == 200
        head = await s3.head_object(Bucket=settings.s3_bucket, Key="probe/presigned.bin")
        assert head["ContentLength"] == len(body)
        assert head["ContentType"] == "image/jpeg"

        tampered = await http.put(put_url, content=body, headers={"Content-Type": "text/plain"})
        assert tampered.status_code == 403
