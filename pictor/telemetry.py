"""OpenTelemetry tracing. Spans are exported over OTLP when
``OTEL_EXPORTER_OTLP_ENDPOINT`` is set. Without it, the gRPC calls between
services make no spans (``traced_rpcs``): the interceptors that make them cost
about as much CPU as a small call itself, for spans that would go nowhere."""

from __future__ import annotations

import os

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


def traced_rpcs() -> bool:
    """Whether gRPC clients and servers trace their calls (spans are exported)."""
    return bool(os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))


def configure_tracing(service: str) -> TracerProvider:
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: f"pictor-{service}"}))
    if traced_rpcs():
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider
