"""Renders a comparison (and, for `bench check`, the gate's decision) as a rich table,
GitHub-flavoured markdown (for the job summary) or JSON.

JSON keys are stable (bump JSON_VERSION on any change a reader must know about):

    format "twinbench-compare", version, mode ("absolute" | "ratio": which view the verdicts
    gate on), same_machine, machine_differences [str], alpha, confidence,
    base / current: {name, profile, loop, created, commit, branch, dirty, python, machine,
                     complete}
    benchmarks: [{key, workload, scenario, twin, kind, label, status, verdict, threshold,
                  base_median_s, current_median_s, change, ci_low, ci_high, p_value,
                  method, passes [base, current], detectable, n_base, n_current,
                  underpowered, detail}]
    ratios: same keys but base_ratio / current_ratio instead of *_median_s, plus reference
    speedups: [{workload, scenario, base, current, change, base_best_async, base_best_sync,
                current_best_async, current_best_sync, params_differ}]
    regressions [key] (in the gated view), failures [str], warnings [str], notes [str],
    gate (only from `bench check`): {passed, exit_code, max_regression, reasons [str]}

`change`, `ci_low`, `ci_high` are fractions of the base (0.12 = 12% slower; for ratios, 12%
more time relative to the reference twin). `method` "passes": a side has several passes, and
`p_value` is the t-test on pass medians, the CI its t interval, `detectable` the smallest
slowdown that noise lets the test call significant; `method` "rounds": one pass each side,
`p_value` is Mann-Whitney on the raw rounds (for ratios, the larger of that and the bootstrap
p), the CI a bootstrap over the rounds, `detectable` null (see harness/stats.py).
`underpowered`: the comparison cannot see a change as small as its threshold. Version 2 added
method, passes and detectable; version 3 `paired` (the runs are the two sides of one
interleaved A/B session) and per benchmark `pairs` (method "pairs": the Wilcoxon
signed-rank test on the log ratios of neighbouring rounds, the CI the Hodges-Lehmann interval,
`detectable` half the width of its 1 - alpha interval, null when too few pairs can ever be
significant; version 4: these, where version 3 had a t-test and t interval). Version 5 adds the
counted channels: `timed` (false when a run only counted: its times are valgrind's and not
compared), `instructions` [{key, workload, scenario, twin, status (compared | no baseline |
not counted | params differ | error), verdict (costlier | cheaper | unchanged, else the
status), threshold, base_per_op, current_per_op, change, ci_low, ci_high, p_value, pairs,
detectable, underpowered, detail}] (method: a t-test on the log ratios of round i of one run
to round i of the other), `io` [{key, counter, base_per_op, current_per_op,
tolerance_per_op, source (timed | counted rounds), gated, changed, accepted, verdict}], and in
`gate` the `caught` list [{channel (time | instructions | I/O | failed), reason}]. `status` is one
of compared, added, removed, failed, params differ, reference, no reference, error; `verdict`
is faster | slower | unchanged when compared, else the status. Absent numbers are null.
"""

from __future__ import annotations

import json
import math
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.analysis.compare import VERDICT_ORDER, CompareResult, Delta, Mode, SpeedupDelta, Status
from harness.analysis.counted import IO_NAMES, CountedComparison, InstructionDelta, IoDelta
from harness.analysis.gate import GateResult
from harness.render.fmt import TableText, fmt_count, fmt_seconds, fmt_signed_percent, plain
from harness.render.run import rich_table
from harness.results.runfile import Run

JSON_VERSION = 5
FORMATS = ("table", "markdown", "json")
UNDERPOWERED_MARK = "†"
FOOTNOTE = ("cannot see a change as small as its threshold: too few rounds, or too much noise "
            "between passes")
LEGEND = ("passes: base/current, or the pairs of neighbouring rounds of an interleaved A/B "
          "check. detects: the smallest slowdown the noise (between passes, or between the "
          "rounds of a pair) lets the test call significant (— with one pass each side: that "
          "noise is unmeasured).")


# -- shared text --------------------------------------------------------------------------------

_pct = fmt_signed_percent


def _ci(d: Delta) -> str:
    c = d.comparison
    return "—" if c is None else f"{_pct(c.ci_low - 1)} … {_pct(c.ci_high - 1)}"


def _p(d: Delta) -> str:
    return "—" if d.comparison is None else f"{d.comparison.p_value:.2g}"


def _passes(d: Delta) -> str:
    c = d.comparison
    if c is None:
        return "—"
    return f"{c.pairs} pairs" if c.method == "pairs" else f"{c.passes[0]}/{c.passes[1]}"


def _detects(d: Delta) -> str:
    c = d.comparison
    if c is None or c.detectable is None:
        return "—"
    return f"≥{c.detectable:.0%}" if math.isfinite(c.detectable) else "never"


def _verdict(d: Delta) -> str:
    text = d.verdict
    if d.status is Status.COMPARED and d.underpowered:
        text += UNDERPOWERED_MARK
    if d.detail and d.status is not Status.COMPARED:
        text += f" ({d.detail})"
    return text


def _value(d: Delta, ratio: bool) -> tuple[str, str]:
    def one(v: float | None) -> str:
        if v is None:
            return "—"
        return f"{v:.3f}x" if ratio else fmt_seconds(v)

    return one(d.base_value), one(d.current_value)


def run_line(name: str, run: Run) -> str:
    m = run.meta
    git = m.get("git") or {}
    machine = m.get("machine") or {}
    commit = str(git.get("commit") or "?")[:10] + (" (dirty)" if git.get("dirty") else "")
    return (f"{name}: profile {m.get('profile')}, loop {m.get('loop')}, commit {commit}, "
            f"{m.get('created', '?')}, {machine.get('cores')} cores · {machine.get('cpu')}")


def summary_line(r: CompareResult) -> str:
    parts = []
    if r.timed:
        counts: dict[str, int] = {}
        for d in r.gated:
            counts[d.verdict] = counts.get(d.verdict, 0) + 1
        words = [f"{counts[k]} {k}" for k in VERDICT_ORDER if counts.get(k)]
        view = "in-run ratios" if r.mode is Mode.RATIO else "absolute times"
        weak = sum(d.underpowered for d in r.compared)
        caveat = f" ({weak} unable to see a change at their threshold)" if weak else ""
        parts.append(f"{len(r.compared)} compared on {view}{caveat}: " + ", ".join(words))
    counted = r.counted
    if counted.instructions:
        tally: dict[str, int] = {}
        for i in counted.instructions:
            tally[i.verdict] = tally.get(i.verdict, 0) + 1
        weak = sum(i.underpowered for i in counted.compared)
        caveat = f" ({weak} unable to see a change at their threshold)" if weak else ""
        parts.append(f"{len(counted.compared)} compared on instructions{caveat}: "
                     + ", ".join(f"{n} {k}" for k, n in tally.items()))
    if counted.io:
        changed = {d.key for d in counted.io_changes if d.gated}
        parts.append(f"I/O of {len({d.key for d in counted.io})} benchmark(s): "
                     + (f"{len(changed)} changed" if changed else "all the same"))
    return "; ".join(parts) if parts else "nothing compared"


def gate_line(gate: GateResult) -> str:
    if gate.passed:
        r = gate.comparison
        compared = r.compared if r.timed else []
        weak = sum(d.underpowered for d in compared)
        weak_counts = sum(d.underpowered for d in r.counted.compared)
        channels = []
        if r.timed:
            channels.append(f"significantly slower than its threshold (default "
                            f"{gate.thresholds.default:.0%})")
        if r.counted.compared:
            channels.append("significantly costlier in instructions than its threshold")
        if r.counted.io:
            channels.append("changed its requests, connections or statements per operation")
        caveats = []
        if weak:
            caveats.append(f"{weak} of {len(compared)} could not see a change that small in "
                           "time")
        if weak_counts:
            caveats.append(f"{weak_counts} of {len(r.counted.compared)} in instructions")
        return ("PASS: no benchmark is " + ", ".join(channels[:-1])
                + (" or " if len(channels) > 1 else "") + channels[-1]
                + (f", but {' and '.join(caveats)}" if caveats else ""))
    return f"FAIL: {len(gate.reasons)} problem(s): " + "; ".join(gate.reasons)


def _speedup_text(value: float | None, pair: tuple[str, str] | None) -> str:
    if value is None or pair is None:
        return "—"
    return f"{value:.2f}x ({pair[0]} vs {pair[1]})"


def speedup_cells(s: SpeedupDelta) -> list[str]:
    """A row of the "async over best sync, per run" table, in every format."""
    return [f"{s.workload} · {s.scenario}", _speedup_text(s.base, s.base_pair),
            _speedup_text(s.current, s.current_pair),
            "params differ" if s.params_differ else _pct(s.change)]


COUNT_LEGEND = ("instructions: counted under valgrind's callgrind over the counted rounds "
                "(round i of one run against round i of the other); detects: the smallest "
                "change those rounds let the test call significant. I/O: requests, "
                "connections and statements per operation are behaviour — a change fails the "
                "gate unless accepted; bytes and context switches are listed only.")


def _instruction_cells(d: InstructionDelta) -> list[str]:
    c = d.comparison
    verdict = d.verdict + (UNDERPOWERED_MARK if d.underpowered else "")
    if d.detail and c is None:
        verdict += f" ({d.detail})"
    if c is None:
        return [f"{d.workload} · {d.scenario} · {d.twin}", "—", "—", "—", "—", "—",
                f"{d.threshold:.0%}", verdict]
    detects = (f"≥{c.detectable:.2%}" if c.detectable is not None and math.isfinite(
        c.detectable) else "—")
    return [f"{d.workload} · {d.scenario} · {d.twin}", fmt_count(c.base_median),
            fmt_count(c.current_median), f"{c.change:+.2%}",
            f"{c.ci_low - 1:+.2%} … {c.ci_high - 1:+.2%}", detects, f"{d.threshold:.0%}",
            verdict]


INSTRUCTION_HEADERS = ["benchmark", "base instr/op", "current instr/op", "change", "95% CI",
                       "detects", "threshold", "verdict"]


def instruction_text(counted: CountedComparison, gated: bool = False) -> TableText | None:
    """Instructions per operation, benchmark by benchmark (None when neither run counted)."""
    if not counted.instructions:
        return None
    rows = [_instruction_cells(d) for d in counted.instructions]
    marks = ["slower" if d.regression else "faster" if d.verdict == "cheaper" else ""
             for d in counted.instructions]
    return TableText("instructions per operation" + (" (gated)" if gated else ""),
                     INSTRUCTION_HEADERS, rows, marks, align="l" + "r" * 6 + "l")


def _io_cells(d: IoDelta) -> list[str]:
    return [d.key, IO_NAMES[d.counter], f"{d.base:.4g}", f"{d.current:.4g}", d.source,
            d.verdict]


def io_text(counted: CountedComparison, gated: bool = False) -> TableText | None:
    """The I/O per operation that changed (the rest is summed up in the caption)."""
    if not counted.io:
        return None
    changed = counted.io_changes
    same = len({d.key for d in counted.io}) - len({d.key for d in changed})
    caption = ("no benchmark changed its I/O per operation" if not changed
               else f"the other {same} benchmark(s) made the same I/O per operation in both "
                    "runs" if same else "")
    return TableText("I/O per operation" + (" (gated)" if gated else ""),
                     ["benchmark", "what", "base", "current", "rounds", "verdict"],
                     [_io_cells(d) for d in changed],
                     ["slower" if d.regression else "" for d in changed], align="ll" + "r" * 3
                     + "l", caption=caption)


def benchmark_name(d: Delta | InstructionDelta) -> str:
    return f"{d.workload} · {d.scenario} · {d.twin}" if d.workload else d.key


DELTA_HEADERS = ["benchmark", "vs", "base", "current", "change", "95% CI", "p", "passes",
                 "detects", "threshold", "verdict"]


def delta_rows(deltas: tuple[Delta, ...], ratio: bool) -> list[tuple[Delta, list[str]]]:
    """The cells of each delta's row (the reference twin of a ratio view has none), the same
    for the terminal and for markdown; the caller styles the name and the verdict."""
    rows = []
    for d in deltas:
        if ratio and d.status is Status.REFERENCE:
            continue
        base, cur = _value(d, ratio)
        change = d.comparison.change if d.comparison else None
        rows.append((d, [benchmark_name(d), *([d.reference or "—"] if ratio else []), base,
                         cur, _pct(change), _ci(d), _p(d), _passes(d), _detects(d),
                         f"{d.threshold:.0%}", _verdict(d)]))
    return rows


def delta_headers(ratio: bool, base: str, current: str) -> list[str]:
    heads = [h for h in DELTA_HEADERS if ratio or h != "vs"]
    return [base if h == "base" else current if h == "current" else h for h in heads]


# -- rich table ---------------------------------------------------------------------------------

_STYLES = {"slower": "bold red", "faster": "green", "failed": "bold red", "added": "cyan",
           "removed": "yellow", "params differ": "yellow"}


def _delta_table(title: str, deltas: tuple[Delta, ...], ratio: bool) -> Table:
    table = Table(title=title, title_justify="left")
    unit = " ratio" if ratio else " median"
    for h in delta_headers(ratio, "base" + unit, "current" + unit):
        table.add_column(h, justify="left" if h in ("benchmark", "vs", "verdict") else "right")
    for d, cells in delta_rows(deltas, ratio):
        table.add_row(*map(plain, cells), style=_STYLES.get(d.verdict))
    return table


def _speedup_table(speedups: tuple[SpeedupDelta, ...]) -> Table:
    table = Table(title="async over best sync, per run", title_justify="left")
    for h in ("scenario", "base", "current", "moved"):
        table.add_column(h, justify="left" if h == "scenario" else "right")
    for s in speedups:
        table.add_row(*map(plain, speedup_cells(s)))
    return table


def render_table(r: CompareResult, console: Console, gate: GateResult | None = None) -> None:
    """Text from the run files (names, machines, labels, details) goes through `plain`."""
    console.print(plain(run_line(f"base {r.base_name}", r.base)), highlight=False)
    console.print(plain(run_line(f"current {r.current_name}", r.current)), highlight=False)
    for w in r.warnings:
        console.print(f"[bold yellow]warning:[/] {plain(w)}", highlight=False)
    for n in r.notes:
        console.print(f"[dim]note: {plain(n)}[/]", highlight=False)
    console.print()
    if not r.timed:
        pass  # a run only counted: no times to compare (said in the notes)
    elif r.mode is Mode.RATIO:
        console.print(_delta_table("time of each twin ÷ time of its scenario's sync twin "
                                   "in the same run (gated)", r.ratios, ratio=True))
        console.print(_delta_table("absolute times (different machines: for information "
                                   "only)" if not r.same_machine else "absolute times",
                                   r.absolute, ratio=False))
    else:
        console.print(_delta_table("per benchmark (gated)" if gate else "per benchmark",
                                   r.absolute, ratio=False))
    if r.timed:
        if any(d.underpowered for d in r.gated):
            console.print(f"{UNDERPOWERED_MARK} {FOOTNOTE}")
        console.print(f"[dim]{LEGEND}[/]")
        console.print(_speedup_table(r.speedups))
    for text in (instruction_text(r.counted, gate is not None),
                 io_text(r.counted, gate is not None)):
        if text is not None and text.rows:
            console.print(rich_table(text))
        elif text is not None:
            console.print(plain(text.caption), highlight=False)
    if any(d.underpowered for d in r.counted.compared):
        console.print(f"{UNDERPOWERED_MARK} its counted rounds repeat too loosely to see a "
                      "change as small as its threshold")
    if r.counted.any:
        console.print(f"[dim]{COUNT_LEGEND}[/]")
    console.print(plain(summary_line(r)), highlight=False)
    if gate is not None:
        style = "bold green" if gate.passed else "bold red"
        console.print(f"[{style}]{plain(gate_line(gate))}[/]", highlight=False)


# -- markdown -----------------------------------------------------------------------------------

def _md_escape(text: str) -> str:
    return text.replace("|", "\\|")


def _md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    align = ["---" if i == 0 or h in ("vs", "verdict") else "---:"
             for i, h in enumerate(headers)]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += ["| " + " | ".join(_md_escape(c) for c in row) + " |" for row in rows]
    return lines


_MD_ICONS = {"slower": "🔴 ", "failed": "🔴 ", "faster": "🟢 "}


def _md_deltas(deltas: tuple[Delta, ...], ratio: bool) -> list[str]:
    rows = []
    for d, cells in delta_rows(deltas, ratio):
        verdict = _MD_ICONS.get(d.verdict, "") + cells[-1]
        if d.regression or d.status is Status.FAILED:
            verdict = f"**{verdict}**"
        rows.append([f"`{d.key}`", *cells[1:-1], verdict])
    return _md_table(delta_headers(ratio, "base", "current"), rows)


def to_markdown(r: CompareResult, gate: GateResult | None = None) -> str:
    lines: list[str] = []
    if gate is not None:
        icon = "✅" if gate.passed else "❌"
        lines += [f"## {icon} twinbench check: {'passed' if gate.passed else 'failed'}", ""]
        lines += [f"- {_md_escape(x)}" for x in gate.reasons] or [gate_line(gate)]
        lines.append("")
    else:
        lines += ["## twinbench compare", ""]
    lines += [f"- {run_line('**base** ' + r.base_name, r.base)}",
              f"- {run_line('**current** ' + r.current_name, r.current)}", ""]
    lines += [f"> ⚠️ {w}" for w in r.warnings]
    lines += [f"> ℹ️ {n}" for n in r.notes]  # noqa: RUF001 — the emoji is meant
    if r.warnings or r.notes:
        lines.append("")
    if not r.timed:
        pass  # only counted: no times to compare
    elif r.mode is Mode.RATIO:
        lines += ["### Time of each twin ÷ time of its scenario's sync twin in the same run "
                  "(gated)", ""]
        lines += _md_deltas(r.ratios, ratio=True)
        lines += ["", "<details><summary>Absolute times"
                  + (" (different machines: for information only)" if not r.same_machine
                     else "") + "</summary>", ""]
        lines += _md_deltas(r.absolute, ratio=False)
        lines += ["", "</details>"]
    else:
        lines += ["### Per benchmark", ""]
        lines += _md_deltas(r.absolute, ratio=False)
    if any(d.underpowered for d in r.gated):
        lines += ["", f"{UNDERPOWERED_MARK} {FOOTNOTE}"]
    if r.timed:
        lines += ["", LEGEND]
        lines += ["", "### Async over best sync, per run", ""]
        lines += _md_table(["scenario", "base", "current", "moved"],
                           [speedup_cells(s) for s in r.speedups])
    for text in (instruction_text(r.counted, gate is not None),
                 io_text(r.counted, gate is not None)):
        if text is not None:
            lines += ["", f"### {text.title[:1].upper()}{text.title[1:]}", ""]
            if text.rows:
                lines += _md_table(text.headers, [[f"`{row[0]}`", *row[1:]]
                                                  for row in text.rows])
            if text.caption:
                lines += ["", text.caption]
    if r.counted.any:
        lines += ["", COUNT_LEGEND]
    lines += ["", summary_line(r) + f" (alpha {r.alpha}; {r.confidence:.0%} CI).", ""]
    return "\n".join(plain(line, markup=False) for line in lines)


# -- JSON ---------------------------------------------------------------------------------------

def _run_json(name: str, run: Run) -> dict[str, Any]:
    m = run.meta
    git = m.get("git") or {}
    return {"name": name, "profile": m.get("profile"), "loop": m.get("loop"),
            "created": m.get("created"), "commit": git.get("commit"),
            "branch": git.get("branch"), "dirty": git.get("dirty"),
            "python": (m.get("python") or {}).get("version"), "machine": m.get("machine"),
            "complete": m.get("complete", True)}


def _finite(x: float | None) -> float | None:
    """JSON has no infinity: an unbounded interval (too few pairs to ever reject) is null."""
    return x if x is not None and math.isfinite(x) else None


def _delta_json(d: Delta, ratio: bool) -> dict[str, Any]:
    c = d.comparison
    unit = "ratio" if ratio else "median_s"
    out: dict[str, Any] = {
        "key": d.key, "workload": d.workload, "scenario": d.scenario, "twin": d.twin,
        "kind": d.kind, "label": d.label, "status": d.status.value, "verdict": d.verdict,
        "threshold": d.threshold, f"base_{unit}": d.base_value,
        f"current_{unit}": d.current_value,
        "change": c.change if c else None, "ci_low": _finite(c.ci_low - 1) if c else None,
        "ci_high": _finite(c.ci_high - 1) if c else None, "p_value": c.p_value if c else None,
        "method": c.method if c else None, "passes": list(c.passes) if c else None,
        "pairs": c.pairs if c and c.method == "pairs" else None,
        "detectable": _finite(c.detectable) if c else None,
        "n_base": d.n_base, "n_current": d.n_current, "underpowered": d.underpowered,
        "detail": d.detail,
    }
    if ratio:
        out["reference"] = d.reference
    return out


def _instruction_json(d: InstructionDelta) -> dict[str, Any]:
    c = d.comparison
    return {"key": d.key, "workload": d.workload, "scenario": d.scenario, "twin": d.twin,
            "status": d.status.value, "verdict": d.verdict, "threshold": d.threshold,
            "base_per_op": c.base_median if c else None,
            "current_per_op": c.current_median if c else None,
            "change": c.change if c else None,
            "ci_low": _finite(c.ci_low - 1) if c else None,
            "ci_high": _finite(c.ci_high - 1) if c else None,
            "p_value": c.p_value if c else None, "pairs": c.pairs if c else None,
            "detectable": _finite(c.detectable) if c and c.detectable is not None else None,
            "underpowered": d.underpowered, "detail": d.detail}


def to_json_doc(r: CompareResult, gate: GateResult | None = None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "format": "twinbench-compare", "version": JSON_VERSION, "mode": r.mode.value,
        "same_machine": r.same_machine, "machine_differences": list(r.machine_differences),
        "paired": r.paired,
        "alpha": r.alpha, "confidence": r.confidence,
        "base": _run_json(r.base_name, r.base), "current": _run_json(r.current_name, r.current),
        "benchmarks": [_delta_json(d, ratio=False) for d in r.absolute],
        "ratios": [_delta_json(d, ratio=True) for d in r.ratios],
        "speedups": [{
            "workload": s.workload, "scenario": s.scenario, "base": s.base,
            "current": s.current, "change": s.change,
            "base_best_async": s.base_pair[0] if s.base_pair else None,
            "base_best_sync": s.base_pair[1] if s.base_pair else None,
            "current_best_async": s.current_pair[0] if s.current_pair else None,
            "current_best_sync": s.current_pair[1] if s.current_pair else None,
            "params_differ": s.params_differ} for s in r.speedups],
        "regressions": [d.key for d in r.regressions],
        "failures": list(r.failures), "warnings": list(r.warnings), "notes": list(r.notes),
        "timed": r.timed,
        "instructions": [_instruction_json(d) for d in r.counted.instructions],
        "io": [{"key": d.key, "counter": d.counter, "base_per_op": d.base,
                "current_per_op": d.current, "tolerance_per_op": d.tolerance,
                "source": d.source, "gated": d.gated, "changed": d.changed,
                "accepted": d.accepted, "verdict": d.verdict} for d in r.counted.io],
    }
    if gate is not None:
        doc["gate"] = {"passed": gate.passed, "exit_code": gate.exit_code,
                       "max_regression": gate.thresholds.default, "reasons": gate.reasons,
                       "caught": [{"channel": ch, "reason": why} for ch, why in gate.caught]}
    return doc


def to_json(r: CompareResult, gate: GateResult | None = None) -> str:
    return json.dumps(to_json_doc(r, gate), indent=2, allow_nan=False)
