"""createPost acknowledgment latency: the mutation that returns a PENDING post and a
pre-signed upload URL (post_svc CreatePost, then media_svc CreateUpload, which signs
the URL). Nothing is uploaded, so the posts stay PENDING and never show in a grid."""

from __future__ import annotations

from bench.accounts import sign_up_many
from bench.report import Figure, percentile_figures
from bench.run import BenchRun
from bench.scenarios.floor import viewer_floor, warm_up
from bench.stats import run_load

NAME = "create_post"
CREATE_POST = """
mutation($caption: String!, $type: String!) {
  createPost(caption: $caption, contentType: $type) {
    post { id media { status } } uploadUrl uploadHeaders { name value } expiresAt
  }
}
"""
CONCURRENCY = 8
AUTHORS = 4
FULL_OPERATIONS = 300
SMOKE_OPERATIONS = 3
PROCESSES = ("gateway", "post_svc", "media_svc", "cassandra")


async def run(bench: BenchRun) -> list[Figure]:
    operations = SMOKE_OPERATIONS if bench.smoke else FULL_OPERATIONS
    authors_wanted = 1 if bench.smoke else AUTHORS
    processes = bench.target.pids(*PROCESSES)
    async with bench.graphql() as anonymous:
        authors = await sign_up_many(anonymous, bench.allowance, "bench.poster", authors_wanted)

        async def create_post(index: int) -> None:
            author = authors[index % len(authors)]
            created = (
                await author.client.data(
                    CREATE_POST, {"caption": f"bench {index}", "type": "image/jpeg"}
                )
            )["createPost"]
            if created["post"]["media"]["status"] != "PENDING" or not created["uploadUrl"]:
                raise AssertionError(f"not a pending post with an upload URL: {created}")

        bench.say(f"{NAME}: {operations} floor queries, then {operations} createPost")
        await warm_up(authors, CONCURRENCY)
        floor = await viewer_floor(authors, operations, CONCURRENCY, processes)
        created = await run_load(
            create_post, concurrency=CONCURRENCY, count=operations, processes=processes
        )
    return percentile_figures(
        NAME,
        "createPost",
        created.percentiles((50, 99)),
        floor.percentiles((50, 99)),
        concurrency=CONCURRENCY,
        notes=created.summary(),
        details={"create_post": created.details(), "floor": floor.details()},
    )
