"""Puts a demo plan into a running stack through the services' public gRPC APIs, never
by writing tables, adding only what is missing: users are looked up by name, follows
are imported only for users who follow fewer accounts than planned, and each user
uploads only the posts their profile does not show yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import grpc
import httpx
import redis.asyncio as redis

from feed_svc.config import FeedSettings
from harness import bulk
from harness.accounts import find_user, log_in
from harness.events import settle_feed_worker
from harness.graphql import GraphQLClient, GraphQLError
from harness.processes import environ
from harness.waiting import bounded
from pictor.clients import ServiceClients
from pictor.config import Settings
from pictor.feed.v1 import feed_pb2
from pictor.graph.v1 import graph_pb2
from pictor.media.v1 import media_pb2
from pictor.post.v1 import post_pb2
from seed import photos as demo_photos
from seed.plan import DemoPlan, PlannedPost

THRESHOLD_ENV = "PICTOR_CELEBRITY_THRESHOLD"

DEFAULT_USERS = 2000
# Every seeded account has it; at least 8 characters (graph_svc's rule).
PASSWORD = "pictor-demo"
# argon2id keeps both cores busy for about 0.1 s a hash: more at once only queues.
CREATE_CONCURRENCY = 2
LOOKUP_CONCURRENCY = 16
# The media worker takes 2 photos at once; two more uploading keeps it fed.
UPLOAD_CONCURRENCY = 4
FEED_CHECK_CONCURRENCY = 8
# Edges per ImportFollows call, under graph_svc's 200,000 with room for one more
# follower's (at most FOLLOWING_MAX).
IMPORT_EDGES_MAX = 190_000
# Home feeds read at the end to check them (every one in a small graph).
FEED_SAMPLE = 250
CHUNK_BYTES = 256 * 1024
CONTENT_TYPE = "image/jpeg"
PROGRESS_EVERY_SECONDS = 3.0
SETTLE_SECONDS = 120.0
FEED_CHECK = "{ viewer { username } homeFeed(first: 12) { edges { node { id } } } }"

Say = Callable[[str], None]


def to_stderr(message: str) -> None:
    print(f"seed: {message}", file=sys.stderr, flush=True)


def duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """A step's progress on stderr: a line every few seconds while it runs (done/total,
    rate, time so far and left), and one when it ends. ``async with`` it."""

    def __init__(self, say: Say, step: str, total: int, unit: str) -> None:
        self._say = say
        self.step = step
        self.total = total
        self.unit = unit
        self.done = 0
        # Added to the last line.
        self.note = ""
        self.seconds = 0.0
        self._began = time.monotonic()
        self._ticker: asyncio.Task[None] | None = None

    def advance(self, count: int = 1) -> None:
        self.done += count

    async def __aenter__(self) -> Progress:
        self._began = time.monotonic()
        self._ticker = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, kind: type[BaseException] | None, *_: object) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
        self.seconds = time.monotonic() - self._began
        if kind is None:
            self._say(self._line(finished=True) + (f"; {self.note}" if self.note else ""))

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_SECONDS)
            self._say(self._line())

    def _line(self, finished: bool = False) -> str:
        elapsed = max(time.monotonic() - self._began, 1e-6)
        rate = self.done / elapsed
        line = f"{self.step}: {self.done}/{self.total} {self.unit}"
        if self.total:
            line += f" ({100 * self.done // self.total}%)"
        line += f", {rate:.1f}/s, {duration(elapsed)}"
        if not finished and 0 < self.done < self.total:
            line += f", about {duration((self.total - self.done) / rate)} left"
        return line


def celebrity_threshold(feed_worker_pid: int | None) -> tuple[int, str]:
    """The running feed worker's PICTOR_CELEBRITY_THRESHOLD, and where it came from."""
    default = int(FeedSettings.model_fields["celebrity_threshold"].default)
    if feed_worker_pid is None:
        return default, "the default; no feed_worker found"
    try:
        value = environ(feed_worker_pid).get(THRESHOLD_ENV)
    except OSError:
        return default, "the default; the feed_worker's environment is unreadable"
    if value is None:
        return default, "the feed_worker's default"
    return int(value), f"the feed_worker's {THRESHOLD_ENV}"


@dataclass
class SeedReport:
    users: int = 0
    users_created: int = 0
    follow_edges: int = 0
    edges_added: int = 0
    posts: int = 0
    posts_uploaded: int = 0
    uploads_failed: int = 0
    celebrities: list[str] = field(default_factory=list)
    feeds_read: int = 0
    full_feeds: int = 0
    # username, posts on their first GraphQL feed page (None: not checked)
    login: tuple[str, int | None] | None = None
    login_note: str = ""
    seconds: dict[str, float] = field(default_factory=dict)


class Seeder:
    def __init__(
        self,
        clients: ServiceClients,
        demo: DemoPlan,
        threshold: int,
        say: Say = to_stderr,
        photos: int = demo_photos.POOL_SIZE,
    ) -> None:
        self._clients = clients
        self._plan = demo
        self._threshold = threshold
        self._say = say
        self._photos = photos
        self.report = SeedReport()
        self.ids: list[int] = []
        self.users: list[graph_pb2.User] = []

    # ------------------------------------------------------------ users

    async def ensure_users(self) -> None:
        """Finds the planned usernames; creates those missing (argon2id each)."""
        names = self._plan.usernames
        found: dict[int, int] = {}

        async with Progress(self._say, "users: looking up", len(names), "names") as lookup:

            async def look_up(index: int) -> None:
                user_id = await find_user(self._clients, names[index])
                if user_id is not None:
                    found[index] = user_id
                lookup.advance()

            await bounded(LOOKUP_CONCURRENCY, look_up, range(len(names)))
            lookup.note = f"{len(found)} exist"
        self.report.seconds["users"] = lookup.seconds

        missing = [index for index in range(len(names)) if index not in found]
        if missing:
            async with Progress(self._say, "users: creating", len(missing), "users") as creating:

                async def create(index: int) -> None:
                    found[index] = await self._create(index)
                    creating.advance()

                await bounded(CREATE_CONCURRENCY, create, missing)
            self.report.seconds["users"] += creating.seconds
        self.ids = [found[index] for index in range(len(names))]
        self.report.users = len(self.ids)

    async def _create(self, index: int) -> int:
        request = graph_pb2.CreateUserRequest(
            username=self._plan.usernames[index],
            password=PASSWORD,
            display_name=self._plan.display_names[index],
        )
        try:
            user_id = int((await self._clients.graph.CreateUser(request)).user.id)
        except grpc.aio.AioRpcError as error:
            # Unless someone else created it since the look-up.
            taken = error.code() == grpc.StatusCode.ALREADY_EXISTS
            existing = await find_user(self._clients, request.username) if taken else None
            if existing is None:
                raise
            return existing
        self.report.users_created += 1
        return user_id

    async def refresh(self) -> None:
        """The seeded users as graph_svc counts them now (followers, following, posts)."""
        by_id = await bulk.users(self._clients, self.ids)
        self.users = [by_id[user_id] for user_id in self.ids]

    # ------------------------------------------------------------ follows

    async def ensure_follows(self) -> None:
        """Imports the planned follows of every user who follows fewer accounts than
        planned. ImportFollows is idempotent; the others are left out so that their
        feeds are not invalidated for nothing."""
        await self.refresh()
        following = self._plan.following
        short = [
            index
            for index, user in enumerate(self.users)
            if user.following_count < len(following[index])
        ]
        edges = sum(len(following[index]) for index in short)
        async with Progress(self._say, "follows", edges, "edges") as progress:
            for call in import_calls(short, following):
                response = await self._clients.graph.ImportFollows(self._import_requests(call))
                self.report.edges_added += response.added
                progress.advance(sum(len(following[index]) for index in call))
            already = len(self.users) - len(short)
            progress.note = f"{self.report.edges_added} new; {already} users had all theirs"
        self.report.seconds["follows"] = progress.seconds

    async def _import_requests(
        self, followers: Sequence[int]
    ) -> AsyncIterator[graph_pb2.ImportFollowsRequest]:
        for index in followers:
            yield graph_pb2.ImportFollowsRequest(
                follower_id=self.ids[index],
                followee_ids=[self.ids[f] for f in self._plan.following[index]],
            )

    # ------------------------------------------------------------ posts

    async def ensure_posts(self) -> None:
        """Uploads each user's planned posts beyond those their profile shows."""
        await self.refresh()
        have = [user.post_count for user in self.users]
        todo = [
            post
            for post in self._plan.upload_order(self._photos)
            if post.number >= have[post.author]
        ]
        pool: list[bytes] = []
        if todo:
            async with Progress(self._say, "photos: generating", self._photos, "photos") as making:
                # On a thread, so the progress line keeps coming.
                pool = await asyncio.to_thread(demo_photos.pool, self._photos, making.advance)
                making.note = f"kept in {demo_photos.FOLDER} for later runs"
            self.report.seconds["photos"] = making.seconds

        async with Progress(self._say, "posts: uploading", len(todo), "photos") as progress:

            async def upload(post: PlannedPost) -> None:
                try:
                    status, message = await self._upload(post, pool[post.photo])
                except grpc.aio.AioRpcError as error:
                    status, message = post_pb2.MEDIA_STATUS_FAILED, str(error.details())
                if status == post_pb2.MEDIA_STATUS_READY:
                    self.report.posts_uploaded += 1
                else:
                    self.report.uploads_failed += 1
                    if self.report.uploads_failed == 1:
                        self._say(f"posts: an upload failed: {message}")
                progress.advance()

            await bounded(UPLOAD_CONCURRENCY, upload, todo)
            failed = self.report.uploads_failed
            progress.note = f"{failed} failed" if todo else "every profile was complete"
        self.report.seconds["posts"] = progress.seconds

    async def _upload(self, post: PlannedPost, photo: bytes) -> tuple[int, str]:
        """CreatePost, then the bytes through StreamUpload, following processing to the
        end; returns the final status and its message."""
        author = self.ids[post.author]
        created = await self._clients.post.CreatePost(
            post_pb2.CreatePostRequest(
                author_id=author, caption=post.caption, content_type=CONTENT_TYPE
            )
        )

        async def requests() -> AsyncIterator[media_pb2.StreamUploadRequest]:
            start = media_pb2.UploadStart(
                post_id=created.post.id, requester_id=author, content_type=CONTENT_TYPE
            )
            yield media_pb2.StreamUploadRequest(start=start)
            for offset in range(0, len(photo), CHUNK_BYTES):
                yield media_pb2.StreamUploadRequest(chunk=photo[offset : offset + CHUNK_BYTES])

        final = (post_pb2.MEDIA_STATUS_PENDING, "the upload stream ended before READY")
        async for response in self._clients.media.StreamUpload(requests()):
            if response.HasField("status"):
                final = (response.status.status, response.status.message)
        return final

    # ------------------------------------------------------------ feeds

    def feed_sample(self) -> list[int]:
        """The users whose feeds are read at the end: up to FEED_SAMPLE, always the same."""
        everyone = range(len(self.ids))
        if len(everyone) <= FEED_SAMPLE:
            return list(everyone)
        return sorted(random.Random(self._plan.seed).sample(everyone, FEED_SAMPLE))

    async def check_feeds(self, sample: Sequence[int]) -> dict[int, int]:
        """Reads the first ``feed_target`` posts of each sampled user's home feed (the
        first read builds it); returns how many each got."""
        sizes: dict[int, int] = {}
        target = self._plan.feed_target
        async with Progress(self._say, "feeds: reading", len(sample), "feeds") as progress:

            async def read(index: int) -> None:
                response = await self._clients.feed.GetHomeFeed(
                    feed_pb2.GetHomeFeedRequest(viewer_id=self.ids[index], page_size=target)
                )
                sizes[index] = len(response.items)
                progress.advance()

            await bounded(FEED_CHECK_CONCURRENCY, read, sample)
            self.report.feeds_read = len(sizes)
            self.report.full_feeds = sum(size >= target for size in sizes.values())
            progress.note = f"{self.report.full_feeds} hold at least {target} posts"
        return sizes

    def tally(self) -> list[int]:
        """Fills the report's totals from the latest counts; returns the celebrities."""
        self.report.follow_edges = sum(user.following_count for user in self.users)
        self.report.posts = sum(user.post_count for user in self.users)
        celebrities = [
            index for index, user in enumerate(self.users) if user.follower_count > self._threshold
        ]
        self.report.celebrities = [self._plan.usernames[index] for index in celebrities]
        return celebrities

    def login_candidates(self, feed_sizes: dict[int, int], celebrities: Sequence[int]) -> list[int]:
        """Users seen with a full feed, best first: those who follow a celebrity and are
        not one, then the others, each by index."""
        famous = set(celebrities)
        full = [i for i, size in feed_sizes.items() if size >= self._plan.feed_target]

        def rank(index: int) -> tuple[bool, int]:
            follows_one = bool(famous.intersection(self._plan.following[index]))
            return (not follows_one or index in famous, index)

        return sorted(full, key=rank)


def import_calls(followers: Sequence[int], following: Sequence[Sequence[int]]) -> list[list[int]]:
    """Followers cut into as few ImportFollows calls as graph_svc takes, of even size:
    each call writes every followee's partition once, so fewer calls write less."""
    edges = sum(len(following[index]) for index in followers)
    per_call = edges / max(1, math.ceil(edges / IMPORT_EDGES_MAX))
    calls: list[list[int]] = []
    before = 0
    for index in followers:
        number = int(before // per_call) if per_call else 0
        if number == len(calls):
            calls.append([])
        calls[-1].append(index)
        before += len(following[index])
    return calls


async def feed_worker_settled(redis_url: str, within: float = SETTLE_SECONDS) -> bool:
    """Whether the feed worker handled every follow import, publication and fan-out job
    so far within ``within`` seconds."""
    client = redis.from_url(redis_url)
    try:
        await settle_feed_worker(client, within=within, interval=0.5)
    except AssertionError:
        return False
    finally:
        await client.aclose()
    return True


async def check_login(gateway_url: str, username: str) -> tuple[int | None, str]:
    """Logs in through GraphQL as a client app would and reads the first feed page;
    returns its size (None if that failed) and what went wrong."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        try:
            reader = await log_in(GraphQLClient(http), username, PASSWORD)
        except GraphQLError as error:
            return None, f"logIn failed: {error}"
        try:
            page = await reader.data(FEED_CHECK)
        except GraphQLError as error:
            return None, f"homeFeed failed: {error}"
        return len(page["homeFeed"]["edges"]), ""


async def seed(
    settings: Settings,
    demo: DemoPlan,
    gateway_url: str,
    threshold: int,
    say: Say = to_stderr,
    photos: int = demo_photos.POOL_SIZE,
) -> SeedReport:
    """Puts the plan into the stack, adding only what is missing; ``photos`` is the
    size of the pool of distinct photos the posts share."""
    clients = ServiceClients.connect(settings)
    try:
        seeder = Seeder(clients, demo, threshold, say, photos)
        await seeder.ensure_users()
        await seeder.ensure_follows()
        await seeder.ensure_posts()
        began = time.monotonic()
        if not await feed_worker_settled(settings.redis_url):
            say("feeds: the feed worker is still busy; reading the feeds anyway")
        await seeder.refresh()
        celebrities = seeder.tally()
        sizes = await seeder.check_feeds(seeder.feed_sample())
        seeder.report.seconds["feeds"] = time.monotonic() - began
        for index in seeder.login_candidates(sizes, celebrities)[:3]:
            username = demo.usernames[index]
            page, problem = await check_login(gateway_url, username)
            seeder.report.login = (username, page)
            seeder.report.login_note = problem
            if page:
                break
        return seeder.report
    finally:
        await clients.close()
