"""OpenTelemetry tracing. Spans are exported over OTLP only when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set; otherwise they are created (so trace ids
reach logs and propagate across services) but never exported."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def configure_tracing(service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"pictor-{service}"}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
