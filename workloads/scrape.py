"""scrape: crawl a site and parse every page — the web-scraping case with its CPU half.

The HTTP peer serves a deterministic site (`/site/{i}`: a title, prose, a home link, links off
the site and `degree` links to other pages). Every twin crawls it breadth-first from page 0
until every reachable page has been fetched once, parsing each page's title and links with the
same parser, the standard library's `html.parser` (what BeautifulSoup uses by default; pure
Python, so its CPU cost is real). The harness owns the frontier (`client_twin(crawl=True)`):
each op fetches and parses one page and returns (its path and title, the site links on it);
the harness queues the links it has not seen. The checksum is the set of (path, title) pairs,
and `expected` walks the graph without fetching anything.

Every twin keeps connections alive and is limited to C of them (requests' adapter pool,
aiohttp's connector). The process-pool twin hands each document to a pool of one process per
core, started and warmed before timing: parsing then runs beside the event loop instead of on
it, at the price of pickling each document across. It pays only where parsing outweighs that
(the heavy-pages scenario); on small pages it costs more than it saves, which is a result.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import aiohttp
import requests
from curl_cffi import requests as curl_requests
from requests.adapters import HTTPAdapter

from harness import (
    BenchContext,
    Params,
    Scenario,
    Twin,
    Workload,
    client_twin,
    fold,
    site_path,
    site_reachable,
    site_title,
)

SITE = "/site/"
Parsed = tuple[tuple[str, str], list[str]]


# --- the one parser every twin uses ----------------------------------------------------------


class _PageParser(HTMLParser):
    """Collects the title's text and every <a href> in document order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.hrefs: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag == "a":
            self.hrefs.extend(value for name, value in attrs if name == "href" and value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)


def parse_page(url: str, html: str) -> Parsed:
    """((path, title), site links): links resolved against the page, kept when they stay on
    the same host and under /site/ (query and fragment dropped). Module-level, so a process
    pool can run it."""
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    here = urlsplit(url)
    links = []
    for href in parser.hrefs:
        target = urlsplit(urljoin(url, href))
        if target.netloc == here.netloc and target.path.startswith(SITE):
            links.append(target.path)
    return (here.path, "".join(parser.title).strip()), links


# --- the work ----------------------------------------------------------------------------------


def seeds(ctx: BenchContext) -> list[str]:
    return [site_path(0)]


def expected(params: Params) -> int:
    return fold((site_path(page), site_title(page))
                for page in site_reachable(params["n"], params["degree"]))


def _site(ctx: BenchContext) -> tuple[str, str]:
    """The peer's address, and the query that tells it which site (and latency) to serve."""
    p = ctx.params
    query = urlencode({"pages": p["n"], "degree": p["degree"], "size": p["size"],
                       "delay_ms": p["latency_ms"]})
    return ctx.peers["http"].url, query


def _forkserver() -> multiprocessing.context.BaseContext:
    """Workers forked from a server process that has imported this module (and not the rest
    of the harness): a clean process, unlike a fork of the measuring one with its threads, and
    started once per run rather than paying an interpreter start per pool, as spawn would."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _quiet_worker() -> None:
    """A terminal Ctrl-C reaches the whole process group: the harness stops the pool."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# --- sync twins -------------------------------------------------------------------------------


class RequestsCrawler:
    def open(self, ctx: BenchContext) -> None:
        self.base, self.query = _site(ctx)
        self.session = requests.Session()
        size = ctx.params["concurrency"]
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, pool_block=True)
        self.session.mount("http://", adapter)

    def op(self, path: str) -> Parsed:
        url = f"{self.base}{path}"
        response = self.session.get(f"{url}?{self.query}")
        response.raise_for_status()
        return self.parse(url, response.text)

    def close(self) -> None:
        self.session.close()

    def parse(self, url: str, html: str) -> Parsed:
        return parse_page(url, html)


class CurlCrawler:
    """curl-cffi's Session (libcurl): one per worker thread, made on the thread's first page
    (in the warm-up round), as its documentation asks."""

    def open(self, ctx: BenchContext) -> None:
        self.base, self.query = _site(ctx)
        self.local = threading.local()
        self.sessions: list[curl_requests.Session[Any]] = []
        self.lock = threading.Lock()

    def op(self, path: str) -> Parsed:
        url = f"{self.base}{path}"
        session: curl_requests.Session[Any] | None = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = curl_requests.Session()
            with self.lock:
                self.sessions.append(session)
        response = session.get(f"{url}?{self.query}")
        response.raise_for_status()
        return self.parse(url, response.text)

    def close(self) -> None:
        for session in self.sessions:
            session.close()

    def parse(self, url: str, html: str) -> Parsed:
        return parse_page(url, html)


# --- async twins ------------------------------------------------------------------------------


class AiohttpCrawler:
    """aiohttp; parsing on the event loop, or in a pool of one process per core."""

    def __init__(self, processes: bool = False):
        self.processes = processes
        self.pool: ProcessPoolExecutor | None = None

    async def open(self, ctx: BenchContext) -> None:
        self.base, self.query = _site(ctx)
        connector = aiohttp.TCPConnector(limit=ctx.params["concurrency"])
        self.session = aiohttp.ClientSession(connector=connector)
        if self.processes:
            workers = os.cpu_count() or 1
            self.pool = ProcessPoolExecutor(workers, mp_context=_forkserver(),
                                            initializer=_quiet_worker)
            loop = asyncio.get_running_loop()
            sample = "<html><head><title>warm</title></head><body></body></html>"
            await asyncio.gather(*(loop.run_in_executor(self.pool, parse_page, self.base,
                                                        sample) for _ in range(2 * workers)))

    async def op(self, path: str) -> Parsed:
        url = f"{self.base}{path}"
        async with self.session.get(f"{url}?{self.query}") as response:
            response.raise_for_status()
            html = await response.text()
        return await self.parse(url, html)

    async def close(self) -> None:
        await self.session.close()
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    async def parse(self, url: str, html: str) -> Parsed:
        if self.pool is None:
            return parse_page(url, html)
        return await asyncio.get_running_loop().run_in_executor(self.pool, parse_page, url,
                                                                html)


class CurlAsyncCrawler:
    """curl-cffi's AsyncSession: the same libcurl on asyncio, parsing on the loop."""

    async def open(self, ctx: BenchContext) -> None:
        self.base, self.query = _site(ctx)
        self.session: curl_requests.AsyncSession[Any] = curl_requests.AsyncSession(
            max_clients=ctx.params["concurrency"])

    async def op(self, path: str) -> Parsed:
        url = f"{self.base}{path}"
        response = await self.session.get(f"{url}?{self.query}")
        response.raise_for_status()
        return await self.parse(url, response.text)

    async def close(self) -> None:
        await self.session.close()

    async def parse(self, url: str, html: str) -> Parsed:
        return parse_page(url, html)


def _twins() -> tuple[Twin, ...]:
    return (
        client_twin("requests", "sync", "requests (sequential)", RequestsCrawler, seeds,
                    crawl=True, core="Python", library="requests"),
        client_twin("requests-threads", "threads", "requests + {concurrency} threads",
                    RequestsCrawler, seeds, crawl=True, core="Python", library="requests"),
        client_twin("curl-cffi-threads", "threads", "curl-cffi + {concurrency} threads",
                    CurlCrawler, seeds, crawl=True, core="C", library="curl-cffi"),
        client_twin("aiohttp", "async", "aiohttp ({concurrency} in flight, parsing on the loop)",
                    AiohttpCrawler, seeds, crawl=True, core="C", library="aiohttp"),
        client_twin("aiohttp-procs", "async",
                    "aiohttp ({concurrency} in flight) + parsing in a process per core",
                    functools.partial(AiohttpCrawler, processes=True), seeds, crawl=True,
                    core="C", library="aiohttp"),
        client_twin("curl-cffi-async", "async", "curl-cffi async ({concurrency} in flight)",
                    CurlAsyncCrawler, seeds, crawl=True, core="C", library="curl-cffi"),
    )


WORKLOAD = Workload(
    name="scrape",
    description="Crawl a local site breadth-first and parse every page (html.parser): "
                "fetching and the CPU of parsing.",
    twins=_twins(),
    scenarios=(
        Scenario("latency", {"n": 100, "degree": 5, "size": 2048, "latency_ms": 20,
                             "concurrency": 10},
                 "each page takes 20 ms to arrive: concurrency pays, until parsing CPU sets "
                 "the pace"),
        Scenario("no-latency", {"n": 200, "degree": 5, "size": 2048, "latency_ms": 0,
                                "concurrency": 10},
                 "pages arrive at once: client overhead and parsing are all there is"),
        Scenario("heavy-pages", {"n": 100, "degree": 5, "size": 32768, "latency_ms": 10,
                                 "concurrency": 10},
                 "32 KiB pages: parsing outweighs the network, the case for parsing in "
                 "other processes",
                 # ~2 s of parsing even at a tenth: too much for a smoke run of everything
                 profiles=frozenset({"default", "full"})),
    ),
    peers=("http",),
    min_size=10,
    tiny={"n": 12, "concurrency": 3, "size": 256, "latency_ms": 1},
    expected=expected,
)
