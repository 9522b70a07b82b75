"""The scrape workload's site: a fixed graph, pages that say what the graph says, and an
`expected` that is the breadth-first walk of it."""

from __future__ import annotations

from collections import deque

from harness.model.site import site_links, site_page, site_path, site_reachable, site_title
from workloads.scrape import parse_page


def test_the_graph_is_fixed_with_the_declared_out_degree() -> None:
    for page in range(300):
        links = site_links(page, 300, 5)
        assert len(links) == 5 and all(0 <= j < 300 for j in links)
        assert links == site_links(page, 300, 5)
    # not a chain or a star: links spread over the site
    targets = {j for page in range(300) for j in site_links(page, 300, 5)}
    assert len(targets) > 250


def test_reachable_is_a_breadth_first_walk_that_misses_pages_with_no_way_in() -> None:
    pages, degree = 500, 5
    order = site_reachable(pages, degree)
    assert order[0] == 0 and len(order) == len(set(order))
    linked = {j for page in order for j in site_links(page, pages, degree)}
    assert linked <= set(order)  # closed: nothing reachable is missing
    assert len(order) < pages  # a few pages nobody links to (out of reach, not crawled)
    # breadth-first: distances from the root never decrease along the order
    depth = {0: 0}
    queue = deque([0])
    while queue:
        page = queue.popleft()
        for j in site_links(page, pages, degree):
            if j not in depth:
                depth[j] = depth[page] + 1
                queue.append(j)
    assert [depth[p] for p in order] == sorted(depth[p] for p in order)


def test_a_page_parses_to_its_title_and_exactly_its_site_links() -> None:
    html = site_page(7, 50, 5, 1024).decode()
    assert "&amp;" in html and len(html) > 1024
    (path, title), links = parse_page("http://127.0.0.1:8000/site/7", html)
    assert path == site_path(7) and title == site_title(7) and "&" in title
    # the home link, the skip link (an anchor on this very page), then the related links; no
    # stylesheet, mailto or other host
    related = [site_path(j) for j in site_links(7, 50, 5)]
    assert links == [site_path(0), site_path(7), *related]


def test_the_parser_resolves_relative_links_and_drops_other_hosts() -> None:
    html = ('<title> T </title><a href="3">rel</a><a href="/site/4?x=1#f">q</a>'
            '<a href="http://other:1/site/5">other host</a><a href="/static/x">no</a>'
            '<a href="http://h:2/site/6">same host</a><a>none</a>')
    assert parse_page("http://h:2/site/1", html) == (("/site/1", "T"),
                                                     ["/site/3", "/site/4", "/site/6"])
