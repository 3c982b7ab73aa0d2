"""The post lifecycle's rule, without the stack: PENDING -> PROCESSING -> READY | FAILED,
only forward, PROCESSING may be skipped, and asking again for the status a post is
already in is a harmless repeat. The same rule through post_svc and the media worker:
tests/media_svc and tests/gateway/test_posts.py."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pictor.post.v1 import post_pb2
from post_svc.posts import (
    FAILED,
    PENDING,
    PROCESSING,
    READY,
    TERMINAL,
    InvalidTransition,
    Status,
    moves,
    sources,
    status_name,
    updated_media,
)

STATUSES = (PENDING, PROCESSING, READY, FAILED)
UNSPECIFIED = post_pb2.MEDIA_STATUS_UNSPECIFIED

MOVES, REPEAT, REFUSED = "moves", "repeat", "refused"
# Every (current, asked) pair not listed is refused.
RULE = {
    (PENDING, PROCESSING): MOVES,
    (PENDING, READY): MOVES,
    (PENDING, FAILED): MOVES,
    (PROCESSING, PROCESSING): REPEAT,
    (PROCESSING, READY): MOVES,
    (PROCESSING, FAILED): MOVES,
    (READY, READY): REPEAT,
    (FAILED, FAILED): REPEAT,
}


def outcome(current: Status, asked: Status) -> str:
    try:
        return MOVES if moves(current, asked) else REPEAT
    except InvalidTransition:
        return REFUSED


@pytest.mark.parametrize("current", STATUSES, ids=status_name)
@pytest.mark.parametrize("asked", [*STATUSES, UNSPECIFIED], ids=status_name)
def test_each_status_may_be_asked_for_only_forward(current: Status, asked: Status) -> None:
    assert outcome(current, asked) == RULE.get((current, asked), REFUSED)


@pytest.mark.parametrize("asked", [PENDING, UNSPECIFIED], ids=status_name)
def test_no_post_may_be_sent_back_to_the_start(asked: Status) -> None:
    with pytest.raises(InvalidTransition):
        sources(asked)


@pytest.mark.parametrize("current", STATUSES, ids=status_name)
@pytest.mark.parametrize("asked", [PROCESSING, READY, FAILED], ids=status_name)
def test_the_store_moves_exactly_the_posts_the_rule_moves(current: Status, asked: Status) -> None:
    """The store's condition (``IF status IN sources``) and the rule agree."""
    assert (current in sources(asked)) == (outcome(current, asked) == MOVES)


@settings(max_examples=500)
@given(asked=st.lists(st.sampled_from(STATUSES), max_size=12))
def test_any_sequence_of_requests_walks_the_lifecycle_forward(asked: list[Status]) -> None:
    status = PENDING
    path = [status]
    for target in asked:
        result = outcome(status, target)
        if result == MOVES:
            status = target
            path.append(status)
        elif result == REPEAT:
            assert target == status
    assert path in (
        [PENDING],
        [PENDING, PROCESSING],
        [PENDING, READY],
        [PENDING, FAILED],
        [PENDING, PROCESSING, READY],
        [PENDING, PROCESSING, FAILED],
    )
    # Once settled, nothing moves it.
    if status in TERMINAL:
        assert all(outcome(status, target) != MOVES for target in STATUSES)


def rendition(name: str) -> post_pb2.Rendition:
    return post_pb2.Rendition(name=name, content_type="image/jpeg", object_key=f"media/{name}")


def test_an_update_replaces_the_renditions_and_keeps_what_it_does_not_set() -> None:
    current = post_pb2.Media(
        status=PROCESSING,
        declared_content_type="image/png",
        renditions=[rendition("thumb"), rendition("small")],
    )
    update = post_pb2.Media(status=READY, width=1080, height=720, renditions=[rendition("large")])

    media = updated_media(current, update)

    assert media.status == READY
    assert (media.width, media.height) == (1080, 720)
    assert media.declared_content_type == "image/png"
    assert [r.name for r in media.renditions] == ["large"]
    assert [r.name for r in current.renditions] == ["thumb", "small"]


def test_an_update_without_renditions_keeps_the_current_ones() -> None:
    current = post_pb2.Media(status=PROCESSING, renditions=[rendition("thumb")])

    media = updated_media(current, post_pb2.Media(status=FAILED, error="not a photo"))

    assert media.status == FAILED
    assert media.error == "not a photo"
    assert [r.name for r in media.renditions] == ["thumb"]
