"""The benchmarks in smoke mode, against the test stack: every scenario runs its code
paths with tiny counts. Nothing about speed is asserted, and nothing is written."""

from __future__ import annotations

import shutil

import pytest

from bench.report import RESULTS_DIR, table
from bench.run import BenchRun
from bench.scenarios import SCENARIOS, run_scenarios
from bench.target import Target
from gateway.config import GatewaySettings
from media_svc.config import MediaSettings
from tests.harness import IsolatedStack


def results_on_disk() -> set[str]:
    return {path.name for path in RESULTS_DIR.glob("*")} if RESULTS_DIR.exists() else set()


@pytest.fixture
def target(test_stack: IsolatedStack, settings: GatewaySettings) -> Target:
    def part_pid(name: str) -> int | None:
        part = test_stack.parts.get(name)
        return part.pid() if part is not None else None

    return Target(test_stack.gateway_url, settings, MediaSettings(), part_pid)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_scenario_runs_in_smoke_mode(target: Target, scenario: str) -> None:
    had_vipsthumbnail = shutil.which("vipsthumbnail") is not None
    written_before = results_on_disk()

    figures = await run_scenarios(BenchRun(target, smoke=True, say=lambda _: None), [scenario])

    assert figures
    assert {figure.scenario for figure in figures} == {scenario}
    not_taken = [figure.metric for figure in figures if figure.value is None]
    if had_vipsthumbnail:
        assert not_taken == []
    else:
        # Smoke runs never install the CLI; only its baseline is missing.
        assert all("vipsthumbnail" in metric for metric in not_taken)
        assert shutil.which("vipsthumbnail") is None
    assert all(figure.value is None or figure.value > 0 for figure in figures)
    assert scenario in table(figures)
    assert results_on_disk() == written_before
