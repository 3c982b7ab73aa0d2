"""Throughput and latency from a compiled load generator, ``wrk`` (Debian's package,
installed by ``infra.local.stack`` when missing): one thread POSTs GraphQL requests over
kept-alive connections. On a 2-core machine a Python generator takes most of a core from
the stack it measures; wrk's one thread takes a small share.

The requests are lines of a file its Lua script reads (a viewer's token, a JSON body),
sent in turn: over and over for a time, or each once (a distinct follow, one like per
person), wrk stopping when every one has been answered. A response is served only when
it is a 200 without GraphQL ``errors``; ``done()`` prints the counts and percentiles on
one line parsed here.

CPU is metered until the requests in flight when wrk stops have finished (the stack
keeps working on them), so it is divided by every request handled: the responses, the
timed-out ones and one in flight per connection at the end.
"""

from __future__ import annotations

import asyncio
import json
import signal
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

# A viewer's token (None: anonymous) and the JSON body of one request.
Request = tuple[str | None, Mapping[str, Any]]
# The line done() prints, before its key=value fields.
_MARK = "pictor-wrk"
# Far above any latency worth reporting: wrk leaves a timed-out request out of its
# latencies, which would flatter the tail of a slow stack.
TIMEOUT_SECONDS = 10
DRAIN_MARGIN_SECONDS = 0.1
# Kept-alive connections of one wrk thread.
CONNECTIONS = 8
# Requests sent once end wrk when all are answered; this only bounds a stalled stack.
ONCE_SECONDS = 300
OTHER = "other"
_SCRIPT = """
local requests, sent, answered, verified = {{}}, 0, 0, false
function init(args)
  -- wrk sets the Host header before init(), so the requests are made here.
  failed = 0
  for line in io.lines({path}) do
    local token, body = line:match("^([^\\t]*)\\t(.*)$")
    local headers = {{["Content-Type"] = "application/json"}}
    if token ~= "" then headers["Authorization"] = "Bearer " .. token end
    table.insert(requests, wrk.format("POST", nil, headers, body))
  end
end
function request()
  -- wrk calls it once before it connects, to check what it returns: not a request sent.
  if not verified then verified = true; return requests[1] end
  sent = sent + 1
  if sent > #requests then
    -- Sent once: nothing more (the connection idles until wrk stops).
    if {once} then return "" end
    sent = 1
  end
  return requests[sent]
end
{pace}
local threads = {{}}
function setup(thread) table.insert(threads, thread) end
function response(status, headers, body)
  if status ~= 200 or string.find(body, '"errors"', 1, true) then failed = failed + 1 end
  answered = answered + 1
  if {once} and answered == #requests then
    -- wrk itself waits out -d: this line has it interrupted (SIGINT) instead.
    wrk.thread:stop()
    io.write("{mark} answered\\n")
    io.flush()
  end
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


def graphql(
    query: str, variables: Mapping[str, Any] | None = None, client: GraphQLClient | None = None
) -> Request:
    """One GraphQL request, as ``client``'s viewer if given."""
    body = {"query": query, **({"variables": dict(variables)} if variables else {})}
    return (client.token if client else None, body)


@dataclass(frozen=True)
class WrkResult:
    # Responses that were a 200 without GraphQL errors, and the rest.
    served: int
    failed: int
    # Requests with no response: connect, read, write errors and timeouts.
    socket_errors: dict[str, int]
    wall_seconds: float
    connections: int
    # Requests still in flight when wrk stopped: one a connection, none when sent once.
    in_flight: int
    # Over every response, served or not (wrk keeps one histogram).
    p50_seconds: float
    p99_seconds: float
    max_seconds: float
    # CPU seconds spent during the run by each watched process, wrk and the machine.
    cpu_seconds: dict[str, float]
    # Requests Cassandra coordinated meanwhile, when asked for.
    cql: cassandra.CqlRequests | None = None

    @property
    def concurrency(self) -> int:
        return self.connections

    @property
    def handled(self) -> int:
        """Requests the stack worked on during the metered time."""
        return self.served + self.failed + self.socket_errors["timeout"] + self.in_flight

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
        spent = {**self.cpu_seconds}
        if MACHINE in spent:
            watched = sum(seconds for name, seconds in spent.items() if name != MACHINE)
            spent[OTHER] = max(0.0, spent[MACHINE] - watched)
        return {name: seconds / self.handled * 1000 for name, seconds in spent.items()}

    def cql_per_request(self) -> float:
        return self.cql.total / self.handled if self.cql else 0.0

    def summary(self) -> str:
        """The run in words for a figure's notes: what went wrong first, if anything."""
        errors = {name: count for name, count in self.socket_errors.items() if count}
        problems = [f"{self.failed} failed responses"] if self.failed else []
        problems += [f"{count} {name} errors" for name, count in errors.items()]
        # A count that fell: the keyspace was dropped and made again (a test session began).
        elsewhere = ", ".join(
            f"{k} {n}" if n > 0 else f"{k} (recreated)"
            for k, n in (self.cql.other_keyspaces if self.cql else {}).items()
            if n
        )
        cql = f"CQL/request {self.cql_per_request():.2f}; " if self.cql else ""
        return (
            (f"NOT ALONE: CQL requests to {elsewhere} meanwhile; " if elsewhere else "")
            + "".join(f"{problem}; " for problem in problems)
            + f"{self.served} served in {self.wall_seconds:.1f} s by wrk; "
            f"p50 {self.p50_seconds * 1000:.1f} ms, p99 {self.p99_seconds * 1000:.1f} ms; "
            f"{cql}{cpu_ms(self.cpu_ms_per_request())}"
        )

    def details(self) -> dict[str, Any]:
        found = {
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
            "cpu_ms_per_request": {k: round(ms, 3) for k, ms in self.cpu_ms_per_request().items()},
        }
        if self.cql:
            found["cql_requests"] = self.cql.counts
            found["cql_requests_other_keyspaces"] = self.cql.other_keyspaces
            found["cql_requests_per_request"] = round(self.cql_per_request(), 3)
        return found

    def rate_figure(
        self,
        scenario: str,
        metric: str,
        *,
        notes: str = "",
        baseline: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Figure:
        """Served requests per second, with everything else of the run in the notes
        and details."""
        return Figure(
            scenario,
            metric,
            self.per_second,
            "/s",
            baseline=baseline,
            concurrency=self.connections,
            notes=notes + self.summary(),
            details={**self.details(), **(details or {})},
        )


def script(path: str, once: bool, pause_ms: float = 0) -> str:
    """The Lua script that sends the requests in ``path``, each connection waiting
    ``pause_ms`` after a response before its next request (a paced load)."""
    return _SCRIPT.format(
        path=json.dumps(path),
        once="true" if once else "false",
        mark=_MARK,
        pace=f"function delay() return {pause_ms:.1f} end" if pause_ms > 0 else "",
    )


def parse(output: str) -> dict[str, float]:
    """The fields of the line ``done()`` printed."""
    for line in output.splitlines():
        if line.startswith(_MARK + " duration_us="):
            pairs = (field.split("=", 1) for field in line.split()[1:])
            return {key: float(value) for key, value in pairs}
    raise RuntimeError(f"wrk printed no summary line:\n{output}")


async def run_wrk(
    bench: BenchRun,
    requests: Sequence[Request],
    *,
    seconds: float = ONCE_SECONDS,
    once: bool = False,
    processes: Sequence[str] = (),
    cql: CqlSession | None = None,
    connections: int = CONNECTIONS,
    pause_ms: float = 0,
) -> WrkResult:
    """``requests`` POSTed to the gateway on ``connections`` connections: in turn for
    ``seconds``, or each ``once``; each connection pauses ``pause_ms`` between its
    requests. The named processes' CPU is metered, and with ``cql`` the CQL requests
    Cassandra coordinated for the stack's keyspace."""
    if once:
        # No connection with nothing to send: the server would close it idle (a read error).
        connections = min(connections, len(requests))
    keyspace = bench.target.settings.cql_keyspace
    cql_before = await cassandra.requests(cql, keyspace) if cql else None
    # Debian's package, installed first if it is missing (any run, smoke ones too).
    wrk = await asyncio.to_thread(stack.install_wrk)
    with (
        tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="pictor-wrk-") as listed,
        tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="pictor-wrk-") as lua,
    ):
        listed.writelines(f"{token or ''}\t{json.dumps(body)}\n" for token, body in requests)
        listed.flush()
        lua.write(script(listed.name, once, pause_ms))
        lua.flush()
        meter = CpuMeter(bench.target.pids(*processes))
        children_before = children_cpu_seconds()
        meter.start()
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *(str(wrk), "-t1", f"-c{connections}", f"-d{seconds:g}s"),
            *(f"--timeout={TIMEOUT_SECONDS}s", "-s", lua.name),
            f"{bench.target.gateway_url}/graphql",
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        assert process.stdout is not None
        lines = []
        async for line in process.stdout:
            lines.append(line.decode(errors="replace"))
            if lines[-1].startswith(f"{_MARK} answered"):
                process.send_signal(signal.SIGINT)
        await process.wait()
        output = "".join(lines)
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
        in_flight=0 if once else connections,
        p50_seconds=fields["p50_us"] / 1e6,
        p99_seconds=fields["p99_us"] / 1e6,
        max_seconds=fields["max_us"] / 1e6,
        cpu_seconds=cpu_seconds,
        cql=await cassandra.requests(cql, keyspace) - cql_before if cql and cql_before else None,
    )


def cpu_ms(per_request: dict[str, float]) -> str:
    """``CPU ms/request: gateway 5.1, feed_svc 1.7, ... of machine 10.7``, busiest
    first; the details keep the ones under 0.05 ms too."""
    if not per_request:
        return ""
    ordered = sorted(
        ((name, ms) for name, ms in per_request.items() if name != MACHINE and ms >= 0.05),
        key=lambda item: -item[1],
    )
    text = ", ".join(f"{name} {ms:.1f}" for name, ms in ordered)
    machine = per_request.get(MACHINE)
    return f"CPU ms/request: {text}" + (f" of machine {machine:.1f}" if machine else "")
