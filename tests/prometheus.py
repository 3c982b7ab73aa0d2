"""Reading a process's Prometheus ``/metrics`` as Prometheus would: over HTTP, with
the client library's own parser."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample at ``url``, by name and labels."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(url)
    response.raise_for_status()
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


async def sample(url: str, name: str, labels: Mapping[str, str] | None = None) -> float | None:
    """One sample's value, None when the process does not report it."""
    return (await scrape(url)).get((name, frozenset((labels or {}).items())))


def metrics_url(port: int) -> str:
    return f"http://127.0.0.1:{port}/metrics"
