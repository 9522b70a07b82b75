"""The HTML report: one page, one file, that opens offline — from a CI artifact, an e-mail, a
laptop on a train — in any browser.

A benchmark result is read by people who would rather look than read: the team lead deciding
on a port, the reviewer of a pull request whose check failed. So the page leads with charts
(`harness.render.charts`: matplotlib, as inline SVG), and keeps every number in real HTML
tables beside them, built from the same cells as the terminal's tables (`TableText`,
`harness.render.fmt`) and the same analysis, so the two can never disagree.

Self-contained by construction: CSS inline, no script, no font, no image file, and a
Content-Security-Policy that forbids the page to load anything — should a later change ever
reference a URL, the browser refuses it instead of reaching out. Run files are data from
anywhere: every text taken from one is escaped (`html.escape`) before it enters the page, and
the SVG's text is escaped by matplotlib's writer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

from harness import __version__
from harness.analysis.compare import CompareResult, Delta, Mode, Status
from harness.analysis.counted import InstructionDelta
from harness.analysis.gate import GateResult
from harness.analysis.summary import ScenarioSummary, summarize
from harness.analysis.sweep import SweepResult
from harness.analysis.sweep import analyse as analyse_sweep
from harness.analysis.trend import TrendGroup, trend
from harness.render import charts
from harness.render.compare import (
    COUNT_LEGEND,
    FOOTNOTE,
    LEGEND,
    UNDERPOWERED_MARK,
    benchmark_name,
    delta_headers,
    delta_rows,
    gate_line,
    instruction_text,
    io_text,
    run_line,
    speedup_cells,
    summary_line,
)
from harness.render.fmt import TableText, fmt_seconds, fmt_signed_percent
from harness.render.run import (
    answer_text,
    count_lines,
    metric_name,
    peer_facts,
    scenario_texts,
    scenario_title,
    stall_lines,
    timed_run,
    verdict_line,
)
from harness.render.sweep import LEGEND as CELLS_LEGEND
from harness.render.sweep import (
    MODEL_LEGEND,
    GridText,
    crossover_line,
    grid_texts,
    layout,
    skipped_line,
)
from harness.results.runfile import Outcome, Run

CSS = """
:root { color-scheme: light; --ink: #1d1d1f; --muted: #5f6368; --line: #dadce0;
  --faster: #1a7f37; --slower: #c0392b; --tie: #9a6700; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif;
  color: var(--ink); margin: 0 auto; padding: 24px 28px 48px; max-width: 1180px; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.25em; margin: 36px 0 8px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
p.sub, .note, figcaption { color: var(--muted); }
.note, figcaption { font-size: 0.9em; }
nav { font-size: 0.92em; columns: 2 22em; margin: 8px 0 0; }
nav a { color: inherit; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 0.9em;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0; white-space: nowrap; }
th, td { border-bottom: 1px solid var(--line); padding: 3px 10px; vertical-align: top;
  white-space: nowrap; }
.wide { overflow-x: auto; max-width: 100%; }
.wide td:first-child { white-space: normal; min-width: 16em; }
.wide td:last-child { white-space: normal; min-width: 7em; }
th { background: var(--soft); text-align: left; white-space: nowrap; }
td.n, th.n { text-align: right; white-space: nowrap; }
table.meta th { background: none; color: var(--muted); font-weight: 500; }
table.meta td { white-space: normal; }
tr.best td { font-weight: 700; color: var(--faster); }
tr.m-faster td { color: var(--faster); }
tr.m-slower td, tr.m-failed td, tr.m-lost-work td { color: var(--slower); font-weight: 700; }
tr.m-slower, tr.m-failed, tr.m-lost-work { background: #fdecea; }
tr.m-tie td { color: var(--tie); }
tr.m-cannot-tell td { color: var(--muted); }
td.c-faster { background: #1a9850; color: #fff; } td.c-slower { background: #d73027; color: #fff; }
td.c-tie { background: #fee08b; } td.c-cannot-tell { background: #eeeeee; }
td.c-none { color: var(--muted); }
figure { margin: 10px 0; }
figure svg { max-width: 100%; height: auto; display: block; }
.verdict { font-weight: 600; }
.box { border: 1px solid var(--line); border-left-width: 6px; padding: 8px 14px;
  margin: 14px 0; background: var(--soft); }
.box.pass { border-left-color: var(--faster); } .box.fail { border-left-color: var(--slower); }
.box.warn { border-left-color: #d4a72c; }
.box p { margin: 4px 0; } .box ul { margin: 4px 0; padding-left: 20px; }
.pass .head { color: var(--faster); font-weight: 700; }
.fail .head { color: var(--slower); font-weight: 700; }
.warning { color: var(--slower); font-weight: 600; }
li.busy { list-style: circle; margin-left: 1.4em; }
details { margin: 16px 0; } summary { cursor: pointer; font-weight: 600; }
footer { margin-top: 40px; color: var(--muted); font-size: 0.85em; }
"""

# Nothing may be loaded from anywhere: only inline styles, and images only from the page itself.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
       "form-action 'none'")


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _mark_class(mark: str) -> str:
    if not mark:
        return ""
    return "best" if mark == "best" else "m-" + re.sub(r"[^a-z0-9]+", "-", mark.lower()).strip("-")


def table(text: TableText) -> str:
    """A terminal table as a real HTML table: the same cells, copyable."""
    def cls(i: int) -> str:
        return "" if text.left(i) else ' class="n"'

    head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(text.headers))
    body = []
    for r, cells in enumerate(text.rows):
        mark = _mark_class(text.mark(r))
        row = "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(cells))
        body.append(f'<tr class="{mark}">{row}</tr>' if mark else f"<tr>{row}</tr>")
    caption = f"<caption>{esc(text.title.strip())}</caption>" if text.title.strip() else ""
    note = f'<p class="note">{esc(text.caption)}</p>' if text.caption else ""
    return (f'<div class="wide"><table>{caption}<thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>{note}")


def _figure(svg: str | None, caption: str = "") -> str:
    if svg is None:
        return ""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f"<figure>{svg}{cap}</figure>"


def _page(title: str, body: Iterable[str]) -> str:
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>",
        *body,
        f"<footer>Written by twinbench {esc(__version__)} (<code>bench report</code>). "
        "One self-contained file: it loads nothing from anywhere.</footer>",
        "</body>", "</html>", ""])


def _meta_table(rows: Sequence[tuple[str, str]]) -> str:
    cells = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows if v)
    return f'<table class="meta"><tbody>{cells}</tbody></table>'


def _box(kind: str, head: str, lines: Sequence[str] = ()) -> str:
    items = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return (f'<div class="box {kind}"><p class="head">{esc(head)}</p>'
            + (f"<ul>{items}</ul>" if items else "") + "</div>")


# -- one run ------------------------------------------------------------------------------------

def _commit(meta: dict[str, Any]) -> str:
    git = meta.get("git") or {}
    commit = str(git.get("commit") or "?")[:10]
    return (commit + (f" on {git['branch']}" if git.get("branch") else "")
            + (" (dirty: uncommitted changes)" if git.get("dirty") else ""))


def _machine(meta: dict[str, Any]) -> str:
    m = meta.get("machine") or {}
    memory = m.get("memory_bytes")
    parts = [f"{m['cores']} cores · {m.get('cpu')}" if m.get("cores") else m.get("cpu"),
             f"{memory / 2**30:.1f} GiB RAM" if isinstance(memory, int) else None,
             m.get("os"), m.get("arch")]
    return ", ".join(str(p) for p in parts if p)


def run_header(name: str, run: Run) -> list[str]:
    """What was measured where: the facts a reader needs before believing a number."""
    meta = run.meta
    python = meta.get("python") or {}
    libraries = meta.get("libraries") or {}
    passes = int(meta.get("passes") or 1)
    selection = meta.get("selection") or {}
    chosen = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in selection.items() if v)
    rows = [
        ("run", name), ("created", str(meta.get("created") or "")),
        ("profile", f"{meta.get('profile')}, loop {meta.get('loop')}, {passes} pass"
                    + ("es" if passes != 1 else "")),
        ("selection", chosen or "everything"),
        ("commit", _commit(meta)), ("machine", _machine(meta)),
        ("python", " ".join(str(v) for v in (python.get("implementation"),
                                             python.get("version")) if v)),
        ("twinbench", str(meta.get("harness_version") or "")),
        ("libraries", ", ".join(f"{k} {v}" for k, v in libraries.items() if v)),
    ]
    out = [_meta_table(rows)]
    facts = peer_facts(run)
    if facts:
        items = []
        for line in facts:
            warn = f' <span class="warning">{esc(line.warning)}</span>' if line.warning else ""
            indent = ' class="busy"' if line.indent else ""
            items.append(f"<li{indent}>{esc(line.text)}{warn}</li>")
        out.append("<h3>Peers: their capacity and how busy they were</h3>"
                   f"<ul>{''.join(items)}</ul>")
    if not meta.get("complete", True):
        out.append(_box("warn", "incomplete run: interrupted before every benchmark ran"))
    counted = count_lines(run)
    if counted:
        failed = [line for line in counted if line.startswith("not counted")]
        out.append(_box("fail", f"{len(failed)} twin(s) could not be counted", failed)
                   if failed else "")
        out += [f'<p class="note">{esc(line)}</p>' for line in counted
                if not line.startswith("not counted")]
    problems = _problems(run.outcomes.values())
    if problems:
        out.append(problems)
    noisy = [b for b in run.benchmarks if b.warnings]
    if noisy:  # what `bench show` lists after its tables (harness.run.capture)
        out.append(_box("warn", f"{run.warning_count} warning(s) during {len(noisy)} "
                                "benchmark(s): a reason to doubt those numbers",
                        [f"{b.key}: {w['count']} x {w['kind']} {w['message']}"
                         for b in noisy for w in b.warnings]))
    return out


def _problems(outcomes: Iterable[Outcome]) -> str:
    bad = [o for o in outcomes if o.outcome != "passed"]
    if not bad:
        return ""
    kind = "fail" if any(o.failed for o in bad) else "warn"
    return _box(kind, f"{len(bad)} benchmark(s) did not pass",
                [f"{o.outcome} {o.case_id}: {o.detail}".rstrip(": ") for o in bad])


def run_page(name: str, run: Run) -> str:
    """One run: its header, the answer, and per scenario a chart, its tables and verdict; a
    sweep: its map (heatmap, speedup lines, crossovers) with every point's tables folded."""
    swept = analyse_sweep(run)
    body = [f"<h1>twinbench report: {esc(name)}</h1>",
            '<p class="sub">What moving this I/O code from sync to async Python buys: every '
            "workload's sync and async twins did the same work against the same local peers."
            "</p>", *run_header(name, run)]
    if swept is not None:
        body += _sweep_sections(swept)
        model = analyse_sweep(run, model=True)
        if model is not None:
            body += _sweep_sections(model)
        body.append(f"<details><summary>every point's tables ({len(summarize(run))} points)"
                    "</summary>")
        body += _scenario_sections(run, charts_too=False)
        body.append("</details>")
    else:
        answer = answer_text(run) if timed_run(run) else None
        summaries = summarize(run)
        links = "".join(f'<a href="#scenario-{i}">{esc(f"{s.workload} · {s.scenario}")}</a><br>'
                        for i, s in enumerate(summaries))
        body.append(f"<nav>{links}</nav>")
        if answer is not None:
            body += ["<h2>The answer</h2>", table(answer)]
        body += _scenario_sections(run, charts_too=True)
    return _page(f"twinbench report: {name}", body)


def _scenario_sections(run: Run, charts_too: bool) -> list[str]:
    workloads = run.meta.get("workloads", {})
    out = []
    for i, summary in enumerate(summarize(run)):
        title = scenario_title(summary)
        out.append(f'<section id="scenario-{i}"><h2>{esc(title)}</h2>'
                   if charts_too else f'<section><h3>{esc(title)}</h3>')
        timed = timed_run(run)
        if charts_too and summary.rows and timed:
            out.append(_figure(charts.scenario_chart(summary, title),
                               _scenario_caption(summary)))
        if timed:
            out.append(f'<p class="verdict">→ {esc(verdict_line(summary))}</p>')
            out += [f'<p class="note">{esc(line)}</p>' for line in summary.unpaired]
        out += [f'<p class="warning">{esc(line)}</p>' for line in stall_lines(summary)]
        metrics = workloads.get(summary.workload, {}).get("metrics", [])
        out += [table(t) for t in scenario_texts(summary, metrics, timed)]
        out.append("</section>")
    return out


def _scenario_caption(summary: ScenarioSummary) -> str:
    if summary.judged_by is None:
        text = "Dots: each twin's median time per round; whiskers: its IQR over the rounds"
    else:
        per_round = any(r.record.per_round(f"{summary.judged_by}_per_round")
                        for r in summary.rows)
        text = (f"Dots: each twin's {metric_name(summary.judged_by)}, what this scenario is "
                "judged by" + ("; whiskers: the IQR of each round's own" if per_round else
                               " (one value per run in this file)"))
    text += "; colour: its kind. Bold names: the best sync and the best async twin."
    if summary.judged_by is None and any(r.record.ideal_s for r in summary.rows):
        text += " Dashed: the ideal time ⌈N/C⌉·L, the physics limit at this latency."
    if any(r.record.cpu_per_op is not None for r in summary.rows):
        text += (" Right: CPU per operation of the twin's own process, median and IQR over "
                 "the timed rounds.")
    return text


def _grid_table(grid: GridText) -> str:
    head = f"<th>{esc(grid.corner)}</th>" + "".join(f'<th class="n">{esc(c)}</th>'
                                                     for c in grid.columns)
    rows = []
    for name, cells in grid.rows:
        tds = "".join(f'<td class="n c-{_call_class(call)}">{esc(text)}</td>'
                      for text, call in cells)
        rows.append(f"<tr><th>{esc(name)}</th>{tds}</tr>")
    return (f'<div class="wide"><table><caption>{esc(grid.title)}</caption><thead><tr>{head}'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _call_class(call: object) -> str:
    return "none" if call is None else re.sub(r"[^a-z]+", "-", str(call))


def _sweep_sections(result: SweepResult) -> list[str]:
    rows_axis, grids_fixed = layout(result)
    out = [f"<h2>Where async starts to pay: {esc(result.workload)} · {esc(result.scenario)}"
           + (", the async model alone" if result.model else "") + "</h2>"]
    for fixed, grid in zip(grids_fixed, grid_texts(result), strict=True):
        what = ("the fastest same-library async twin's speedup over its own library's best "
                "sync twin" if result.model else
                "the best async twin's speedup over the best sync twin")
        out.append(_figure(charts.sweep_heatmap(result, fixed, rows_axis),
                           f"Each cell: {what} at that grid point, coloured by verdict. The "
                           "black line: the crossover, where the verdict turns."))
        out.append(_grid_table(grid))
        out.append(f'<p class="note">{esc(MODEL_LEGEND if result.model else CELLS_LEGEND)}</p>')
        if result.model:
            continue  # its lines would repeat the heatmap: the headline's suffice
        out.append(_figure(charts.sweep_lines(result, fixed, rows_axis),
                           f"The speedup against {result.primary}, one line per "
                           f"{rows_axis or 'sweep'}; the band is its 95% interval; at y = 1 "
                           "async is as fast as the best sync twin."))
    skipped = skipped_line(result)
    if skipped:
        out.append(f'<p class="note">{esc(skipped)}</p>')
    lines = "".join(f"<li>{esc(crossover_line(c))}</li>" for c in result.crossovers)
    out.append(f"<h3>Crossover along {esc(result.primary)}</h3><ul>{lines}</ul>")
    return out


# -- two runs, and the gate ---------------------------------------------------------------------

def _delta_table(title: str, deltas: tuple[Delta, ...], ratio: bool, base: str,
                 current: str) -> str:
    rows = delta_rows(deltas, ratio)
    unit = " ratio" if ratio else " median"
    headers = delta_headers(ratio, base + unit, current + unit)
    text = TableText(title, headers, [cells for _, cells in rows], [d.verdict for d, _ in rows],
                     align="".join("l" if h in ("benchmark", "vs", "verdict") else "r"
                                   for h in headers))
    return table(text)


def compare_page(r: CompareResult, gate: GateResult | None = None) -> str:
    """Base against current: the forest plot of every change with its 95% interval and the
    threshold, regressions highlighted; the tables `bench compare` prints; the gate's verdict
    when it comes from `bench check`."""
    title = (f"twinbench check: {'passed' if gate.passed else 'failed'}" if gate is not None
             else "twinbench compare")
    body = [f"<h1>{esc(title)}</h1>",
            f'<p class="sub">{esc(r.current_name)} against {esc(r.base_name)}</p>',
            _meta_table([("base", run_line(r.base_name, r.base)),
                         ("current", run_line(r.current_name, r.current))])]
    if gate is not None:
        body.append(_box("pass" if gate.passed else "fail",
                         gate_line(gate) if gate.passed else
                         f"FAIL: {len(gate.reasons)} problem(s)", gate.reasons))
    if r.warnings:
        body.append(_box("warn", "warnings", r.warnings))
    if r.notes:
        body += [f'<p class="note">note: {esc(n)}</p>' for n in r.notes]
    ratio = r.mode is Mode.RATIO
    gated_title = ("time of each twin ÷ time of its scenario's sync twin in the same run"
                   if ratio else "each benchmark, current against base")
    body.append("<h2>What changed</h2>")
    if r.timed:
        body.append(_figure(
            charts.forest_chart(r.gated, gated_title + (" (gated)" if gate else ""),
                                _forest_name),
            "Each benchmark's change with its 95% interval (log scale). A verdict of slower or "
            "faster needs the change beyond the dashed threshold, p < "
            f"{r.alpha} and the interval clear of no change. Red: regressions. Hollow: "
            f"{FOOTNOTE}."))
    if r.counted.compared:
        body.append(_figure(
            charts.forest_chart(r.counted.instructions, "instructions per operation"
                                + (" (gated)" if gate else ""), _forest_name,
                                words=("costlier", "cheaper")),
            "Each counted benchmark's change of instructions per operation with its 95% "
            "interval (round i against round i). Red: costlier beyond the threshold."))
    if not r.timed:
        pass  # only counted: no times to tabulate
    elif ratio:
        body.append(_delta_table("time of each twin ÷ time of its scenario's sync twin in the "
                                 "same run (gated)", r.ratios, True, "base", "current"))
        body.append(_delta_table("absolute times (different machines: for information only)"
                                 if not r.same_machine else "absolute times", r.absolute,
                                 False, "base", "current"))
    else:
        body.append(_delta_table("per benchmark (gated)" if gate else "per benchmark",
                                 r.absolute, False, "base", "current"))
    if r.timed:
        if any(d.underpowered for d in r.gated):
            body.append(f'<p class="note">{esc(UNDERPOWERED_MARK)} {esc(FOOTNOTE)}</p>')
        body.append(f'<p class="note">{esc(LEGEND)}</p>')
        body.append(table(TableText("async over best sync, per run",
                                    ["scenario", "base", "current", "moved"],
                                    [speedup_cells(s) for s in r.speedups], align="l")))
    counted = [t for t in (instruction_text(r.counted, gate is not None),
                           io_text(r.counted, gate is not None)) if t is not None]
    if counted:
        body.append("<h2>What was counted</h2>")
        body += [table(t) for t in counted]
        body.append(f'<p class="note">{esc(COUNT_LEGEND)}</p>')
    body.append(f"<p><strong>{esc(summary_line(r))}</strong></p>")
    failed = [d for d in r.absolute if d.status is Status.FAILED]
    if failed:
        body.append(_box("fail", "twins that failed in the current run",
                         [f"{d.key}: {d.detail}" for d in failed]))
    return _page(title, body)


def _forest_name(d: Delta | InstructionDelta) -> str:
    return benchmark_name(d) + (f" {UNDERPOWERED_MARK}" if d.underpowered else "")


# -- many runs ----------------------------------------------------------------------------------

def _runs_table(runs: Sequence[tuple[str, Run]]) -> str:
    rows = []
    for i, (name, run) in enumerate(runs, 1):
        m = run.meta
        rows.append([str(i), name, str(m.get("created") or "—"), _commit(m),
                     f"{m.get('profile')}, {int(m.get('passes') or 1)} pass(es)",
                     _machine(m)])
    return table(TableText("the runs, in the order given",
                           ["#", "run", "created", "commit", "profile", "machine"], rows,
                           align="llllll"))


def _trend_text(group: TrendGroup, names: Sequence[str]) -> TableText:
    rows = []
    for s in group.series:
        rows.append([s.twin, s.kind,
                     *(fmt_seconds(p.value) if p is not None else "—" for p in s.points),
                     fmt_signed_percent(s.change)])
    return TableText(f"{group.workload} · {group.scenario}: median per run",
                     ["twin", "kind", *names, "first → last"], rows, align="ll")


def trend_page(runs: Sequence[tuple[str, Run]]) -> str:
    """Each benchmark's median over the runs, in the order given: a trend across versions.
    No verdicts: two runs at a time, `bench compare` says what is significant."""
    names = [name for name, _ in runs]
    groups = trend([run for _, run in runs])
    body = [f"<h1>twinbench trend: {len(runs)} runs</h1>",
            '<p class="sub">Each benchmark\'s median in every run, in the order given. '
            "For what is significant between two of them: <code>bench compare</code> or a "
            "report of those two runs.</p>", _runs_table(runs)]
    for group in groups:
        title = f"{group.workload} · {group.scenario}"
        body.append(f"<section><h2>{esc(title)}</h2>")
        body.append(_figure(charts.trend_chart(group, names, title),
                            "Each twin's median in each run (whiskers: its IQR), coloured by "
                            "kind; a gap: the twin is not in that run."))
        if group.params_differ:
            body.append(_box("warn", "the scenario's parameters differ between these runs: "
                                     "its medians are not like for like"))
        body.append(table(_trend_text(group, names)))
        body.append("</section>")
    return _page(f"twinbench trend: {', '.join(names)}", body)
