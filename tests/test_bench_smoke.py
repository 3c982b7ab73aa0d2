"""The benchmarks in smoke mode, against the test stack: every scenario runs its code
paths with tiny counts. Nothing about speed is asserted, and nothing is written."""

from __future__ import annotations

import shutil
import sys
import time
from itertools import permutations

import pytest

from bench.accounts import sign_up_many
from bench.peers import PeerUnavailable, Server, process_tree
from bench.peers import mesh as mesh_peer
from bench.peers import thumbor as thumbor_peer
from bench.report import RESULTS_DIR, table
from bench.run import BenchRun
from bench.scenarios import SCENARIOS, run_scenarios
from bench.target import Target
from bench.wrk import ONCE_SECONDS, graphql, run_wrk
from harness.net import free_port
from tests.harness import SERVICE_ENV


def results_on_disk() -> set[str]:
    return {path.name for path in RESULTS_DIR.glob("*")} if RESULTS_DIR.exists() else set()


def installed_peers() -> dict[str, bool]:
    """What a smoke run may find missing and must never install, by the words that
    name its figures."""
    return {
        "vipsthumbnail": shutil.which("vipsthumbnail") is not None,
        "thumbor": thumbor_peer.installed() is not None,
        "GraphQL Mesh": mesh_peer.installed() is not None,
    }


@pytest.mark.parametrize("scenario", list(SCENARIOS))
async def test_a_scenario_runs_in_smoke_mode(target: Target, scenario: str) -> None:
    installed_before = installed_peers()
    written_before = results_on_disk()

    figures = await run_scenarios(BenchRun(target, smoke=True, say=lambda _: None), [scenario])

    assert figures
    assert {figure.scenario for figure in figures} == {scenario}
    # Smoke runs never install a baseline or a peer; only the figures of missing ones
    # are n/a, and they say so.
    missing = [name for name, present in installed_before.items() if not present]
    not_taken = [figure for figure in figures if figure.value is None]
    for figure in not_taken:
        assert any(name in figure.metric for name in missing), figure
        assert figure.notes
    assert installed_peers() == installed_before
    # Counts of requests to a database (warm caches) or of failures may be zero, and
    # memory may shrink; nothing else may be zero or less.
    may_be_zero = ("CQL/page", "failed", "MiB growth")
    assert all(
        figure.value is None or figure.value > 0 or figure.unit in may_be_zero for figure in figures
    )
    assert scenario in table(figures)
    assert results_on_disk() == written_before


def test_a_peer_server_stops_with_every_process_it_forked() -> None:
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    parent = f"import subprocess, time; subprocess.Popen({sleeper!r}); time.sleep(60)"
    server = Server.start("bench-smoke-peer", [sys.executable, "-c", parent], "http://127.0.0.1:1")
    try:
        deadline = time.monotonic() + 10
        while len(process_tree(server.process.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        pids = list(server.pids().values())
        assert len(pids) == 2
    finally:
        server.stop()
    assert all(_gone(pid) for pid in pids)


def _gone(pid: int) -> bool:
    """Exited: no such process, or a zombie its parent has not reaped yet."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_a_peer_that_will_not_start_is_unavailable_with_its_error() -> None:
    command = [sys.executable, "-c", "import sys; sys.exit('no such config')"]
    server = Server.start("bench-smoke-peer", command, f"http://127.0.0.1:{free_port()}")
    with pytest.raises(PeerUnavailable, match="no such config"):
        await server.ready("/", within=10)


async def test_fanout_in_smoke_mode_pushes_every_write_into_a_timeline(target: Target) -> None:
    # The test stack makes authors with more than 3 followers celebrities (pulled, not
    # pushed); the smoke population stays at 3, so the burst takes the push path.
    threshold = int(SERVICE_ENV["PICTOR_CELEBRITY_THRESHOLD"])

    figures = await run_scenarios(BenchRun(target, smoke=True, say=lambda _: None), ["fanout"])

    burst = figures[0].details
    assert burst["celebrity_threshold"] == threshold
    assert 0 < burst["followers"] <= threshold
    assert burst["writes"] == burst["posts"] * burst["active_followers"] > 0
    assert burst["landed"] == burst["writes"]


async def test_feed_read_baselines_serve_the_same_page_as_the_home_feed(target: Target) -> None:
    figures = await run_scenarios(BenchRun(target, smoke=True, say=lambda _: None), ["feed_read"])

    described = [figure for figure in figures if figure.details]
    assert described
    assert all(figure.details["same_page"] for figure in described)


async def test_feed_throughput_serves_every_home_feed_page_wrk_asks_for(target: Target) -> None:
    # wrk is installed by the scenario itself (infra.local.stack) when it is missing.
    figures = await run_scenarios(
        BenchRun(target, smoke=True, say=lambda _: None), ["feed_throughput"]
    )

    assert shutil.which("wrk") is not None
    pages = figures[0].details
    assert pages["generator"] == "wrk"
    assert pages["served"] > 0
    assert pages["failed"] == 0
    assert not any(pages["socket_errors"].values())
    assert pages["stack"]["same_page"]
    assert pages["cql_requests_per_request"] >= 0


async def test_wrk_sends_each_request_of_a_list_once_and_ends_when_all_are_answered(
    target: Target,
) -> None:
    bench = BenchRun(target, smoke=True, say=lambda _: None)
    follow = "mutation($id: ID!) { follow(userId: $id) { id } }"
    async with bench.graphql() as anonymous:
        people = await sign_up_many(anonymous, bench.allowance, "bench.wrk", 3)
        # Every follow between the three, each as its follower: six different requests.
        follows = [graphql(follow, {"id": b.id}, a.client) for a, b in permutations(people, 2)]

        result = await run_wrk(bench, follows, once=True)

        following = [
            (await person.client.data("{ viewer { followingCount } }"))["viewer"]
            for person in people
        ]
    assert result.served == len(follows) == 6
    assert result.failed == 0
    assert result.wall_seconds < ONCE_SECONDS / 10
    assert [viewer["followingCount"] for viewer in following] == [2, 2, 2]
