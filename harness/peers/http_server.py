"""The mock HTTP peer, an aiohttp app in its own process (`python -m harness.peers.http_server`).

GET /item/{i}?delay_ms=L&size=S&status=C answers after L ms with `payload(i, S)`
(harness.model.data) and status C. `fault=reset` drops the connection instead of answering, to
exercise error paths. The process prints {"port": N} once it listens on 127.0.0.1.

GET /site/{i}?pages=N&degree=D&size=S&delay_ms=L answers after L ms with page i of the
deterministic site of harness.model.site (HTML, links to D other pages of N); 404 past the
last page.

With `--counters-fd N` it counts into the harness's shared counters (harness.peers.counters)
what it serves: requests, connections accepted, and bytes on the wire each way (at the
protocol: what the client sent, what the server wrote), so the harness can charge each
operation its I/O without asking.

With `--tls-cert CERT --tls-key KEY` it also serves the same app over TLS on a second port
({"port": N, "tls_port": M}), and appends each new (protocol version, cipher) a handshake
negotiated to `--tls-seen FILE`, for the run's header.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, cast

from aiohttp import web

from harness.model.data import payload
from harness.model.site import site_page
from harness.peers.counters import SharedCounters
from harness.peers.tls import server_context

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


class _CountedTransport:
    """The connection's transport, counting what the server writes to it."""

    def __init__(self, inner: asyncio.Transport, counters: SharedCounters):
        self._inner, self._counters = inner, counters

    def write(self, data: Any) -> None:
        self._counters.add("bytes_received", len(data))
        self._inner.write(data)

    def writelines(self, chunks: Iterable[Any]) -> None:
        chunks = list(chunks)
        self._counters.add("bytes_received", sum(len(c) for c in chunks))
        self._inner.writelines(chunks)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class _TlsSeen:
    """The distinct (version, cipher) pairs handshakes negotiated, appended to a file."""

    def __init__(self, path: str | None):
        self.path = path
        self.seen: set[tuple[str, str]] = set()

    def note(self, transport: asyncio.BaseTransport) -> None:
        ssl_object = transport.get_extra_info("ssl_object")
        if self.path is None or ssl_object is None:
            return
        cipher = ssl_object.cipher()
        pair = (str(ssl_object.version()), str(cipher[0] if cipher else "?"))
        if pair not in self.seen:
            self.seen.add(pair)
            with open(self.path, "a") as out:
                out.write(" ".join(pair) + "\n")


class _CountedProtocol(asyncio.Protocol):
    """aiohttp's request handler for one connection, counting the bytes it receives."""

    def __init__(self, inner: Any, counters: SharedCounters, tls: _TlsSeen):
        self._inner, self._counters, self._tls = inner, counters, tls

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._tls.note(transport)
        # (uvloop's transports are not asyncio.Transport subclasses, but have its methods)
        self._inner.connection_made(
            _CountedTransport(cast(asyncio.Transport, transport), self._counters))

    def data_received(self, data: bytes) -> None:
        self._counters.add("bytes_sent", len(data))
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        result: bool | None = self._inner.eof_received()
        return result

    def connection_lost(self, exc: Exception | None) -> None:
        self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


def _counting(counters: SharedCounters) -> Callable[..., Awaitable[web.StreamResponse]]:
    @web.middleware
    async def count_requests(request: web.Request,
                             handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                             ) -> web.StreamResponse:
        counters.add("requests")
        return await handler(request)

    return count_requests


async def serve(counters: SharedCounters | None = None, tls: ssl.SSLContext | None = None,
                tls_seen: str | None = None) -> None:
    app = web.Application(middlewares=[_counting(counters)] if counters else [])
    app.router.add_get("/item/{i}", item)
    app.router.add_get("/site/{i}", site_page_handler)
    app.router.add_get("/health", health)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    handlers = runner.server
    assert handlers is not None

    seen = _TlsSeen(tls_seen)

    def connection() -> asyncio.Protocol:
        if counters is None:
            return handlers()
        counters.add("connections")
        return _CountedProtocol(handlers(), counters, seen)

    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(connection, "127.0.0.1", 0, backlog=4096)]
    if tls is not None:
        servers.append(await loop.create_server(connection, "127.0.0.1", 0, backlog=4096,
                                                ssl=tls))
    # uvloop's server is no asyncio.Server subclass, but has the same `sockets`.
    ports = [server.sockets[0].getsockname()[1] for server in servers]
    sys.stdout.write(json.dumps({"port": ports[0], "tls_port": ports[1] if tls else None})
                     + "\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for server in servers:
        server.close()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description="twinbench's mock HTTP peer")
    parser.add_argument("--counters-fd", type=int, default=None)
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    parser.add_argument("--tls-seen")
    args = parser.parse_args()
    counters = SharedCounters.attach(args.counters_fd) if args.counters_fd is not None else None
    tls = (server_context(Path(args.tls_cert), Path(args.tls_key))
           if args.tls_cert and args.tls_key else None)
    serving = serve(counters, tls, args.tls_seen)
    try:
        import uvloop

        uvloop.run(serving)
    except ImportError:
        asyncio.run(serving)


if __name__ == "__main__":
    main()
