"""createPost acknowledgment latency: the mutation that returns a PENDING post and a
pre-signed upload URL (post_svc CreatePost, then media_svc CreateUpload, which signs
the URL), against the floor, both sent by wrk. Nothing is uploaded, so the posts stay
PENDING and never show in a grid."""

from __future__ import annotations

from bench.accounts import sign_up_many
from bench.report import Figure, latency_figures
from bench.run import BenchRun
from bench.scenarios.floor import viewer_floor, warm_up
from bench.wrk import graphql, run_wrk

NAME = "create_post"
CREATE_POST = """
mutation($caption: String!, $type: String!) {
  createPost(caption: $caption, contentType: $type) {
    post { id media { status } } uploadUrl uploadHeaders { name value } expiresAt
  }
}
"""
AUTHORS = 4
FULL_OPERATIONS = 300
SMOKE_OPERATIONS = 3
PROCESSES = ("gateway", "post_svc", "media_svc", "cassandra")


async def run(bench: BenchRun) -> list[Figure]:
    operations = SMOKE_OPERATIONS if bench.smoke else FULL_OPERATIONS
    async with bench.graphql() as anonymous:
        authors = await sign_up_many(
            anonymous, bench.allowance, "bench.poster", 1 if bench.smoke else AUTHORS
        )
        bench.say(f"{NAME}: {operations} floor queries, then {operations} createPost")
        await warm_up(bench, authors)
        floor = await viewer_floor(bench, authors, operations, PROCESSES)
        posts = [
            graphql(
                CREATE_POST,
                {"caption": f"bench {index}", "type": "image/jpeg"},
                authors[index % len(authors)].client,
            )
            for index in range(operations)
        ]
        created = await run_wrk(bench, posts, once=True, processes=PROCESSES)
        # wrk counts a response without "errors" as served; this checks one is what
        # the app expects: a PENDING post with somewhere to upload the photo.
        check = {"caption": "bench check", "type": "image/jpeg"}
        made = (await authors[0].client.data(CREATE_POST, check))["createPost"]
        if made["post"]["media"]["status"] != "PENDING" or not made["uploadUrl"]:
            raise AssertionError(f"not a pending post with an upload URL: {made}")
    return latency_figures(NAME, "createPost", created, floor, details={"floor": floor.details()})
