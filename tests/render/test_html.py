"""The HTML report as a document: every chart an inline SVG, nothing that points off the page,
the terminal's numbers in real tables, text from run files escaped, matplotlib never loaded
before it is needed. (tests/cli/test_report_browser.py opens the pages in a real browser.)"""

from __future__ import annotations

import io
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from harness.analysis.compare import compare_runs
from harness.analysis.gate import decide
from harness.analysis.summary import summarize
from harness.config import Thresholds
from harness.errors import BadInput
from harness.render.html import compare_page, run_page, trend_page
from harness.render.run import answer_text, scenario_texts, summary_table
from harness.results.files import load_run
from harness.results.runfile import parse_run
from tests.helpers.runfiles import benches, make_run, passes_doc, run_doc, sweep_run

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "results" / "baseline.json"
URL_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "formaction", "poster",
                  "data", "background", "ping", "manifest", "codebase", "cite"}
LOADING_TAGS = {"script", "img", "link", "iframe", "object", "embed", "video", "audio",
                "source", "track", "image", "use", "base", "frame", "applet", "picture"}


class Page(HTMLParser):
    """The parts of a page the tests look at: tags with their attributes, where each SVG
    sits, and the tables as text."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.svg_parents: list[str] = []
        self.tables: list[dict[str, Any]] = []
        self._cell: list[str] | None = None
        self._caption: list[str] | None = None
        self.styles: list[str] = []
        self._in_style = False
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag == "svg":
            self.svg_parents.append(self.stack[-1] if self.stack else "")
        if tag == "table":
            self.tables.append({"caption": "", "rows": []})
        elif tag == "tr" and self.tables:
            self.tables[-1]["rows"].append([])
        elif tag in ("td", "th"):
            self._cell = []
        elif tag == "caption":
            self._caption = []
        elif tag == "style":
            self._in_style = True
        if tag not in ("meta", "br", "path", "use", "rect", "stop", "line", "circle"):
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables:
            self.tables[-1]["rows"][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "caption" and self._caption is not None:
            self.tables[-1]["caption"] = "".join(self._caption).strip()
            self._caption = None
        elif tag == "style":
            self._in_style = False
        while self.stack and self.stack.pop() != tag:
            pass

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)
        if self._caption is not None:
            self._caption.append(data)
        if self._in_style:
            self.styles.append(data)

    def table(self, caption: str) -> list[list[str]]:
        return next(t["rows"] for t in self.tables if t["caption"] == caption.strip())


def baseline_run() -> Any:
    return load_run(BASELINE)


def sweep() -> Any:
    return sweep_run({4: {0: 0.5, 1: 0.7, 2: 2.0, 5: 3.0, 10: 4.0},
                      16: {0: 2.0, 1: 2.5, 2: 3.0, 5: 4.0, 10: 5.0}})


def gate_page() -> str:
    base = parse_run(passes_doc([{}, {"aiohttp": 1.02}, {"aiohttp": 0.99}]))
    current = parse_run(passes_doc([{"aiohttp": 1.4}, {"aiohttp": 1.42}, {"aiohttp": 1.39}],
                                   seed=50))
    result = compare_runs(base, current, thresholds=Thresholds(), base_name="v1",
                          current_name="measured now")
    return compare_page(result, decide(result, Thresholds()))


def trend_runs() -> list[tuple[str, Any]]:
    return [(f"v1.{i}", make_run(benches({"aiohttp": scale}, seed=10 * i)))
            for i, scale in enumerate((1.0, 1.1, 1.25))]


PAGES = {
    "a sweep": lambda: run_page("sweep", sweep()),
    "a bench check": gate_page,
    "a trend": lambda: trend_page(trend_runs()),
}
BASELINE_PAGE = "a run (results/baseline.json)"


@pytest.fixture(scope="module")
def pages(baseline_report: Path) -> dict[str, str]:
    """The baseline's page is `bench report`'s (tests/conftest.py), the others built here."""
    return {BASELINE_PAGE: baseline_report.read_text(),
            **{name: build() for name, build in PAGES.items()}}


@pytest.mark.parametrize("name", [BASELINE_PAGE, *PAGES])
def test_every_chart_is_an_inline_svg_and_nothing_points_off_the_page(
        pages: dict[str, str], name: str) -> None:
    text = pages[name]
    page = Page(text)
    figures = [attrs for tag, attrs in page.tags if tag == "figure"]
    svgs = [attrs for tag, attrs in page.tags if tag == "svg"]
    assert figures and len(svgs) == len(figures)
    assert set(page.svg_parents) == {"figure"}, "every chart sits in its figure"
    assert all(a.get("role") == "img" and a.get("aria-label") for a in svgs)
    bad = []
    for tag, attrs in page.tags:
        if tag in LOADING_TAGS - {"use"}:
            bad.append(f"<{tag}>")
        for key, value in attrs.items():
            if key in URL_ATTRIBUTES and value and not value.startswith("#"):
                bad.append(f"<{tag} {key}={value!r}>")
            if key == "style" and value and re.search(r"url\((?!#)", value):
                bad.append(f"<{tag} style={value!r}>")
    assert not bad, bad
    css = "".join(page.styles)
    assert "@import" not in css and not re.search(r"url\((?!#)", css)
    assert "<?xml" not in text and "<!DOCTYPE svg" not in text and "<metadata" not in text
    meta = [a for tag, a in page.tags if tag == "meta" and a.get("http-equiv")]
    assert meta and (meta[0]["content"] or "").startswith("default-src 'none'")


def test_one_chart_per_scenario_and_the_terminal_numbers_in_its_tables(
        pages: dict[str, str]) -> None:
    run = baseline_run()
    page = Page(pages[BASELINE_PAGE])
    summaries = summarize(run)
    assert sum(tag == "figure" for tag, _ in page.tags) == len(summaries)
    answer = answer_text(run)
    assert answer is not None
    assert page.table(answer.title) == [answer.headers, *answer.rows]
    # ...and the terminal prints those very cells.
    out = io.StringIO()
    Console(file=out, width=200).print(summary_table(run))
    terminal = out.getvalue().splitlines()
    for cells in answer.rows:
        assert any(all(c in line for c in cells) for line in terminal), cells
    workloads = run.meta["workloads"]
    for summary in summaries:
        for text in scenario_texts(summary, workloads[summary.workload].get("metrics", [])):
            assert page.table(text.title) == [text.headers, *text.rows]


def test_the_header_names_the_machine_commit_profile_libraries_and_peers(
        pages: dict[str, str]) -> None:
    text = pages[BASELINE_PAGE]
    for fact in ("2 cores · AMD EPYC", "b31efa3569 on main (dirty", "default, loop asyncio, "
                 "3 passes", "aiohttp 3.14.5", "HTTP peer capacity at L=0: 11,576 req/s",
                 "postgres peer was at most 116% busy"):
        assert fact in text, fact
    assert "near saturation: the peer may have set the pace" in text


def test_a_sweep_has_its_heatmap_lines_grid_and_crossovers(pages: dict[str, str]) -> None:
    text = pages["a sweep"]
    page = Page(text)
    labels = [a["aria-label"] for tag, a in page.tags if tag == "svg"]
    assert labels == ["wl · base: best async twin over best sync twin: speedup per grid point",
                      "wl · base: best async twin over best sync twin: speedup against "
                      "latency_ms"]
    grid = page.table("wl · base: best async twin over best sync twin")
    assert grid[0] == ["concurrency", "L=0 ms", "L=1 ms", "L=2 ms", "L=5 ms", "L=10 ms"]
    assert [row[0] for row in grid[1:]] == ["C=4", "C=16"]
    cells = re.findall(r'<td class="n c-([a-z-]+)">([^<]*)</td>', text)
    assert [c for c, _ in cells[:5]] == ["slower", "slower", "faster", "faster", "faster"]
    assert "C=4: async starts to pay between L=1 ms and 2 ms" in text
    assert "C=16: async wins everywhere swept (L=0 ms to 10 ms)" in text
    assert "crossover: where async starts (or stops) paying" in text  # drawn on the heatmap
    assert "y = 1: async as fast as the best sync twin" in text
    assert "1 point(s) skipped" in text
    assert "every point's tables (10 points)" in text


def test_a_sweep_of_one_library_in_both_models_draws_the_model_alone_too() -> None:
    doc = sweep().doc
    for bench in doc["benchmarks"]:
        bench["extra_info"]["library"] = "lib"
    page = Page(run_page("sweep", parse_run(doc)))
    labels = [a["aria-label"] for tag, a in page.tags if tag == "svg"]
    model = "wl · base: the async model alone (a library's async twin over its own sync twin)"
    assert labels[-1] == f"{model}: speedup per grid point"  # its heatmap, not its lines
    assert len(labels) == 3
    assert page.table(model)[0] == ["concurrency", "L=0 ms", "L=1 ms", "L=2 ms", "L=5 ms",
                                    "L=10 ms"]


def test_the_gate_report_highlights_the_regression_and_draws_the_threshold(
        pages: dict[str, str]) -> None:
    text = pages["a bench check"]
    page = Page(text)
    assert "<h1>twinbench check: failed</h1>" in text
    rows = page.table("per benchmark (gated)")
    (slow,) = [r for r in rows if r[0] == "wl · s1 · aiohttp"]
    assert slow[-1] == "slower" and slow[4].startswith("+")
    assert re.search(r'<tr class="m-slower"><td>wl · s1 · aiohttp</td>', text)
    assert "threshold: 10% slower (or faster)" in text
    # The regressed benchmark's label in the forest plot is drawn in the regression colour.
    assert re.search(r'<text style="[^"]*fill: #c0392b[^"]*"[^>]*>wl · s1 · aiohttp</text>',
                     text)
    assert "FAIL: 1 problem(s)" in text and "wl:s1:aiohttp is +" in text


def test_two_runs_without_a_gate_are_a_comparison() -> None:
    base, current = make_run(benches()), make_run(benches({"aiohttp": 1.3}, seed=40))
    text = compare_page(compare_runs(base, current, base_name="v1", current_name="v2"))
    assert "<h1>twinbench compare</h1>" in text and "per benchmark" in text
    assert "async over best sync, per run" in text


def test_a_trend_follows_each_benchmark_in_the_order_given(pages: dict[str, str]) -> None:
    page = Page(pages["a trend"])
    rows = page.table("wl · s1: median per run")
    assert rows[0] == ["twin", "kind", "v1.0", "v1.1", "v1.2", "first → last"]
    aiohttp = next(r for r in rows if r[0] == "aiohttp")
    assert aiohttp[-1].startswith("+2")  # 25% slower, give or take the noise
    backwards = Page(trend_page(trend_runs()[::-1])).table("wl · s1: median per run")
    assert backwards[0][2:5] == ["v1.2", "v1.1", "v1.0"]
    assert next(r for r in backwards if r[0] == "aiohttp")[-1].startswith("-")


def test_runs_without_a_benchmark_in_common_have_no_trend() -> None:
    def alone(workload: str) -> Any:
        return make_run([(workload, "s", "t", "sync", [0.1, 0.1, 0.1])])

    with pytest.raises(BadInput, match="share no benchmark"):
        trend_page([("a", alone("a")), ("b", alone("b")), ("c", alone("c"))])


HOSTILE = '<script>alert(1)</script>"\'><img src=x onerror=alert(1)> $\\alpha$ &amp;'


def hostile_run(seed: int = 0) -> Any:
    doc = run_doc([(HOSTILE, HOSTILE, HOSTILE, "sync", [0.2, 0.21, 0.19, 0.2]),
                   (HOSTILE, HOSTILE, "aio" + HOSTILE, "async", [0.1, 0.11, 0.09, 0.1])],
                  libraries={HOSTILE: HOSTILE})
    doc["twinbench"]["machine"] = {**doc["twinbench"]["machine"], "cpu": HOSTILE}
    doc["twinbench"]["git"]["branch"] = HOSTILE
    doc["twinbench"]["peers"] = {HOSTILE: {"summary": HOSTILE}}
    doc["twinbench"]["outcomes"] = {HOSTILE: {"outcome": "failed", "detail": HOSTILE}}
    return parse_run(doc)


def test_text_from_a_run_file_is_escaped_everywhere() -> None:
    """Run files are data from anywhere: no name in one can add markup to the page, in a
    table, a heading or a chart's label (nor become mathtext: `$` stays a dollar)."""
    base, current = hostile_run(), hostile_run(1)
    for text in (run_page(HOSTILE, base), compare_page(compare_runs(base, current)),
                 trend_page([(HOSTILE, base), ("b", current), ("c", base)])):
        assert "<script" not in text.lower() and "<img" not in text.lower()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        page = Page(text)
        assert not [t for t, _ in page.tags if t in ("script", "img")]
        assert not [a for _, attrs in page.tags for a in attrs if a.startswith("on")]
    chart = run_page("x", base)
    assert "$\\alpha$" in chart  # drawn as typed: mathtext is off


def test_the_same_run_renders_to_the_same_bytes() -> None:
    """Chart element ids are salted by the chart, not at random: a report can be diffed, and
    two charts of one page never share an id with different content."""
    run = make_run(benches())
    assert run_page("r", run) == run_page("r", run)


def test_importing_the_commands_loads_no_matplotlib() -> None:
    """`bench run` imports the report code (for --html) before it measures: matplotlib and
    numpy must wait until a report is drawn."""
    code = ("import sys, harness.cli, harness.render.html, harness.render.charts; "
            "print(sorted(m for m in ('matplotlib', 'numpy', 'scipy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_warnings_a_benchmark_emitted_are_on_its_page() -> None:
    """What `bench show` lists after its tables (a leaked socket, urllib3's "pool is full")
    is a reason to doubt a number: the page says it too, escaped like any text of the file."""
    doc = run_doc([("wl", "s", "leaks", "sync", [0.2, 0.21, 0.19]),
                   ("wl", "s", "aio", "async", [0.1, 0.11, 0.09])])
    doc["benchmarks"][0]["extra_info"]["warnings"] = [
        {"kind": "warning", "message": "ResourceWarning: unclosed <socket.socket>", "count": 8}]
    page = run_page("r", parse_run(doc))
    assert "8 warning(s) during 1 benchmark(s)" in page
    assert "8 x warning ResourceWarning: unclosed &lt;socket.socket&gt;" in page
    assert "warning(s) during" not in run_page("r", parse_run(run_doc(
        [("wl", "s", "tidy", "sync", [0.2, 0.21, 0.19])])))


def test_a_counted_check_has_its_channels_tables_and_forest() -> None:
    from tests.analysis.test_counted import PATTERN, counted, scaled

    doc = run_doc(benches())
    base = parse_run(counted(doc, "aiohttp", list(PATTERN), io={"requests": 1.0}))
    current = parse_run(counted(doc, "aiohttp", scaled(PATTERN, 1.05, 0.0002),
                                io={"requests": 2.0}))
    result = compare_runs(base, current, base_name="v1", current_name="v2")
    text = compare_page(result, decide(result, Thresholds()))
    page = Page(text)
    rows = page.table("instructions per operation (gated)")
    (row,) = [r for r in rows if r[0] == "wl · s1 · aiohttp"]
    assert row[-1] == "costlier" and row[3].startswith("+5.0")
    _header, io = page.table("I/O per operation (gated)")
    assert io[:4] == ["wl:s1:aiohttp", "requests", "1", "2"] and io[-1] == "behaviour change"
    assert text.count("<svg") == 2  # the times' forest and the instructions'
