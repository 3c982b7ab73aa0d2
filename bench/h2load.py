"""Latency and throughput from ``h2load`` (nghttp2's compiled load generator, Debian's
``nghttp2-client``, installed when missing): unlike wrk it speaks gRPC's HTTP/2 as well
as HTTP/1.1, so a GraphQL gateway and the bare RPC behind it are timed by one client.

It sends one request body a fixed number of times over kept-alive connections, one
request in flight on each, and logs every response (start, status, microseconds); the
percentiles come from that log. h2load reads no body and no gRPC trailer: a 2xx is
served, the rest are counted, and the scenario checks the answer itself before and
after.
"""

from __future__ import annotations

import asyncio
import re
import struct
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from bench.stats import GENERATOR, CpuMeter, LoadResult, children_cpu_seconds
from infra.local import stack

PERCENTS = (50, 95, 99)


def grpc_message(payload: bytes) -> bytes:
    """One uncompressed gRPC message: a zero flag byte, its length, the protobuf."""
    return struct.pack(">?I", False, len(payload)) + payload


async def run_h2load(
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    count: int,
    connections: int,
    http1: bool,
    processes: Mapping[str, int],
) -> LoadResult:
    """POSTs ``body`` to ``url`` ``count`` times on ``connections`` connections (HTTP/1.1
    or HTTP/2 without TLS); the processes' CPU is metered meanwhile."""
    h2load = await asyncio.to_thread(stack.install_debian_package, "h2load", "nghttp2-client")
    connections = min(connections, count)
    with tempfile.TemporaryDirectory(prefix="pictor-h2load-") as folder:
        data, log = Path(folder) / "body", Path(folder) / "log"
        data.write_bytes(body)
        command: Sequence[str] = [
            *(str(h2load), "-n", str(count), "-c", str(connections), "-m", "1", "-t", "1"),
            *("-d", str(data), f"--log-file={log}", *(["--h1"] if http1 else [])),
            *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
            url,
        ]
        meter = CpuMeter(dict(processes))
        children_before = children_cpu_seconds()
        meter.start()
        began = time.perf_counter()
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        output = (await process.communicate())[0].decode(errors="replace")
        wall = time.perf_counter() - began
        cpu = meter.stop()
        cpu.pop(GENERATOR, None)
        cpu["h2load"] = (children_cpu_seconds() - children_before) / wall
        finished = re.search(r"^finished in ([\d.]+)(m?s)", output, re.MULTILINE)
        if process.returncode != 0 or finished is None:
            raise RuntimeError(f"h2load exited with {process.returncode}:\n{output}")
        # start (us since the epoch), status, microseconds to the end of the response
        rows = [line.split("\t") for line in log.read_text().splitlines() if line]
    samples = tuple(int(row[2]) / 1e6 for row in rows if row[1].startswith("2"))
    seconds = float(finished.group(1)) / (1000 if finished.group(2) == "ms" else 1)
    failed = f"{count - len(samples)} responses not a 2xx" if len(samples) < count else None
    return LoadResult(
        samples, count - len(samples), failed, seconds, connections, cpu, "h2load", PERCENTS
    )
