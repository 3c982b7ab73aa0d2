"""Posts as post_svc sees them: what a caption may be, which photo types are taken,
and which way the media lifecycle may move."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TypeAlias

from pictor.errors import DomainError, InvalidInput
from pictor.post.v1 import post_pb2
from pictor.snowflake import timestamp_ms

CAPTION_MAX = 2200
# Alt text describes one photo for a screen reader, read aloud in full: a sentence or
# a short paragraph. 1,000 leaves room for that (Mastodon's limit is 1,500, Instagram's
# screen readers cut far shorter) and keeps a post record small in the feed cache.
ALT_TEXT_MAX = 1000
# What a client may declare at createPost; the worker checks the real bytes later.
ACCEPTED_CONTENT_TYPES = frozenset(
    {"image/jpeg", "image/png", "image/webp", "image/heic", "image/heif", "image/avif"}
)

Status: TypeAlias = post_pb2.MediaStatus.ValueType
PENDING = post_pb2.MEDIA_STATUS_PENDING
PROCESSING = post_pb2.MEDIA_STATUS_PROCESSING
READY = post_pb2.MEDIA_STATUS_READY
FAILED = post_pb2.MEDIA_STATUS_FAILED
TERMINAL = frozenset({READY, FAILED})

# The statuses a post may be in for each target status to apply: the lifecycle only
# moves forward, PENDING -> PROCESSING -> READY | FAILED, and may skip PROCESSING.
ALLOWED_FROM: dict[Status, tuple[Status, ...]] = {
    PROCESSING: (PENDING,),
    READY: (PENDING, PROCESSING),
    FAILED: (PENDING, PROCESSING),
}


class InvalidTransition(DomainError):
    """A status that would move the lifecycle backwards (FAILED_PRECONDITION)."""


def sources(target: Status) -> tuple[Status, ...]:
    """The statuses a post may move to ``target`` from; a status nobody may ask for
    (PENDING: every post starts there) is refused."""
    allowed = ALLOWED_FROM.get(target)
    if allowed is None:
        raise InvalidTransition(f"a post cannot be moved to {status_name(target)}")
    return allowed


def moves(current: Status, target: Status) -> bool:
    """Whether asking a post in ``current`` for ``target`` moves it. A post already there
    does not move and that is no error: the media worker repeats its request until
    it is answered. Any other way is backwards or sideways, and refused."""
    if current in sources(target):
        return True
    if current == target:
        return False
    raise InvalidTransition(f"a {status_name(current)} post cannot become {status_name(target)}")


def updated_media(current: post_pb2.Media, update: post_pb2.Media) -> post_pb2.Media:
    """The media after an update: the fields it sets replace the current ones, and its
    renditions, if any, replace the current list rather than adding to it."""
    merged = post_pb2.Media()
    merged.CopyFrom(current)
    merged.MergeFrom(update)
    if update.renditions:
        del merged.renditions[:]
        merged.renditions.extend(update.renditions)
    return merged


@dataclass(frozen=True)
class Post:
    id: int
    author_id: int
    caption: str
    media: post_pb2.Media
    alt_text: str = ""

    @property
    def status(self) -> Status:
        return self.media.status

    def to_proto(self) -> post_pb2.Post:
        proto = post_pb2.Post(
            id=self.id, author_id=self.author_id, caption=self.caption, alt_text=self.alt_text
        )
        proto.media.CopyFrom(self.media)
        proto.created_at.FromMilliseconds(timestamp_ms(self.id))
        return proto


def status_name(status: Status) -> str:
    return post_pb2.MediaStatus.Name(status).removeprefix("MEDIA_STATUS_")


def normalize_caption(caption: str) -> str:
    return normalize_text(caption, "a caption", 0, CAPTION_MAX)


def normalize_alt_text(alt_text: str) -> str:
    return normalize_text(alt_text, "alt text", 1, ALT_TEXT_MAX)


def normalize_text(text: str, what: str, shortest: int, longest: int) -> str:
    """Text a person wrote (a caption, a comment, alt text), trimmed, between
    ``shortest`` and ``longest`` characters and free of control characters."""
    text = text.strip()
    if not shortest <= len(text) <= longest:
        limit = f"at most {longest}" if shortest == 0 else f"{shortest} to {longest}"
        raise InvalidInput(f"{what} is {limit} characters")
    if any(unicodedata.category(char) == "Cc" and char not in "\n\t" for char in text):
        raise InvalidInput(f"{what} cannot contain control characters")
    return text


def check_content_type(content_type: str) -> str:
    """The declared type, normalised: the one place a declared type is spelled out.
    Empty declares nothing: a streamed upload is typed by its bytes (media_svc), and
    a pre-signed one cannot be made without a type."""
    declared = content_type.strip().lower()
    if declared and declared not in ACCEPTED_CONTENT_TYPES:
        accepted = ", ".join(sorted(ACCEPTED_CONTENT_TYPES))
        raise InvalidInput(f"unsupported content type {content_type!r}; use one of {accepted}")
    return declared
