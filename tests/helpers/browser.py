"""A real browser for the report tests: headless Chromium (Debian's `chromium` package) driven
over the DevTools protocol with the `websockets` client twinbench already depends on.

It opens a page from a file, waits until the network has been idle, and returns what a test
asks about: a full-page screenshot (PNG), every request the page made that left the page
(anything not `file:` or `data:`), every request that failed, the console's errors (a
Content-Security-Policy refusal lands there), and the size each chart was drawn at.

Nothing is downloaded: no `playwright install`. The flags keep Chromium off the network on
its own account (no background updates, sync or QUIC); without them its connection attempts
are refused by this machine's closed network and pollute the evidence. The browser runs in a
session of its own and is stopped, with everything it started, on every exit path.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

CHROMIUM_NAMES = ("chromium", "chromium-browser")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--remote-debugging-port=0")
WIDTH = 1280
MAX_HEIGHT = 16000  # Chromium's screenshots get unreliable beyond this


def chromium() -> str | None:
    return next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)


@dataclass
class PageVisit:
    screenshot: bytes
    left_the_page: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    chart_sizes: list[tuple[float, float]] = field(default_factory=list)
    height: int = 0
    left_running: list[int] = field(default_factory=list)  # pids: must stay empty


class _Session:
    """One DevTools connection: commands by id, events collected as they come."""

    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.next_id = 0
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.events: list[dict[str, Any]] = []
        self.changed = asyncio.Event()

    async def pump(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message and message["id"] in self.waiting:
                self.waiting.pop(message["id"]).set_result(message)
            else:
                self.events.append(message)
                self.changed.set()

    async def send(self, method: str, session: str | None = None, **params: Any
                   ) -> dict[str, Any]:
        self.next_id += 1
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.waiting[self.next_id] = future
        message: dict[str, Any] = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, 60)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return dict(reply.get("result", {}))

    async def until(self, test: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not any(test(e) for e in self.events):
            self.changed.clear()
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("the page did not finish loading")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                continue


async def _visit(ws_url: str, url: str) -> PageVisit:
    import websockets

    async with websockets.connect(ws_url, max_size=None) as ws:
        s = _Session(ws)
        pump = asyncio.create_task(s.pump())
        try:
            target = (await s.send("Target.createTarget", url="about:blank"))["targetId"]
            sid = (await s.send("Target.attachToTarget", targetId=target, flatten=True)
                   )["sessionId"]
            for domain in ("Page", "Network", "Log", "Runtime"):
                await s.send(f"{domain}.enable", sid)
            await s.send("Page.setLifecycleEventsEnabled", sid, enabled=True)
            await s.send("Emulation.setDeviceMetricsOverride", sid, width=WIDTH, height=900,
                         deviceScaleFactor=1, mobile=False)
            loader = (await s.send("Page.navigate", sid, url=url))["loaderId"]
            # This navigation's, not about:blank's before it.
            await s.until(lambda e: e.get("method") == "Page.lifecycleEvent"
                          and e["params"]["name"] == "networkIdle"
                          and e["params"].get("loaderId") == loader, timeout=60)
            facts = await s.send("Runtime.evaluate", sid, returnByValue=True, expression=(
                "JSON.stringify({h: document.documentElement.scrollHeight, svgs: Array.from("
                "document.querySelectorAll('figure svg')).map(s => {const r = "
                "s.getBoundingClientRect(); return [r.width, r.height];})})"))
            page = json.loads(facts["result"]["value"])
            height = min(int(page["h"]), MAX_HEIGHT)
            shot = await s.send("Page.captureScreenshot", sid, format="png",
                                captureBeyondViewport=True,
                                clip={"x": 0, "y": 0, "width": WIDTH, "height": height,
                                      "scale": 1})
        finally:
            pump.cancel()
    visit = PageVisit(base64.b64decode(shot["data"]), height=int(page["h"]),
                      chart_sizes=[tuple(x) for x in page["svgs"]])
    urls: dict[str, str] = {}
    for e in s.events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            urls[params["requestId"]] = request_url
            if not request_url.startswith(("file:", "data:", "about:")):
                visit.left_the_page.append(request_url)
        elif method == "Network.loadingFailed":
            visit.failed.append(f"{urls.get(params['requestId'], '?')}: {params['errorText']}")
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            visit.console_errors.append(params["entry"]["text"])
        elif method == "Runtime.exceptionThrown":
            visit.console_errors.append(str(params["exceptionDetails"].get("text")))
    return visit


def visit(path: Path) -> PageVisit:
    """Open `path` in a fresh headless Chromium and report what happened."""
    binary = chromium()
    assert binary, "chromium is not installed"
    profile = tempfile.mkdtemp(prefix="twinbench-chromium-")
    # Its own TMPDIR inside the profile: Chromium leaves org.chromium.Chromium.* dirs there,
    # and they go with the profile.
    scratch = Path(profile) / "tmp"
    scratch.mkdir()
    proc = subprocess.Popen([binary, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True,
                            env={**os.environ, "TMPDIR": str(scratch)})
    try:
        active = Path(profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (active.exists() and len(active.read_text().splitlines()) >= 2):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"chromium did not start (exit {proc.poll()})")
            time.sleep(0.05)
        port, ws_path = active.read_text().splitlines()[:2]
        seen = asyncio.run(_visit(f"ws://127.0.0.1:{port}{ws_path}", path.resolve().as_uri()))
    finally:
        _stop(proc)
        left = _ours(profile)
        for p in left:  # ours by their profile directory; should never happen
            with contextlib.suppress(psutil.Error):
                p.kill()
        shutil.rmtree(profile, ignore_errors=True)
    seen.left_running = [p.pid for p in left]
    return seen


def _ours(profile: str) -> list[psutil.Process]:
    """Processes of this browser still alive: they all carry its profile directory."""
    flag = f"--user-data-dir={profile}"
    out = []
    for p in psutil.process_iter():
        with contextlib.suppress(psutil.Error):
            if flag in p.cmdline():
                out.append(p)
    return out


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop the browser and every process it started: they share its session (its group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=10)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc.poll() is None:
        proc.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):  # helpers that outlived it (renderers)
        os.killpg(proc.pid, signal.SIGKILL)


def not_blank(png: bytes) -> tuple[float, int]:
    """How much of the screenshot is not the background, and how many colours it has."""
    import io

    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    small = image.resize((image.width // 4 or 1, image.height // 4 or 1))
    colours = small.getcolors(maxcolors=small.width * small.height) or []
    most = max(count for count, _ in colours)
    return 1 - most / (small.width * small.height), len(colours)
