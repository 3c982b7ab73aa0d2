"""``python -m seed [--users N] [--gateway URL]`` (``make seed``)

Fills a running stack (``make up``) with demo data through the services' public gRPC
APIs: N users (default 2,000) with a power-law follow graph, photos posted through the
real upload pipeline (the media worker makes every rendition), and a full home feed
for everyone. Prints an account to log in with in GraphiQL. Re-running adds nothing
twice. The plan (who follows whom, who posts what) is in ``seed.plan``; the photos in
``seed.photos``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import uvloop

from gateway.config import GatewaySettings
from infra.local import stack
from seed.plan import DemoPlan, plan
from seed.seeder import (
    DEFAULT_USERS,
    PASSWORD,
    SeedReport,
    celebrity_threshold,
    duration,
    seed,
    to_stderr,
)


def summary(report: SeedReport, demo: DemoPlan, gateway_url: str, threshold: int) -> str:
    steps = ", ".join(f"{step} {duration(s)}" for step, s in report.seconds.items())
    celebrities = len(report.celebrities)
    lines = [
        "",
        f"users          {report.users} ({report.users_created} created this run)",
        f"follow edges   {report.follow_edges} ({report.edges_added} added this run)",
        f"posts          {report.posts} READY ({report.posts_uploaded} uploaded this run"
        + (f", {report.uploads_failed} failed)" if report.uploads_failed else ")"),
        f"celebrities    {celebrities} above the threshold of {threshold} followers"
        + (f": {', '.join(report.celebrities[:5])}" if celebrities else "")
        + (" ..." if celebrities > 5 else ""),
        f"home feeds     {report.full_feeds} of {report.feeds_read} read hold "
        f"{demo.feed_target}+ posts (by plan, every user's holds {min(demo.feed_sizes())}+)",
        f"time           {steps}, {duration(sum(report.seconds.values()))} in all",
        "",
        f"GraphiQL       {gateway_url}/graphql",
    ]
    if report.login is not None:
        username, page = report.login
        lines.append(f"log in as      username {username!r}, password {PASSWORD!r}")
        if page is None:
            lines.append(f"               (checking it through GraphQL: {report.login_note})")
        else:
            lines.append(f"               (checked: logIn works, homeFeed's first page has {page})")
        lines.append(
            f'               mutation {{ logIn(username: "{username}", password: "{PASSWORD}") '
            "{ token } }"
        )
        lines.append(
            '               then header {"Authorization": "Bearer <token>"} and '
            "{ homeFeed { edges { node { caption author { username } } } } }"
        )
    return "\n".join(lines)


def threshold_note(demo: DemoPlan, threshold: int) -> str | None:
    """Says so when no seeded account can pass the celebrity threshold, and what a
    threshold would make a few of them (about 1%) celebrities."""
    most = len(demo.usernames) - 1
    if most > threshold:
        return None
    counts = sorted(demo.followers, reverse=True)
    suggested = counts[max(1, len(counts) // 100) - 1]
    suggested = suggested // 100 * 100 if suggested >= 200 else max(suggested - 1, 1)
    above = sum(count > suggested for count in counts)
    return (
        f"note: the feed worker's celebrity threshold is {threshold} followers, and "
        f"{len(demo.usernames)} users can give an account at most {most}: nobody becomes a "
        "celebrity, so every post is pushed and none is merged at read time. To see the "
        f"hybrid fan-out, restart the stack with PICTOR_CELEBRITY_THRESHOLD={suggested} "
        f"(`make down && PICTOR_CELEBRITY_THRESHOLD={suggested} make seed`): {above} seeded "
        "accounts are above it. Set it before seeding: the feed worker notices that an "
        "author crossed the threshold only at their next post or follow."
    )


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m seed", description=__doc__.split("\n\n")[1])
    parser.add_argument("--users", type=int, default=DEFAULT_USERS, help="default %(default)s")
    parser.add_argument("--gateway", metavar="URL", help="the gateway (default: the local stack's)")
    args = parser.parse_args(argv)
    if args.users < 2:
        parser.error("--users must be at least 2")

    settings = GatewaySettings()
    gateway_url = args.gateway.rstrip("/") if args.gateway else stack.gateway_url(settings)
    if not stack.http_ok(f"{gateway_url}/readyz"):
        to_stderr(f"no ready gateway at {gateway_url}; start the stack with `make up`")
        return 1
    feed_worker = next(p for p in stack.applications(settings) if p.name == "feed_worker")
    threshold, source = celebrity_threshold(feed_worker.pid())
    demo = plan(args.users)
    to_stderr(
        f"plan: {args.users} users, {demo.edges} follow edges, {sum(demo.posts)} posts; "
        f"celebrity threshold {threshold} ({source})"
    )
    note = threshold_note(demo, threshold)
    if note:
        to_stderr(note)
    report = uvloop.run(seed(settings, demo, gateway_url, threshold))
    print(summary(report, demo, gateway_url, threshold))
    if note:
        print(f"\n{note}")
    logged_in = report.login is not None and report.login[1]
    problems = report.uploads_failed or report.full_feeds < report.feeds_read or not logged_in
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
