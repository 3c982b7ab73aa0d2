"""Headless Chromium (Debian's package) driven over the Chrome DevTools Protocol, with
the ``websockets`` client the suite already uses: enough to open a page, read and
change it with JavaScript, and see every request it made."""

from __future__ import annotations

import asyncio
import itertools
import json
import subprocess
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import websockets

from infra.local import stack
from tests.harness import wait_until

# Headless, as root, and quiet on a machine whose only network is loopback: no
# background requests to Google's hosts, no component or sync updates.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
)


class PageError(AssertionError):
    pass


@dataclass
class Page:
    """One tab, attached through a flat DevTools session."""

    _socket: Any
    _session: str = ""
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _answers: dict[int, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    async def command(self, method: str, **params: Any) -> dict[str, Any]:
        message_id = next(self._ids)
        message: dict[str, Any] = {"id": message_id, "method": method, "params": params}
        if self._session:
            message["sessionId"] = self._session
        answer = self._answers[message_id] = asyncio.get_running_loop().create_future()
        await self._socket.send(json.dumps(message))
        async with asyncio.timeout(30):
            result: dict[str, Any] = await answer
        return result

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (promises awaited)."""
        result = await self.command(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise PageError(f"{expression!r} threw: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, within: float = 30.0) -> Any:
        async def truthy() -> Any:
            return await self.evaluate(expression)

        return await wait_until(truthy, within=within, interval=0.1)

    async def navigate(self, url: str) -> None:
        await self.command("Page.navigate", url=url)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "id" in message:
            answer = self._answers.pop(message["id"], None)
            if answer is not None and not answer.done():
                if "error" in message:
                    answer.set_exception(PageError(str(message["error"])))
                else:
                    answer.set_result(message.get("result", {}))
            return
        params = message.get("params", {})
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif message.get("method") == "Network.webSocketCreated":
            self.requests.append(params["url"])
        elif message.get("method") == "Runtime.exceptionThrown":
            self.exceptions.append(json.dumps(params["exceptionDetails"])[:500])

    async def _read(self) -> None:
        async for raw in self._socket:
            self._dispatch(json.loads(raw))


@asynccontextmanager
async def open_page(record_csp_violations: bool = True) -> AsyncIterator[Page]:
    """A new headless Chromium with one blank page, network and runtime events on.
    ``window.cspViolations`` lists what the page's Content-Security-Policy blocked."""
    binary = stack.install_debian_package("chromium", "chromium")
    with tempfile.TemporaryDirectory(
        prefix="pictor-chromium-", ignore_cleanup_errors=True
    ) as profile:
        log = Path(profile) / "chromium.log"
        with log.open("wb") as output:
            process = await asyncio.create_subprocess_exec(
                str(binary),
                *FLAGS,
                f"--user-data-dir={profile}/data",
                "about:blank",
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        try:
            endpoint = await _devtools_endpoint(Path(profile) / "data", process, log)
            async with websockets.connect(endpoint, max_size=None) as socket_:
                page = Page(socket_)
                reader = asyncio.create_task(page._read())
                try:
                    target = await page.command("Target.createTarget", url="about:blank")
                    attached = await page.command(
                        "Target.attachToTarget", targetId=target["targetId"], flatten=True
                    )
                    page._session = attached["sessionId"]
                    for domain in ("Network", "Page", "Runtime"):
                        await page.command(f"{domain}.enable")
                    if record_csp_violations:
                        await page.command(
                            "Page.addScriptToEvaluateOnNewDocument",
                            source="window.cspViolations = [];"
                            "document.addEventListener('securitypolicyviolation', e =>"
                            " window.cspViolations.push(e.violatedDirective + ' ' + e.blockedURI));",
                        )
                    yield page
                finally:
                    reader.cancel()
        finally:
            if process.returncode is None:
                process.terminate()
            try:
                async with asyncio.timeout(10):
                    await process.wait()
            except TimeoutError:
                process.kill()
                await process.wait()


async def _devtools_endpoint(data_dir: Path, process: asyncio.subprocess.Process, log: Path) -> str:
    """Chromium writes its DevTools port and browser path here once it listens."""
    active_port = data_dir / "DevToolsActivePort"

    async def written() -> str | None:
        if process.returncode is not None:
            output = await asyncio.to_thread(log.read_text)
            raise AssertionError(f"chromium exited with {process.returncode}: {output}")
        lines = await asyncio.to_thread(_lines, active_port)
        return f"ws://127.0.0.1:{lines[0]}{lines[1]}" if len(lines) >= 2 else None

    endpoint = await wait_until(written, within=30, interval=0.1)
    assert endpoint is not None
    return endpoint


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
