"""Figures, the table they print as, and the JSON file a full run leaves behind."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

RESULTS_DIR = Path(__file__).with_name("results")
COLUMNS = ("scenario", "metric", "value", "baseline", "ratio", "concurrency", "notes")


@dataclass(frozen=True)
class Figure:
    """One measured number beside the baseline it is judged against.

    ``value`` None means the figure could not be taken here (shown as n/a, with why in
    ``notes``). ``details`` carries what the JSON keeps beyond the table.
    """

    scenario: str
    metric: str
    value: float | None
    unit: str
    baseline: float | None = None
    concurrency: int | None = None
    notes: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        if self.value is None or not self.baseline:
            return None
        return self.value / self.baseline

    def as_json(self) -> dict[str, Any]:
        ratio = None if self.ratio is None else round(self.ratio, 4)
        return {**asdict(self), "ratio": ratio, "details": dict(self.details)}


def percentile_figures(
    scenario: str,
    metric: str,
    values: Mapping[int, float | None],
    baselines: Mapping[int, float | None] | None = None,
    *,
    concurrency: int | None,
    notes: str = "",
    details: Mapping[str, Any] | None = None,
    suffix: str = "",
) -> list[Figure]:
    """One figure in ms per percentile (``values`` in seconds by percent) against the
    baseline's same percentile; the notes and details go on the first."""
    first = next(iter(values))
    return [
        Figure(
            scenario=scenario,
            metric=f"{metric} p{percent}{suffix}",
            value=milliseconds(seconds),
            unit="ms",
            baseline=milliseconds(baselines.get(percent)) if baselines else None,
            concurrency=concurrency,
            notes=notes if percent == first else "",
            details=dict(details or {}) if percent == first else {},
        )
        for percent, seconds in values.items()
    ]


class Timed(Protocol):
    """A timed load: wrk's, h2load's, or the in-process loop's."""

    @property
    def percentiles(self) -> Mapping[int, float | None]: ...
    @property
    def concurrency(self) -> int: ...
    def summary(self) -> str: ...
    def details(self) -> Mapping[str, Any]: ...


def latency_figures(
    scenario: str,
    metric: str,
    result: Timed,
    baseline: Timed | None = None,
    notes: str = "",
    details: Mapping[str, Any] | None = None,
) -> list[Figure]:
    """Percentile figures of a load against the baseline's (measured by the same
    generator); the summary and details go on the first."""
    return percentile_figures(
        scenario,
        metric,
        result.percentiles,
        baseline.percentiles if baseline else None,
        concurrency=result.concurrency,
        notes=f"{notes}{result.summary()}",
        details={**result.details(), **(details or {})},
    )


def milliseconds(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _number(value: float | None, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.2f}"
    return f"{text} {unit}".rstrip()


def rows(figures: Sequence[Figure]) -> list[tuple[str, ...]]:
    return [
        (
            figure.scenario,
            figure.metric,
            _number(figure.value, figure.unit),
            _number(figure.baseline, figure.unit) if figure.baseline is not None else "",
            f"{figure.ratio:.2f}x" if figure.ratio is not None else "",
            str(figure.concurrency) if figure.concurrency is not None else "",
            figure.notes,
        )
        for figure in figures
    ]


def table(figures: Sequence[Figure]) -> str:
    """A plain-text table; the notes column is last and left unpadded."""
    body = rows(figures)
    widths = [max(len(row[i]) for row in [COLUMNS, *body]) for i in range(len(COLUMNS) - 1)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.ljust(width) for cell, width in zip(cells, widths, strict=False)]
        return "  ".join([*padded, cells[-1]]).rstrip()

    rule = "  ".join("-" * width for width in widths) + "  -----"
    return "\n".join([line(COLUMNS), rule, *(line(row) for row in body)])


def write_results(
    figures: Sequence[Figure],
    machine: Mapping[str, Any],
    run: Mapping[str, Any],
    folder: Path = RESULTS_DIR,
) -> Path:
    """Writes ``<folder>/<UTC timestamp>.json``; returns its path."""
    now = datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{now:%Y%m%dT%H%M%SZ}.json"
    document = {
        "finished_at": now.isoformat(timespec="seconds"),
        "run": dict(run),
        "machine": dict(machine),
        "figures": [figure.as_json() for figure in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
