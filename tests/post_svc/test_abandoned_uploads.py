"""Posts whose photo never comes are swept: after the upload URL's lifetime the post
is deleted through its lifecycle (``post.deleted``), and the media worker removes
whatever reached the object store. A post whose photo came in time is left alone.

The test stack's post_svc waits the production lifetime; this module runs one more
post_svc, on the same keyspace, that gives uploads a few seconds and sweeps often.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
import redis.asyncio as redis

from gateway import ids
from gateway.config import GatewaySettings
from pictor import events
from tests import images
from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    Person,
    data,
    extra_part,
    free_port,
    one_off_part,
    sign_up,
    wait_until,
)

UPLOAD_URL_TTL_SECONDS = 2
GRACE_SECONDS = 2

CREATE_POST = """
mutation($type: String!) {
  createPost(caption: "soon", contentType: $type) {
    post { id media { status } } uploadUrl uploadHeaders { name value }
  }
}
"""
CONFIRM = "mutation($id: ID!) { confirmUpload(postId: $id) { id } }"
GET_POST = "query($id: ID!) { post(id: $id) { id media { status } } }"


@pytest.fixture(scope="module")
def quick_sweeper(test_stack: IsolatedStack) -> Iterator[None]:
    settings = test_stack.settings.model_copy(update={"post_addr": f"127.0.0.1:{free_port()}"})
    part = one_off_part(test_stack, "post_svc-sweeper", settings)
    env = {
        **part.env,
        "PICTOR_WORKER_ID": "7",
        "PICTOR_UPLOAD_URL_TTL_SECONDS": str(UPLOAD_URL_TTL_SECONDS),
        "PICTOR_ABANDONED_UPLOAD_GRACE_SECONDS": str(GRACE_SECONDS),
        "PICTOR_ABANDONED_UPLOAD_SWEEP_SECONDS": "0.2",
    }
    with extra_part(dataclasses.replace(part, env=env)):
        yield


@pytest.fixture
async def event_log(settings: GatewaySettings) -> AsyncIterator[redis.Redis]:
    client = redis.from_url(settings.redis_url)
    yield client
    await client.aclose()


async def create_post(person: Person) -> dict[str, Any]:
    created: dict[str, Any] = data(
        await person.client.execute(CREATE_POST, {"type": "image/jpeg"})
    )["createPost"]
    return created


async def put_photo(created: dict[str, Any]) -> None:
    headers = {h["name"]: h["value"] for h in created["uploadHeaders"]}
    async with httpx.AsyncClient() as http:
        put = await http.put(created["uploadUrl"], content=images.jpeg(300, 200), headers=headers)
    assert put.status_code == 200, put.text


async def keys_of(s3: Any, settings: GatewaySettings, post_id: int) -> list[str]:
    found = []
    for prefix in (f"uploads/{post_id}", f"media/{post_id}/"):
        response = await s3.list_objects_v2(Bucket=settings.s3_bucket, Prefix=prefix)
        found += [item["Key"] for item in response.get("Contents", [])]
    return found


async def deletions_announced(event_log: redis.Redis) -> set[int]:
    entries = await event_log.xrange(events.POST_DELETED)
    return {int(fields[b"post_id"]) for _, fields in entries or () if fields}


async def post_of(client: GraphQLClient, post_id: str) -> dict[str, Any] | None:
    post: dict[str, Any] | None = data(await client.execute(GET_POST, {"id": post_id}))["post"]
    return post


async def test_a_post_whose_photo_never_came_is_swept_with_its_objects(
    quick_sweeper: None,
    http: httpx.AsyncClient,
    s3: Any,
    settings: GatewaySettings,
    event_log: redis.Redis,
) -> None:
    author = await sign_up(http, "hesitant")
    # One put its photo in the bucket but never confirmed; one never sent anything.
    unconfirmed = await create_post(author)
    await put_photo(unconfirmed)
    never_sent = await create_post(author)
    post_ids = [ids.decode("Post", created["post"]["id"]) for created in (unconfirmed, never_sent)]
    assert await keys_of(s3, settings, post_ids[0]) == [f"uploads/{post_ids[0]}"]

    async def swept() -> bool:
        for created, post_id in zip((unconfirmed, never_sent), post_ids, strict=True):
            if await post_of(author.client, created["post"]["id"]) is not None:
                return False
            if await keys_of(s3, settings, post_id):
                return False
        return set(post_ids) <= await deletions_announced(event_log)

    await wait_until(swept, within=30, interval=0.2)


async def test_a_post_whose_photo_came_in_time_is_left_alone(
    quick_sweeper: None, http: httpx.AsyncClient, s3: Any, settings: GatewaySettings
) -> None:
    author = await sign_up(http, "prompt")
    kept = await create_post(author)
    await put_photo(kept)
    data(await author.client.execute(CONFIRM, {"id": kept["post"]["id"]}))

    async def ready() -> bool:
        post = await post_of(author.client, kept["post"]["id"])
        return post is not None and post["media"]["status"] == "READY"

    await wait_until(ready, within=30, interval=0.1)
    # A later post, abandoned: once it is swept, the sweep has gone past the kept one.
    abandoned = await create_post(author)

    async def abandoned_swept() -> bool:
        return await post_of(author.client, abandoned["post"]["id"]) is None

    await wait_until(abandoned_swept, within=30, interval=0.2)
    assert await post_of(author.client, kept["post"]["id"]) == {
        "id": kept["post"]["id"],
        "media": {"status": "READY"},
    }
    assert len(await keys_of(s3, settings, ids.decode("Post", kept["post"]["id"]))) == 8


async def test_no_upload_url_outlives_its_posts_upload_window(
    http: httpx.AsyncClient, settings: GatewaySettings
) -> None:
    """The sweep deletes a post the upload URL's lifetime after the post was created,
    so a URL, whenever it is issued, expires within that lifetime of the post."""
    author = await sign_up(http, "punctual")
    created = data(
        await author.client.execute(
            """mutation { createPost(caption: "now", contentType: "image/jpeg") {
                 post { createdAt } expiresAt } }"""
        )
    )["createPost"]
    window_ends = datetime.fromisoformat(created["post"]["createdAt"]) + timedelta(
        seconds=settings.upload_url_ttl_seconds
    )
    assert datetime.fromisoformat(created["expiresAt"]) <= window_ends
