"""The deterministic web site the HTTP peer serves for the scrape workload.

Page i of a site of `pages` pages is an HTML document with a title, some `size` bytes of prose
and markup, a home link, a few links that lead off the site (a stylesheet, an anchor, an
external address) and `degree` links to other pages of the site. The graph is a fixed
pseudo-random one (a few pages have no way in, so "every reachable page" is not "every page");
both the server and a workload's `expected` derive it from these functions, so the crawl's
answer is known without crawling.
"""

from __future__ import annotations

import html
from collections import deque
from functools import lru_cache

SITE_PREFIX = "/site/"

_WORDS = ("async", "await", "thread", "socket", "buffer", "kernel", "parser", "crawl", "queue",
          "latency", "throughput", "select", "epoll", "future", "task", "loop", "page", "link")


def _mix(x: int) -> int:
    """A 32-bit integer hash (Chris Wellons' lowbias32): spreads links over the whole site."""
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    x ^= x >> 16
    return x


def site_path(page: int) -> str:
    return f"{SITE_PREFIX}{page}"


def site_links(page: int, pages: int, degree: int) -> list[int]:
    """The pages page `page` links to, in document order (may repeat, may include itself)."""
    return [_mix(page * degree + k + 1) % pages for k in range(degree)]


def site_title(page: int) -> str:
    """The page's title as text (the document escapes it: the parser has to decode `&`)."""
    return f"Page {page} & the {_WORDS[_mix(page) % len(_WORDS)]} notes"


def site_reachable(pages: int, degree: int, root: int = 0) -> list[int]:
    """Every page a crawl from `root` reaches, in breadth-first order (home links lead back to
    page 0, so they add nothing when the root is 0)."""
    seen = {root}
    order = []
    queue = deque([root])
    while queue:
        page = queue.popleft()
        order.append(page)
        for nxt in site_links(page, pages, degree):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return order


def _prose(page: int, size: int) -> str:
    """About `size` bytes of paragraphs with inline markup: what a parser spends its time on."""
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        words = [_WORDS[_mix(page * 7919 + n * 31 + w) % len(_WORDS)] for w in range(12)]
        paragraph = (f'<p class="prose">{" ".join(words[:5])} <em>{words[5]}</em> '
                     f'{" ".join(words[6:9])} <span class="term">{words[9]}</span> '
                     f'{words[10]} &mdash; {words[11]}.</p>\n')
        parts.append(paragraph)
        total += len(paragraph)
        n += 1
    return "".join(parts)


@lru_cache(maxsize=4096)
def site_page(page: int, pages: int, degree: int, size: int) -> bytes:
    """Page `page`'s HTML (cached: the peer must not spend its CPU building documents)."""
    related = "\n".join(f'<li><a href="{site_path(j)}">Page {j}</a></li>'
                        for j in site_links(page, pages, degree))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f"<title>{html.escape(site_title(page))}</title>\n"
        '<link rel="stylesheet" href="/static/site.css"></head>\n'
        f'<body><header><nav><a href="{site_path(0)}">Home</a> '
        '<a href="#main">Skip to content</a></nav></header>\n'
        f'<main id="main"><h1>Page {page}</h1>\n{_prose(page, size)}'
        f'<h2>Related</h2>\n<ul class="related">\n{related}\n</ul></main>\n'
        '<footer><a href="https://example.org/about">About</a> '
        '<a href="mailto:web@example.org">Mail</a></footer></body></html>\n'
    ).encode()
