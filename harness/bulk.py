"""A population made in bulk through the services' own APIs, for the benchmarks, the
demo seed and the tests that need many people: accounts imported with one shared
argon2id hash, follows imported in calls graph_svc takes, READY posts as the media
worker leaves them, and the running feed worker's settings. Nothing writes a table or
a Redis key: what is measured or shown is what the services built."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

import grpc
from argon2 import PasswordHasher

from feed_svc.config import FeedSettings
from harness.accounts import PASSWORD
from harness.processes import environ
from harness.waiting import bounded
from pictor.clients import ServiceClients, all_following
from pictor.graph.v1 import graph_pb2
from pictor.post.v1 import post_pb2

PUBLISH_CONCURRENCY = 8
# graph_svc's largest batch.
BATCH_GET = 500
STREAM_PAGE = 5000
# graph_svc accepts up to 200,000 edges per ImportFollows call, but 100,000 edges into
# one followee's partition at once overran the Cassandra driver (client request
# timeouts, UNAVAILABLE) on the dev stack: calls of 20,000, retried (it is idempotent).
IMPORT_EDGES = 20_000
IMPORT_ATTEMPTS = 3
IMPORT_USERS = 10_000
# A 4:5 portrait photo's renditions (name -> width, height), as the worker makes them.
RENDITION_SIZES = {
    "thumb": (150, 150),
    "small": (320, 400),
    "medium": (640, 800),
    "large": (1080, 1350),
}
T = TypeVar("T")


# ---------------------------------------------------------------- accounts and follows


@functools.cache
def password_hash(password: str) -> str:
    """One argon2id hash of the password, shared by every account imported with it."""
    return PasswordHasher().hash(password)


async def retried(call: Callable[[], Awaitable[T]]) -> T:
    """A bulk call, made again when graph_svc answers UNAVAILABLE (imports are
    idempotent): on the dev stack the largest imports can overrun its Cassandra driver."""
    for attempt in range(1, IMPORT_ATTEMPTS + 1):
        try:
            return await call()
        except grpc.aio.AioRpcError as error:
            if error.code() != grpc.StatusCode.UNAVAILABLE or attempt == IMPORT_ATTEMPTS:
                raise
            await asyncio.sleep(5 * attempt)
    raise AssertionError("unreachable")


async def import_users(
    clients: ServiceClients, usernames: Sequence[str], password: str = PASSWORD
) -> list[int]:
    """The ids of these users, made through ImportUsers (idempotent by username, one
    shared argon2id hash: thousands a second), in streams of IMPORT_USERS accounts."""
    shared_hash = await asyncio.to_thread(password_hash, password)

    async def stream(names: Sequence[str]) -> list[int]:
        async def requests() -> AsyncIterator[graph_pb2.ImportUsersRequest]:
            for name in names:
                yield graph_pb2.ImportUsersRequest(
                    username=name,
                    display_name=name.replace(".", " ").title(),
                    password_hash=shared_hash,
                )

        return [int(r.user_id) async for r in clients.graph.ImportUsers(requests(), timeout=600)]

    ids: list[int] = []
    for start in range(0, len(usernames), IMPORT_USERS):
        names = usernames[start : start + IMPORT_USERS]
        ids += await retried(functools.partial(stream, names))
    if len(ids) != len(usernames) or not all(ids):
        raise RuntimeError("ImportUsers did not answer every account")
    return ids


async def followers_of(clients: ServiceClients, user_id: int) -> set[int]:
    request = graph_pb2.StreamFollowersRequest(user_id=user_id, page_size=STREAM_PAGE)
    return {f async for page in clients.graph.StreamFollowers(request) for f in page.follower_ids}


async def following_of(clients: ServiceClients, user_id: int) -> set[int]:
    return set(await all_following(clients.graph, user_id))


async def _import_call(clients: ServiceClients, edges: Mapping[int, Sequence[int]]) -> int:
    """Bulk follows (follower -> followees) in one ImportFollows stream; returns how many
    edges were new. Each follower's feed state is rebuilt on their next read."""

    async def requests() -> Any:
        for follower, followees in edges.items():
            yield graph_pb2.ImportFollowsRequest(follower_id=follower, followee_ids=followees)

    response = await clients.graph.ImportFollows(requests())
    return int(response.added)


async def import_follows(clients: ServiceClients, edges: Mapping[int, Sequence[int]]) -> int:
    """ImportFollows in calls of up to IMPORT_EDGES edges, each retried; returns how
    many edges were new."""
    added = 0
    batch: dict[int, Sequence[int]] = {}
    size = 0
    for follower, followees in edges.items():
        if size + len(followees) > IMPORT_EDGES and batch:
            added += await retried(functools.partial(_import_call, clients, batch))
            batch, size = {}, 0
        batch[follower] = followees
        size += len(followees)
    if batch:
        added += await retried(functools.partial(_import_call, clients, batch))
    return added


async def users(clients: ServiceClients, user_ids: Sequence[int]) -> dict[int, graph_pb2.User]:
    found: dict[int, graph_pb2.User] = {}
    for start in range(0, len(user_ids), BATCH_GET):
        response = await clients.graph.BatchGetUsers(
            graph_pb2.BatchGetUsersRequest(user_ids=user_ids[start : start + BATCH_GET])
        )
        found.update((user.id, user) for user in response.users)
    return found


# ---------------------------------------------------------------- posts


def ready_media(post_id: int) -> post_pb2.Media:
    """What the media worker leaves on a READY photo: sizes, a BlurHash and 4 sizes x
    JPEG/WebP renditions (the keys need not exist: signing a URL does not read them)."""
    renditions = [
        post_pb2.Rendition(
            name=name,
            content_type=content_type,
            width=width,
            height=height,
            object_key=f"media/{post_id}/{name}.{extension}",
        )
        for name, (width, height) in RENDITION_SIZES.items()
        for content_type, extension in (("image/jpeg", "jpg"), ("image/webp", "webp"))
    ]
    width, height = RENDITION_SIZES["large"]
    return post_pb2.Media(
        status=post_pb2.MEDIA_STATUS_READY,
        width=width,
        height=height,
        blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        renditions=renditions,
    )


async def create_post(clients: ServiceClients, author_id: int, caption: str) -> int:
    """A PENDING post; nothing is published until it is made READY."""
    created = await clients.post.CreatePost(
        post_pb2.CreatePostRequest(author_id=author_id, caption=caption, content_type="image/jpeg")
    )
    return int(created.post.id)


async def make_ready(clients: ServiceClients, post_id: int) -> None:
    """READY, as the media worker would leave it: post_svc publishes post.published."""
    await clients.post.UpdateMedia(
        post_pb2.UpdateMediaRequest(post_id=post_id, media=ready_media(post_id))
    )


async def publish_missing(
    clients: ServiceClients,
    authors: Sequence[int],
    per_author: int,
    caption: str,
    say: Callable[[str], None],
) -> None:
    """READY posts for each author who has fewer than ``per_author``."""
    counts = {user.id: user.post_count for user in (await users(clients, authors)).values()}
    wanted = [
        author for author in authors for _ in range(max(0, per_author - counts.get(author, 0)))
    ]
    if wanted:
        say(f"publishing {len(wanted)} posts")

        async def publish(author: int) -> None:
            await make_ready(clients, await create_post(clients, author, f"{caption} {author}"))

        await bounded(PUBLISH_CONCURRENCY, publish, wanted)


# ---------------------------------------------------------------- the feed worker


def worker_setting(pid: int, name: str) -> Any:
    """A FeedSettings value as the running feed worker (or feed_svc) has it: from its
    environment, else the default."""
    default = FeedSettings.model_fields[name].default
    value = environ(pid).get(f"PICTOR_{name.upper()}")
    return default if value is None else type(default)(value)
