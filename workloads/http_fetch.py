"""http_fetch: the web-scraping case — fetch N URLs from the mock HTTP peer, checksum the bodies.

Every twin is limited to C connections (requests' adapter pool, httpx limits, aiohttp's
connector, a curl-cffi session per thread or its async `max_clients`, pyreqwest's
`max_connections`), so the only difference between twins is the I/O model and the library.
Three libraries are here in both models — httpx (Python), curl-cffi (libcurl, C) and
pyreqwest (reqwest on hyper, Rust) — so the report can split what the async model buys with
the library held fixed from what changing library buys. Two parameters change the traffic,
the same way for every twin:

- `tls=1`: HTTPS. The peer presents a certificate from a CA made for the run, and every twin
  verifies it against that CA (requests with `verify=`, httpx and aiohttp with an SSL context
  trusting it; curl-cffi with its path, pyreqwest with its PEM); versions and ciphers are the
  libraries' defaults. requests takes `verify` per
  request because a session's own is overridden by REQUESTS_CA_BUNDLE from the environment.
- `keepalive=0`: every operation opens and closes its own connection, as a client without a
  shared session does: every twin sends `Connection: close` (aiohttp's connector does when
  it force-closes), so the server closes each connection after its response, and the I/O
  counts show one connection per operation. (httpx's own switch, no idle connections kept,
  failed its thread-pool twin with "Bad file descriptor" here: a connection closed under a
  thread still reading it.)
"""

from __future__ import annotations

import ssl
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import requests
from curl_cffi import requests as curl_requests
from pyreqwest.client import ClientBuilder, SyncClientBuilder
from requests.adapters import HTTPAdapter

from harness import (
    BenchContext,
    Params,
    Scenario,
    Sweep,
    Twin,
    Workload,
    client_twin,
    fold,
    payload,
)


def urls(ctx: BenchContext) -> list[str]:
    """The work list, built outside the timed region."""
    p = ctx.params
    peer = ctx.peers["http"]
    base = peer.tls_url if p.get("tls") else peer.url
    query = f"delay_ms={p['latency_ms']}&size={p['size']}"
    return [f"{base}/item/{i}?{query}" for i in range(p["n"])]


def keepalive(ctx: BenchContext) -> bool:
    return bool(ctx.params.get("keepalive", 1))


def httpx_limits(size: int) -> httpx.Limits:
    """C connections, all kept, none expired: httpcore's pool closes connections idle for 5 s
    from whichever thread passes by, and can close one it has just handed to another thread
    (encode/httpcore#1110: "Bad file descriptor", seen here when a slow round left a
    connection idle that long). requests' and aiohttp's pools keep theirs for the run too."""
    return httpx.Limits(max_connections=size, max_keepalive_connections=size,
                        keepalive_expiry=None)


def connection_header(ctx: BenchContext) -> dict[str, str]:
    """`keepalive=0`: ask the server to close each connection after its response."""
    return {} if keepalive(ctx) else {"Connection": "close"}


def tls_context(ctx: BenchContext) -> ssl.SSLContext | bool:
    """What verifies the peer: this run's CA with `tls`, else the library's default."""
    return ctx.peers["http"].client_context() if ctx.params.get("tls") else True


def expected(params: Params) -> int:
    return fold(payload(i, params["size"]) for i in range(params["n"]))


# --- sync twins -------------------------------------------------------------------------------

class RequestsClient:
    def open(self, ctx: BenchContext) -> None:
        self.session = requests.Session()
        size = ctx.params["concurrency"]
        for scheme in ("http://", "https://"):
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, pool_block=True)
            self.session.mount(scheme, adapter)
        self.verify: str | bool = ctx.peers["http"].ca_file if ctx.params.get("tls") else True
        self.session.headers.update(connection_header(ctx))

    def op(self, url: str) -> bytes:
        response = self.session.get(url, verify=self.verify)
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        self.session.close()


class HttpxClient:
    def open(self, ctx: BenchContext) -> None:
        size = ctx.params["concurrency"]
        limits = httpx_limits(size)
        self.client = httpx.Client(limits=limits, timeout=30, verify=tls_context(ctx),
                                   headers=connection_header(ctx))

    def op(self, url: str) -> bytes:
        response = self.client.get(url)
        response.raise_for_status()
        return response.content

    def close(self) -> None:
        self.client.close()


class CurlClient:
    """curl-cffi's Session (libcurl): one session per worker thread, as its documentation asks
    (a session is not thread-safe), each made on the thread's first request — in the warm-up
    round, before timing — so the pool of C threads holds C connections, like the others."""

    def open(self, ctx: BenchContext) -> None:
        self.local = threading.local()
        self.sessions: list[curl_requests.Session[Any]] = []
        self.lock = threading.Lock()
        self.verify: str | bool = ctx.peers["http"].ca_file if ctx.params.get("tls") else True
        self.headers = connection_header(ctx)

    def op(self, url: str) -> bytes:
        response = self._session().get(url)
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    def _session(self) -> curl_requests.Session[Any]:
        session: curl_requests.Session[Any] | None = getattr(self.local, "session", None)
        if session is None:
            # A CA file path works (curl-cffi sets CAINFO) though its stub says bool.
            session = self.local.session = curl_requests.Session(
                verify=self.verify, headers=self.headers)  # type: ignore[arg-type]
            with self.lock:
                self.sessions.append(session)
        return session


def pyreqwest_builder(builder: Any, ctx: BenchContext) -> Any:
    """pyreqwest's client, either model, as the others: C connections (in flight and kept
    idle), no proxy from the environment, this run's CA with `tls`."""
    size = ctx.params["concurrency"]
    builder = (builder.max_connections(size).pool_max_idle_per_host(size).no_proxy()
               .error_for_status(True).timeout(timedelta(seconds=30))
               .default_headers(connection_header(ctx)))
    if ctx.params.get("tls"):
        builder = builder.add_root_certificate_pem(Path(ctx.peers["http"].ca_file).read_bytes())
    return builder


class PyreqwestClient:
    """pyreqwest's SyncClient (Rust: reqwest on hyper), one shared by the C threads: it is
    thread-safe, and a request waits with the GIL released."""

    def open(self, ctx: BenchContext) -> None:
        self.client = pyreqwest_builder(SyncClientBuilder(), ctx).build()

    def op(self, url: str) -> bytes:
        return bytes(self.client.get(url).build().send().bytes())

    def close(self) -> None:
        self.client.close()


# --- async twins ------------------------------------------------------------------------------

class AiohttpClient:
    async def open(self, ctx: BenchContext) -> None:
        connector = aiohttp.TCPConnector(limit=ctx.params["concurrency"], ssl=tls_context(ctx),
                                         force_close=not keepalive(ctx))
        self.session = aiohttp.ClientSession(connector=connector)

    async def op(self, url: str) -> bytes:
        async with self.session.get(url) as response:
            response.raise_for_status()
            return await response.read()

    async def close(self) -> None:
        await self.session.close()


class CurlAsyncClient:
    """curl-cffi's AsyncSession: the same libcurl on asyncio, at most C transfers at once."""

    async def open(self, ctx: BenchContext) -> None:
        self.session: curl_requests.AsyncSession[Any] = curl_requests.AsyncSession(
            max_clients=ctx.params["concurrency"],
            verify=ctx.peers["http"].ca_file if ctx.params.get("tls") else True,
            headers=connection_header(ctx))

    async def op(self, url: str) -> bytes:
        response = await self.session.get(url)
        response.raise_for_status()
        return bytes(response.content)

    async def close(self) -> None:
        await self.session.close()


class HttpxAsyncClient:
    async def open(self, ctx: BenchContext) -> None:
        size = ctx.params["concurrency"]
        limits = httpx_limits(size)
        self.client = httpx.AsyncClient(limits=limits, timeout=30, verify=tls_context(ctx),
                                        headers=connection_header(ctx))

    async def op(self, url: str) -> bytes:
        response = await self.client.get(url)
        response.raise_for_status()
        return response.content

    async def close(self) -> None:
        await self.client.aclose()


class PyreqwestAsyncClient:
    """pyreqwest's Client: the same Rust library, awaited on asyncio."""

    async def open(self, ctx: BenchContext) -> None:
        self.client = pyreqwest_builder(ClientBuilder(), ctx).build()

    async def op(self, url: str) -> bytes:
        response = await self.client.get(url).build().send()
        return bytes(await response.bytes())

    async def close(self) -> None:
        await self.client.close()


def _twins() -> tuple[Twin, ...]:
    # `core`: what parses HTTP (requests: http.client; httpx: h11; aiohttp: llhttp in C;
    # curl-cffi: libcurl; pyreqwest: hyper, in Rust). `library`: one library in both models
    # makes the "async model alone" figure (httpx's Client and AsyncClient, curl-cffi's
    # Session and AsyncSession, pyreqwest's SyncClient and Client).
    return (
        client_twin("requests", "sync", "requests (sequential)", RequestsClient, urls,
                    core="Python", library="requests"),
        client_twin("requests-threads", "threads", "requests + {concurrency} threads",
                    RequestsClient, urls, core="Python", library="requests"),
        client_twin("httpx-threads", "threads", "httpx + {concurrency} threads",
                    HttpxClient, urls, core="Python", library="httpx"),
        client_twin("curl-cffi-threads", "threads", "curl-cffi + {concurrency} threads",
                    CurlClient, urls, core="C", library="curl-cffi"),
        client_twin("aiohttp", "async", "aiohttp ({concurrency} in flight)",
                    AiohttpClient, urls, core="C", library="aiohttp"),
        client_twin("curl-cffi-async", "async", "curl-cffi async ({concurrency} in flight)",
                    CurlAsyncClient, urls, core="C", library="curl-cffi"),
        client_twin("pyreqwest-threads", "threads", "pyreqwest + {concurrency} threads",
                    PyreqwestClient, urls, core="Rust", library="pyreqwest"),
        client_twin("pyreqwest-async", "async", "pyreqwest async ({concurrency} in flight)",
                    PyreqwestAsyncClient, urls, core="Rust", library="pyreqwest"),
        # Not in the quick smoke run: httpcore 1.0's async pool costs ~10 ms of CPU per
        # request at 100 in flight (encode/httpcore#924, #1035), a third of the run alone.
        client_twin("httpx-async", "async", "httpx async ({concurrency} in flight)",
                    HttpxAsyncClient, urls, profiles=frozenset({"default", "full"}),
                    core="Python", library="httpx"),
    )


WORKLOAD = Workload(
    name="http_fetch",
    description="Fetch N URLs from a local HTTP server with injected latency (web scraping).",
    twins=_twins(),
    scenarios=(
        Scenario("latency-bound", {"n": 200, "concurrency": 50, "latency_ms": 20, "size": 1024},
                 "each request waits 20 ms at the server; concurrency should pay"),
        Scenario("many-quick", {"n": 1000, "concurrency": 100, "latency_ms": 2, "size": 1024},
                 "many short calls; per-request overhead starts to matter"),
        Scenario("overhead", {"n": 2000, "concurrency": 50, "latency_ms": 0, "size": 1024},
                 "no latency: pure client overhead, where async may lose"),
        # Real traffic: HTTPS, and connections opened per request.
        Scenario("latency-bound-tls", {"n": 200, "concurrency": 50, "latency_ms": 20,
                                       "size": 1024, "tls": 1},
                 "latency-bound over HTTPS, connections kept alive"),
        Scenario("overhead-tls", {"n": 2000, "concurrency": 50, "latency_ms": 0, "size": 1024,
                                  "tls": 1},
                 "client overhead over HTTPS: encryption on every byte, no handshake",
                 profiles=frozenset({"default", "full"})),
        Scenario("new-connections", {"n": 1000, "concurrency": 50, "latency_ms": 2,
                                     "size": 1024, "keepalive": 0},
                 "every request on a connection of its own, as without a shared session",
                 profiles=frozenset({"default", "full"})),
        Scenario("new-connections-tls", {"n": 500, "concurrency": 50, "latency_ms": 2,
                                         "size": 1024, "tls": 1, "keepalive": 0},
                 "a TLS handshake per request: what a scraper visiting many hosts pays",
                 profiles=frozenset({"default", "full"})),
    ),
    peers=("http",),
    tiny={"n": 12, "concurrency": 4, "latency_ms": 1, "size": 256},
    expected=expected,
    # The map: latency x concurrency, 16 waves of C requests per point (2 under quick). The
    # sequential twin would need N·L at every point (the thread pools are the sync contenders)
    # and httpx-async, never the best async twin, would take two thirds of the time.
    sweeps=(Sweep("latency-bound", {"latency_ms": (0, 1, 2, 5, 10, 20, 50),
                                    "concurrency": (1, 4, 16, 64, 256)},
                  twins=("requests-threads", "httpx-threads", "aiohttp"),
                  waves=16),),
)
