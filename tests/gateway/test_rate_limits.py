"""What one viewer may do per minute: past the limit, RATE_LIMITED with when to try
again (``extensions.retryAfterSeconds`` and HTTP ``Retry-After``); other viewers are
not held back. Counted in Redis, so every gateway replica shares the count."""

from __future__ import annotations

import httpx

from tests.harness import (
    GraphQLClient,
    IsolatedStack,
    data,
    one_off_gateway,
    sign_up,
)

FOLLOW = "mutation($id: ID!) { follow(userId: $id) { id } }"
UNFOLLOW = "mutation($id: ID!) { unfollow(userId: $id) { id } }"
CREATE_POST = """
mutation { createPost(caption: "limited", contentType: "image/jpeg") { post { id } } }
"""


async def test_a_viewer_past_the_limit_is_told_when_to_try_again(
    test_stack: IsolatedStack, http: httpx.AsyncClient
) -> None:
    settings = test_stack.settings.model_copy(update={"follow_rate_limit": 3, "post_rate_limit": 2})
    busy, calm, star = [await sign_up(http, name) for name in ("busy", "calm", "star")]
    async with one_off_gateway(test_stack, "gateway-rate-limits", settings) as limited:
        as_busy = GraphQLClient(limited, busy.client.token)
        as_calm = GraphQLClient(limited, calm.client.token)
        # Follows and unfollows share one budget.
        for query in (FOLLOW, UNFOLLOW, FOLLOW):
            data(await as_busy.execute(query, {"id": star.id}))

        response = await limited.post(
            "/graphql",
            json={"query": UNFOLLOW, "variables": {"id": star.id}},
            headers={"Authorization": f"Bearer {busy.client.token}"},
        )
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED"
        retry_after = error["extensions"]["retryAfterSeconds"]
        assert 1 <= retry_after <= 60
        assert response.headers["Retry-After"] == str(retry_after)

        data(await as_calm.execute(FOLLOW, {"id": star.id}))

        for _ in range(2):
            data(await as_calm.execute(CREATE_POST))
        result = await as_calm.execute(CREATE_POST)
        assert [e["extensions"]["code"] for e in result["errors"]] == ["RATE_LIMITED"]
