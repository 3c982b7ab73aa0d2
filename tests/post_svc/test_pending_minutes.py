"""How pending posts are filed for the sweep: by creation minute, and the id bound that
separates posts made before a moment from those made after."""

from __future__ import annotations

from pictor.snowflake import SnowflakeGenerator, timestamp_ms
from post_svc.store import PENDING_MINUTE_MS, first_id_at, pending_minute


def test_every_id_falls_between_the_bounds_of_its_millisecond() -> None:
    ids = SnowflakeGenerator(worker_id=1023)
    for _ in range(1000):
        post_id = ids.next_id()
        made = timestamp_ms(post_id)
        assert first_id_at(made) <= post_id < first_id_at(made + 1)


def test_a_post_is_filed_under_the_minute_it_was_made() -> None:
    post_id = SnowflakeGenerator(worker_id=3).next_id()
    minute = pending_minute(post_id)
    assert minute * PENDING_MINUTE_MS <= timestamp_ms(post_id) < (minute + 1) * PENDING_MINUTE_MS
