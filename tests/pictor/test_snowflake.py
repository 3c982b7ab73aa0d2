"""Snowflake ids (pure logic)."""

from __future__ import annotations

import time

from pictor.snowflake import SnowflakeGenerator, created_at, timestamp_ms


def test_ids_are_unique_and_increasing_within_a_worker() -> None:
    generator = SnowflakeGenerator(worker_id=5)
    ids = [generator.next_id() for _ in range(20_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_two_workers_never_collide() -> None:
    first, second = SnowflakeGenerator(1), SnowflakeGenerator(2)
    ids = [g.next_id() for _ in range(5_000) for g in (first, second)]
    assert len(set(ids)) == len(ids)


def test_an_id_knows_when_it_was_made() -> None:
    before = time.time_ns() // 1_000_000
    made = SnowflakeGenerator(0).next_id()
    after = time.time_ns() // 1_000_000
    assert before <= timestamp_ms(made) <= after + 1
    assert timestamp_ms(made) < 2**53  # exact as a Redis score
    assert abs(created_at(made).timestamp() * 1000 - timestamp_ms(made)) < 1
