"""Logs are one JSON object per line, carrying the trace id when a span is active."""

from __future__ import annotations

import json
import logging

from opentelemetry.sdk.trace import TracerProvider

from pictor.logs import JsonFormatter


def _record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    record = logging.getLogger("pictor.test").makeRecord(
        "pictor.test", logging.INFO, __file__, 1, message, args, None, extra=extra
    )
    return record


def test_a_log_line_is_json_with_the_extra_fields() -> None:
    line = JsonFormatter("feed_svc").format(_record("fanned out %d posts", 3, post_id=7))
    entry = json.loads(line)
    assert entry["msg"] == "fanned out 3 posts"
    assert entry["service"] == "feed_svc"
    assert entry["level"] == "info"
    assert entry["post_id"] == 7
    assert "trace_id" not in entry


def test_a_log_line_inside_a_span_carries_its_trace_id() -> None:
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("work") as span:
        entry = json.loads(JsonFormatter("graph_svc").format(_record("inside")))
    assert entry["trace_id"] == format(span.get_span_context().trace_id, "032x")
