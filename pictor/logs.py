"""Structured logs: one JSON object per line on stderr, with the active trace id."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

# Attributes every LogRecord has; anything else was passed through ``extra=``.
_STANDARD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            entry["trace_id"] = format(span_context.trace_id, "032x")
            entry["span_id"] = format(span_context.span_id, "016x")
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in _STANDARD_ATTRS
        )
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _DropKeyspaceAdvice(logging.Filter):
    """Cassandra 5 warns on every statement prepared in a session bound to a keyspace.
    That is how the driver is meant to be used (and ScyllaDB does not warn)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`USE <keyspace>` with prepared statements" not in record.getMessage()


def configure_logging(service: str, level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    handler.addFilter(_DropKeyspaceAdvice())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # The CQL driver logs every connection hiccup at WARNING, and libvips reports each
    # step of every photo at INFO: keep their warnings, drop the chatter.
    for chatty in ("cassandra", "pyvips"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, logging.getLogger().level))
