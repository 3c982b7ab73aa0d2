"""Liveness, readiness and GraphiQL, over HTTP against the running gateway."""

from __future__ import annotations

import httpx

from infra.local import stack
from tests.harness import (
    IsolatedStack,
    extra_part,
    free_port,
    one_off_gateway,
    one_off_part,
    wait_until,
)


async def test_healthz_says_the_process_is_alive(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200


async def test_readyz_reports_every_backend_serving(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["backends"] == {
        "graph_svc": "serving",
        "post_svc": "serving",
        "feed_svc": "serving",
        "media_svc": "serving",
        "redis": "serving",
    }


async def test_graphiql_is_served_to_a_browser(http: httpx.AsyncClient) -> None:
    response = await http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_readyz_goes_unready_when_a_backend_stops(test_stack: IsolatedStack) -> None:
    """A gateway whose graph_svc is stopped answers 503 and names the missing backend."""
    settings = test_stack.settings.model_copy(update={"graph_addr": f"127.0.0.1:{free_port()}"})
    graph = one_off_part(test_stack, "graph_svc-readyz", settings)
    with extra_part(graph):
        async with one_off_gateway(test_stack, "gateway-readyz", settings) as http:
            assert (await http.get("/readyz")).status_code == 200
            stack.stop(graph)

            async def unready() -> httpx.Response | None:
                response = await http.get("/readyz")
                return response if response.status_code == 503 else None

            response = await wait_until(unready, within=10)
            assert response.json()["backends"]["graph_svc"] == "unavailable"
            assert response.json()["backends"]["post_svc"] == "serving"
            assert (await http.get("/healthz")).status_code == 200
