"""GraphiQL as a developer meets it: served by the gateway itself, in a real browser."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import httpx

from gateway.graphiql import PREFIX
from tests.chromium import open_page
from tests.harness import IsolatedStack, data, unique_name

# CodeMirror 5 editors keep their instance on their element (null until rendered).
QUERY_EDITOR = "document.querySelector('.graphiql-query-editor .CodeMirror')?.CodeMirror"
RESPONSE = "document.querySelector('.graphiql-response .CodeMirror')?.CodeMirror"


async def test_the_page_and_its_assets_come_from_the_gateway_under_a_strict_policy(
    http: httpx.AsyncClient,
) -> None:
    page = await http.get("/graphql", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self';" in policy
    assert "connect-src 'self';" in policy
    # Every script and style the page loads is the gateway's own.
    loaded = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert len(loaded) == 6
    assert all(url.startswith(f"{PREFIX}/") for url in loaded), loaded
    for name in ("graphiql.min.js", "graphiql.min.css", "react.production.min.js", "pictor.js"):
        asset = await http.get(f"{PREFIX}/{name}")
        assert asset.status_code == 200, name
        assert asset.content
    assert (await http.get(f"{PREFIX}/..%2Fsecrets")).status_code == 404


async def test_graphiql_signs_a_user_up_in_a_headless_browser_without_leaving_localhost(
    test_stack: IsolatedStack, http: httpx.AsyncClient
) -> None:
    username = unique_name("graphiql")
    async with open_page() as page:
        await page.navigate(f"{test_stack.gateway_url}/graphql")
        await page.wait_for(f"!!({QUERY_EDITOR} && {RESPONSE})")
        # It opens with the examples, one tab each, the sign-up first.
        tabs = await page.wait_for(
            "Array.from(document.querySelectorAll('.graphiql-tab-button')).map(t => t.textContent)"
        )
        assert [tab.strip() for tab in tabs] == ["SignUp", "HomeFeed", "CreatePost", "FindUser"]

        # As a person would: pick a username of their own, then run the example.
        example = await page.evaluate(f"{QUERY_EDITOR}.getValue()")
        assert 'signUp(username: "ada",' in example
        mine = example.replace('username: "ada"', f"username: {json.dumps(username)}")
        await page.evaluate(f"{QUERY_EDITOR}.setValue({json.dumps(mine)})")
        await page.evaluate("document.querySelector('.graphiql-execute-button').click()")
        shown = await page.wait_for(
            f"{RESPONSE}.getValue().includes('token') && {RESPONSE}.getValue()"
        )
        assert json.loads(shown)["data"]["signUp"]["user"]["username"] == username

        assert await page.evaluate("window.cspViolations") == []
        assert page.exceptions == []
        origin = urlsplit(test_stack.gateway_url)
        # data: URIs (GraphiQL's inlined fonts) are decoded in the page, never fetched.
        fetched = [url for url in page.requests if not url.startswith("data:")]
        left = [url for url in fetched if urlsplit(url).hostname != origin.hostname]
        assert left == [], "requests that left localhost"
        assert any(url.endswith("/graphiql.min.js") for url in page.requests)

    # The user the page signed up exists.
    found = await http.post(
        "/graphql",
        json={
            "query": "query($u: String!) { user(username: $u) { username } }",
            "variables": {"u": username},
        },
    )
    assert data(found.json())["user"] == {"username": username}
