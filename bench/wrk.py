"""Throughput from a compiled load generator, with what it cost the stack: ``wrk`` (Debian's package, installed by
``infra.local.stack`` when missing) POSTs one GraphQL request over a fixed number of
kept-alive connections for a fixed time. On a 2-core machine a Python generator takes
most of a core from the stack it measures; wrk's one thread takes a small share.

CPU is metered until the requests in flight when wrk stops have finished (the
stack keeps working on them), so it is divided by every request handled: the
responses, the timed-out ones and one in flight per connection at the end.

A Lua script sets the request and, in ``done()``, prints the counts and latency
percentiles on one line this module parses. A response counts as served only when
it is a 200 without GraphQL ``errors``; the rest are counted, never hidden.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import cassandra
from bench.report import Figure
from bench.run import BenchRun
from bench.stats import GENERATOR, MACHINE, CpuMeter, children_cpu_seconds
from harness.graphql import GraphQLClient
from infra.local import stack
from pictor.cql import CqlSession

# The line done() prints, before its key=value fields.
_MARK = "pictor-wrk"
# Far above any latency worth reporting: wrk leaves a timed-out request out of its
# latencies, which would flatter the tail of a slow stack.
TIMEOUT_SECONDS = 10
DRAIN_MARGIN_SECONDS = 0.1
# Kept-alive connections of one wrk thread.
CONNECTIONS = 8
OTHER = "other"
_SCRIPT = """
wrk.method = "POST"
wrk.body = [{level}[{body}]{level}]
{headers}
{pace}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function init(args) failed = 0 end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then failed = failed + 1 end
end
function done(summary, latency, requests)
  local failed_total = 0
  for _, thread in ipairs(threads) do failed_total = failed_total + thread:get("failed") end
  local e = summary.errors
  io.write(string.format(
    "{mark} duration_us=%.0f requests=%.0f failed=%.0f connect=%.0f read=%.0f write=%.0f "
      .. "timeout=%.0f status=%.0f p50_us=%.0f p99_us=%.0f max_us=%.0f\\n",
    summary.duration, summary.requests, failed_total, e.connect, e.read, e.write,
    e.timeout, e.status, latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkResult:
    # Responses that were a 200 without GraphQL errors.
    served: int
    # Responses that were not (any other status, or a body with "errors").
    failed: int
    # Requests with no response: connect, read, write errors and timeouts.
    socket_errors: dict[str, int]
    wall_seconds: float
    connections: int
    # Over every response, served or not (wrk keeps one histogram).
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    # CPU seconds spent during the run by each watched process, wrk and the machine.
    cpu_seconds: dict[str, float]

    @property
    def handled(self) -> int:
        """Requests the stack worked on during the metered time."""
        return self.served + self.failed + self.socket_errors["timeout"] + self.connections

    @property
    def percentiles(self) -> dict[int, float | None]:
        """Latency in seconds by percent: the two ``done()`` prints."""
        return {50: self.p50_seconds, 99: self.p99_seconds}

    @property
    def per_second(self) -> float:
        return self.served / self.wall_seconds if self.wall_seconds > 0 else 0.0

    def cpu_ms_per_request(self) -> dict[str, float]:
        """CPU milliseconds per request handled, by process; ``machine`` is the whole
        box and ``other`` what it spent outside the watched processes (another stack,
        a test suite), which a quiet machine keeps near zero."""
        watched = sum(seconds for name, seconds in self.cpu_seconds.items() if name != MACHINE)
        spent = {**self.cpu_seconds}
        if MACHINE in spent:
            spent[OTHER] = max(0.0, spent[MACHINE] - watched)
        return {name: seconds / self.handled * 1000 for name, seconds in spent.items()}

    def problems(self) -> str:
        """``""`` when every request was served, else what went wrong, for the notes."""
        errors = {name: count for name, count in self.socket_errors.items() if count}
        if not self.failed and not errors:
            return ""
        parts = [f"{self.failed} failed responses"] if self.failed else []
        parts += [f"{count} {name} errors" for name, count in errors.items()]
        return "; ".join(parts) + "; "

    def details(self) -> dict[str, Any]:
        return {
            "generator": "wrk",
            "served": self.served,
            "failed": self.failed,
            "socket_errors": self.socket_errors,
            "wall_seconds": round(self.wall_seconds, 3),
            "connections": self.connections,
            "per_second": round(self.per_second, 2),
            "p50_ms": round(self.p50_seconds * 1000, 3),
            "p99_ms": round(self.p99_seconds * 1000, 3),
            "max_ms": round(self.max_seconds * 1000, 3),
            "handled": self.handled,
            "cpu_seconds": {name: round(s, 4) for name, s in self.cpu_seconds.items()},
            "cpu_ms_per_request": {
                name: round(ms, 3) for name, ms in self.cpu_ms_per_request().items()
            },
        }


def script(body: Mapping[str, Any], headers: Mapping[str, str], pause_ms: float = 0) -> str:
    """The Lua script that POSTs ``body`` as JSON with ``headers``, each connection
    waiting ``pause_ms`` after a response before its next request (a paced load)."""
    text = json.dumps(body)
    level = "="
    while f"]{level}]" in text:
        level += "="
    lines = {"Content-Type": "application/json", **headers}
    return _SCRIPT.format(
        level=level,
        body=text,
        headers="\n".join(
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in lines.items()
        ),
        mark=_MARK,
        pace=f"function delay() return {pause_ms:.1f} end" if pause_ms > 0 else "",
    )


def parse(output: str) -> dict[str, float]:
    """The fields of the line ``done()`` printed."""
    for line in output.splitlines():
        if line.startswith(_MARK + " "):
            pairs = (field.split("=", 1) for field in line.split()[1:])
            return {key: float(value) for key, value in pairs}
    raise RuntimeError(f"wrk printed no summary line:\n{output}")


async def run_wrk(
    url: str,
    body: Mapping[str, Any],
    *,
    headers: Mapping[str, str] | None = None,
    connections: int,
    seconds: float,
    processes: Mapping[str, int] | None = None,
    pause_ms: float = 0,
) -> WrkResult:
    """POSTs ``body`` to ``url`` on ``connections`` connections (one wrk thread) for
    ``seconds``, each pausing ``pause_ms`` between its requests; ``processes`` (name
    -> pid) have their CPU metered meanwhile."""
    # Debian's package, installed first if it is missing (any run, smoke ones too).
    wrk = await asyncio.to_thread(stack.install_wrk)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="pictor-wrk-") as lua:
        lua.write(script(body, headers or {}, pause_ms))
        lua.flush()
        meter = CpuMeter(dict(processes or {}))
        children_before = children_cpu_seconds()
        meter.start()
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            str(wrk),
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            f"--timeout={TIMEOUT_SECONDS}s",
            "--latency",
            "-s",
            lua.name,
            url,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output = (await process.communicate())[0].decode(errors="replace")
        if process.returncode != 0:
            raise RuntimeError(f"wrk exited with {process.returncode}:\n{output}")
        fields = parse(output)
        # What was in flight at the end started within the slowest latency seen.
        await asyncio.sleep(fields["max_us"] / 1e6 + DRAIN_MARGIN_SECONDS)
        cores = meter.stop()
        metered = time.perf_counter() - began
    # This process only waits while wrk runs: the generator's CPU is wrk's.
    cores.pop(GENERATOR, None)
    cpu_seconds = {name: share * metered for name, share in cores.items()}
    cpu_seconds["wrk"] = children_cpu_seconds() - children_before
    failed = int(fields["failed"])
    return WrkResult(
        served=int(fields["requests"]) - failed,
        failed=failed,
        socket_errors={name: int(fields[name]) for name in ("connect", "read", "write", "timeout")},
        wall_seconds=fields["duration_us"] / 1e6,
        connections=connections,
        p50_seconds=fields["p50_us"] / 1e6,
        p99_seconds=fields["p99_us"] / 1e6,
        max_seconds=fields["max_us"] / 1e6,
        cpu_seconds=cpu_seconds,
    )


@dataclass(frozen=True)
class Measured:
    """One wrk run with the CQL requests Cassandra coordinated meanwhile."""

    result: WrkResult
    cql: cassandra.CqlRequests

    def cql_per_request(self) -> float:
        return self.cql.total / self.result.handled

    def notes(self) -> str:
        result = self.result
        # A count that fell: the keyspace was dropped and made again (a test session began).
        elsewhere = ", ".join(
            f"{k} {n}" if n > 0 else f"{k} (recreated)"
            for k, n in self.cql.other_keyspaces.items()
            if n
        )
        return (
            (f"NOT ALONE: CQL requests to {elsewhere} meanwhile; " if elsewhere else "")
            + f"{result.problems()}{result.served} served in {result.wall_seconds:.1f} s by wrk; "
            f"p50 {result.p50_seconds * 1000:.1f} ms, p99 {result.p99_seconds * 1000:.1f} ms; "
            f"CQL/request {self.cql_per_request():.2f}; {cpu_ms(result.cpu_ms_per_request())}"
        )

    def details(self) -> dict[str, Any]:
        return {
            **self.result.details(),
            "cql_requests": self.cql.counts,
            "cql_requests_other_keyspaces": self.cql.other_keyspaces,
            "cql_requests_per_request": round(self.cql_per_request(), 3),
        }

    def rate_figure(
        self,
        scenario: str,
        metric: str,
        *,
        notes: str = "",
        baseline: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> Figure:
        """Served requests per second, with everything else of the run in the notes
        and details."""
        return Figure(
            scenario=scenario,
            metric=metric,
            value=self.result.per_second,
            unit="/s",
            baseline=baseline,
            concurrency=self.result.connections,
            notes=notes + self.notes(),
            details={**self.details(), **(details or {})},
        )


async def measured(
    bench: BenchRun,
    cql: CqlSession,
    body: dict[str, Any],
    seconds: float,
    processes: Sequence[str],
    client: GraphQLClient | None = None,
) -> Measured:
    """``body`` POSTed to the gateway by wrk for ``seconds`` (as ``client``'s viewer, if
    given), with the CPU of the named processes and the CQL requests it cost."""
    target = bench.target
    keyspace = target.settings.cql_keyspace
    before = await cassandra.requests(cql, keyspace)
    result = await run_wrk(
        f"{target.gateway_url}/graphql",
        body,
        headers=client.headers if client else {},
        connections=CONNECTIONS,
        seconds=seconds,
        processes=target.pids(*processes),
    )
    return Measured(result, await cassandra.requests(cql, keyspace) - before)


def cpu_ms(per_request: dict[str, float]) -> str:
    """``CPU ms/request: gateway 5.1, feed_svc 1.7, ... of machine 10.7``, busiest
    first; the details keep the ones under 0.05 ms too."""
    if not per_request:
        return ""
    ordered = sorted(
        ((name, ms) for name, ms in per_request.items() if name != "machine" and ms >= 0.05),
        key=lambda item: -item[1],
    )
    text = ", ".join(f"{name} {ms:.1f}" for name, ms in ordered)
    machine = per_request.get("machine")
    return f"CPU ms/request: {text}" + (f" of machine {machine:.1f}" if machine else "")
