"""A client that goes away before its request is read (a phone losing signal mid-send)
is no error of the gateway's: it notes it and stays quiet, rather than logging an
exception in the application that an operator would chase."""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

from tests.harness import IsolatedStack, unique_name, wait_until

APP_EXCEPTION = "Exception in ASGI application"
GONE = "a client went away before its request was read"


async def test_a_client_gone_mid_request_is_noted_not_logged_as_an_error(
    test_stack: IsolatedStack,
) -> None:
    log = test_stack.log_dir / "gateway.log"
    before = log.read_text()
    address = urlsplit(test_stack.gateway_url)
    _, writer = await asyncio.open_connection(address.hostname, address.port)
    body = f'{{"query": "{{ user(username: \\"{unique_name("gone")}\\") {{ id }} }}"}}'
    # Announces more than it sends, then hangs up.
    writer.write(
        b"POST /graphql HTTP/1.1\r\nHost: pictor\r\nContent-Type: application/json\r\n"
        + f"Content-Length: {len(body) + 100}\r\n\r\n{body}".encode()
    )
    await writer.drain()
    writer.close()
    await writer.wait_closed()

    async def noted() -> bool:
        return log.read_text().count(GONE) > before.count(GONE)

    await wait_until(noted, within=10)
    assert log.read_text().count(APP_EXCEPTION) == before.count(APP_EXCEPTION)
