"""The mock HTTP peer, an aiohttp app in its own process (`python -m harness.peers.http_server`).

GET /item/{i}?delay_ms=L&size=S&status=C answers after L ms with `payload(i, S)`
(harness.model.data) and status C. `fault=reset` drops the connection instead of answering, to
exercise error paths. The process prints {"port": N} once it listens on 127.0.0.1.

GET /site/{i}?pages=N&degree=D&size=S&delay_ms=L answers after L ms with page i of the
deterministic site of harness.model.site (HTML, links to D other pages of N); 404 past the
last page.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys

from aiohttp import web

from harness.model.data import payload
from harness.model.site import site_page

DEFAULT_SIZE = 1024


async def item(request: web.Request) -> web.StreamResponse:
    query = request.rel_url.query
    try:
        index = int(request.match_info["i"])
        delay_ms = float(query.get("delay_ms", 0))
        size = int(query.get("size", DEFAULT_SIZE))
        status = int(query.get("status", 200))
    except ValueError:
        return web.Response(status=400, text="bad query parameter")
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    if query.get("fault") == "reset":
        assert request.transport is not None
        request.transport.close()
        return web.Response(status=500)
    return web.Response(body=payload(index, size), status=status,
                        content_type="application/octet-stream")


async def site_page_handler(request: web.Request) -> web.StreamResponse:
    query = request.rel_url.query
    try:
        page = int(request.match_info["i"])
        pages = int(query.get("pages", 100))
        degree = int(query.get("degree", 5))
        size = int(query.get("size", 2048))
        delay_ms = float(query.get("delay_ms", 0))
    except ValueError:
        return web.Response(status=400, text="bad query parameter")
    if not 0 <= page < pages or degree < 0 or size < 0:
        return web.Response(status=404, text="no such page")
    if delay_ms > 0:
        await asyncio.sleep(delay_ms / 1000)
    return web.Response(body=site_page(page, pages, degree, size), content_type="text/html",
                        charset="utf-8")


async def health(_: web.Request) -> web.Response:
    return web.Response(text="ok")


async def serve() -> None:
    app = web.Application()
    app.router.add_get("/item/{i}", item)
    app.router.add_get("/site/{i}", site_page_handler)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=4096)
    await site.start()
    # uvloop's server is no asyncio.Server subclass, but has the same `sockets`.
    sockets = getattr(site._server, "sockets", None)
    assert sockets
    port = sockets[0].getsockname()[1]
    sys.stdout.write(json.dumps({"port": port}) + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    try:
        import uvloop

        uvloop.run(serve())
    except ImportError:
        asyncio.run(serve())


if __name__ == "__main__":
    main()
