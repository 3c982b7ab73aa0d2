"""``python -m bench [scenario ...] [--smoke] [--profile] [--gateway URL]``

Runs the scenarios against a running stack (``make up``), prints a table and, unless
``--smoke``, writes ``bench/results/<UTC timestamp>.json`` with the machine's facts.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime

import uvloop

from bench import machine
from bench.profile import Profiler, ProfilerUnavailable
from bench.report import RESULTS_DIR, table, write_results
from bench.run import BenchRun
from bench.scenarios import SCENARIOS, run_scenarios
from bench.stats import MACHINE, CpuMeter
from bench.target import Target

# Cores busy before the run above which its figures are called noisy.
BUSY_CORES = 0.3


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("scenarios", nargs="*", metavar="scenario", help=", ".join(SCENARIOS))
    parser.add_argument("--smoke", action="store_true", help="tiny counts: code paths in seconds")
    parser.add_argument("--gateway", metavar="URL", help="the gateway (default: the local stack's)")
    parser.add_argument("--profile", action="store_true", help="py-spy the services (slower)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"no such scenario: {', '.join(unknown)} (have {', '.join(SCENARIOS)})")

    target = Target.local(args.gateway.rstrip("/") if args.gateway else None)
    if not target.ready():
        print(f"bench: no ready gateway at {target.gateway_url}; `make up`", file=sys.stderr)
        return 1
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    profiler = Profiler(RESULTS_DIR / f"profile-{stamp}" if args.profile else None)
    try:
        profiler.check()
    except ProfilerUnavailable as error:
        print(f"bench: --profile: {error}", file=sys.stderr)
        return 1
    meter = CpuMeter()
    meter.start()
    time.sleep(1)
    busy = meter.stop()[MACHINE]
    if busy > BUSY_CORES:
        print(f"bench: warning: {busy:.2f} cores were busy before the run", file=sys.stderr)
    bench = BenchRun(target, smoke=args.smoke, profiler=profiler)
    began = time.time()
    figures = uvloop.run(run_scenarios(bench, args.scenarios))
    print(table(figures))
    if profiler.profiles:
        print(f"\nprofiles (py-spy, {profiler.rate} samples/s; the figures above are slowed by it)")
        print(profiler.report())
    if args.smoke:
        print("smoke run: the figures mean nothing and nothing was written")
        return 0
    path = write_results(
        figures,
        machine.facts(target),
        {
            "command": ["python", "-m", "bench", *argv],
            "scenarios": args.scenarios or list(SCENARIOS),
            "seconds": round(time.time() - began, 1),
            "waited_for_auth_rate_limit_seconds": round(bench.allowance.waited_seconds, 1),
            "machine_busy_cores_before": round(busy, 2),
            "profiled": args.profile,
            "profiles": [profile.as_json() for profile in profiler.profiles],
        },
    )
    print(f"written: {path.relative_to(machine.ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
