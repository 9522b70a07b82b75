"""One run in the terminal: a table per scenario, the verdict line, peers, outcomes, warnings.

Every text that comes from the run file goes through `plain` (harness.render.fmt): a file
must not be able to colour, move or clear the terminal, nor crash rich with markup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from harness.analysis.matchup import Interval, Matchup, judge, judge_model
from harness.analysis.sequential import Call
from harness.analysis.summary import BUSY_WARNING, ScenarioSummary, busiest, summarize
from harness.analysis.sweep import analyse as analyse_sweep
from harness.model.workload import SYNC_KINDS
from harness.render.fmt import (
    TableText,
    describe_params,
    fmt_count,
    fmt_metric,
    fmt_percent,
    fmt_range,
    fmt_rate,
    fmt_ratio,
    fmt_seconds,
    plain,
)
from harness.render.sweep import render_sweep
from harness.results.runfile import BenchRecord, Outcome, Run


def metric_name(metric: str | None) -> str:
    """How a verdict names what it compares: "p99_s" reads "p99 latency"."""
    if metric is None:
        return "time"
    base = metric.removesuffix("_s")
    return f"{base} latency" if base[:1] == "p" and base[1:].isdigit() else base


def _x(value: float) -> str:
    return f"{value:.2f}x"


def _interval(i: Interval) -> str:
    return f"95% CI {fmt_range(i.low, i.high)}"


def verdict_line(summary: ScenarioSummary, matchup: Matchup | None = None) -> str:
    """The best async twin against the best sync twin, with its uncertainty: a winner only
    when the difference is significant and its interval excludes no change."""
    m = matchup if matchup is not None else judge(summary)
    if m is None:
        return "no verdict: this scenario needs a sync and an async twin that did all the work"
    where = describe_params(summary.params)
    a, s = m.async_.label, m.sync.label
    better = "faster" if m.metric is None else f"lower {metric_name(m.metric)}"
    worse = "slower" if m.metric is None else f"higher {metric_name(m.metric)}"
    factor = m.point if m.point >= 1 else 1 / m.point
    how = f"{_x(factor)} {better if m.point >= 1 else worse}"
    if m.call is Call.TIE and m.speedup is not None:
        line = (f"{a} and {s} are within {summary.min_effect:.0%} of each other "
                f"({_x(m.speedup.value)}, {_interval(m.speedup)}) at {where}")
    elif m.call is Call.CANNOT_TELL:
        line = (f"{a} looks {how} than the best sync twin ({s}) at {where}, but {m.reason}"
                + (" (more rounds: the default profile)" if "rounds" in m.reason else ""))
    else:
        assert m.speedup is not None
        interval = (_interval(m.speedup) if m.point >= 1 else
                    f"95% CI {fmt_range(1 / m.speedup.high, 1 / m.speedup.low)}")
        line = f"{a} is {how} than the best sync twin ({s}, {interval}) at {where}"
    if m.cpu_call is not None and m.cpu is not None:
        factor = m.cpu.value if m.cpu.value >= 1 else 1 / m.cpu.value
        # after a tie the subject is both twins: name the one meant
        line += (f"; {a} uses" if m.call is Call.TIE else ", and uses") + \
            f" {_x(factor)} {m.cpu_call} CPU per op"
    model = judge_model(summary)
    if model is not None and (model.sync, model.async_) != (m.sync, m.async_):
        line += f". {model_sentence(model)}"
    return line


def model_cell(model: Matchup) -> str:
    """The async model alone, in an answer table's cell: "1.12x (0.98–1.27)" over the
    library's name (two lines: the table stays within a terminal)."""
    if model.speedup is None:
        return f"{_x(model.point)} (untested)\n{model.async_.library}"
    return (f"{_x(model.speedup.value)} "
            f"({fmt_range(model.speedup.low, model.speedup.high, '')})\n"
            f"{model.async_.library}")


def model_sentence(model: Matchup) -> str:
    """What the async model alone buys, the library held fixed."""
    library = model.async_.library
    held = f"With the library held fixed ({library}: {model.async_.twin} against " \
        f"{model.sync.twin})"
    if model.speedup is None or model.call is Call.CANNOT_TELL:
        return f"{held}, async looks {_x(model.point)} ({model.reason or 'untested'})"
    if model.call is Call.TIE:
        return (f"{held}, the two models are within {model.summary.min_effect:.0%} of each "
                f"other "
                f"({_x(model.speedup.value)}, {_interval(model.speedup)})")
    factor = model.point if model.point >= 1 else 1 / model.point
    word = "faster" if model.point >= 1 else "slower"
    interval = (_interval(model.speedup) if model.point >= 1 else
                f"95% CI {fmt_range(1 / model.speedup.high, 1 / model.speedup.low)}")
    return f"{held}, async is {_x(factor)} {word} ({interval})"


BEST = "best"
#: How the terminal styles a row's mark: the best twins, and the answer's verdict words.
ROW_STYLES = {BEST: "bold green", "faster": "green", "slower": "red", "tie": "yellow",
              "cannot tell": "dim"}


def _text_cell(value: str, style: str = "") -> Text:
    """Text, not markup: names come from run files and scenario names hold brackets, which
    rich would otherwise read as markup; and control characters out (`plain`), so a file
    cannot drive the terminal; a cell's own line breaks stay (a two-line cell)."""
    return Text("\n".join(plain(line, markup=False) for line in value.split("\n")),
                style=style)


def rich_table(text: TableText, title_style: str | None = None) -> Table:
    """A table's text drawn by rich (the HTML report draws the same TableText)."""
    table = Table(title=_text_cell(text.title, title_style or ""), title_justify="left",
                  caption=_text_cell(text.caption, "table.caption") if text.caption else None,
                  caption_justify="left")
    for i, header in enumerate(text.headers):
        table.add_column(_text_cell(header), justify="left" if text.left(i) else "right",
                         no_wrap=True)
    for i, cells in enumerate(text.rows):
        table.add_row(*map(_text_cell, cells), style=ROW_STYLES.get(text.mark(i)))
    return table


def _text(title: str, headers: list[str], rows: list[list[str]], bold: list[bool],
          text_columns: int) -> TableText:
    """The first `text_columns` are names, the rest numbers; columns with nothing to say (no
    sequential twin, no latency) are left out."""
    return TableText(title, headers, rows, [BEST if b else "" for b in bold],
                     "l" * text_columns).without_empty_columns()


def scenario_title(summary: ScenarioSummary) -> str:
    judged = f" (judged by {summary.judged_by})" if summary.judged_by else ""
    return (f"{summary.workload} · {summary.scenario} — {describe_params(summary.params)}"
            f"{judged}")


def scenario_texts(summary: ScenarioSummary, metrics: Sequence[Mapping[str, str]] = (),
                   timed: bool = True) -> list[TableText]:
    """The timing table (best sync and best async marked best) and, for workloads that declare
    metrics (latency percentiles, memory...), a second table of those, so neither is too wide
    to read; between them, what each client twin cost. A run that only counted (`timed`
    false: its rounds' times are valgrind's) gets its counts instead of times."""
    bold = [row.record is summary.best_async or row.record is summary.best_sync
            for row in summary.rows]
    sync_cpu = summary.best_sync.cpu_per_op if summary.best_sync else None
    best_count = _best_sync_count(summary)

    def cpu_vs(record: BenchRecord) -> float | None:
        mine = record.cpu_per_op
        return sync_cpu / mine if sync_cpu and mine else None

    def count_vs(record: BenchRecord) -> float | None:
        mine = record.instructions_per_op
        return best_count / mine if best_count and mine else None

    counts = [[fmt_count(r.record.instructions_per_op), fmt_ratio(count_vs(r.record))]
              for r in summary.rows]
    if not timed:
        bold = [False] * len(summary.rows)
        texts = [_text(scenario_title(summary) + " (counted only)",
                       ["twin", "kind", "instr/op", "instr: best sync ÷ twin"],
                       [[r.record.twin, _kind(r.record), *c]
                        for r, c in zip(summary.rows, counts, strict=True)],
                       bold, text_columns=2)]
    else:
        timing = [[r.record.twin, _kind(r.record), fmt_seconds(r.record.median),
                   fmt_seconds(r.record.iqr), str(len(r.record.data)),
                   fmt_percent(r.record.pass_spread),
                   fmt_rate(r.record.ops_per_s),
                   fmt_ratio(r.vs_sequential), fmt_ratio(r.vs_best_sync),
                   _fmt_optional_seconds(r.record.cpu_per_op), fmt_ratio(cpu_vs(r.record)),
                   *c, fmt_percent(r.record.efficiency)]
                  for r, c in zip(summary.rows, counts, strict=True)]
        texts = [_text(scenario_title(summary),
                       ["twin", "kind", "median", "IQR", "rounds", "pass spread", "ops/s",
                        "vs seq",
                        "vs best sync", "CPU/op", "CPU vs best sync", "instr/op",
                        "instr vs best sync", "eff. vs ideal"],
                       timing, bold, text_columns=2)]
    texts += _cost_texts(summary, bold)
    measured = [[r.record.twin, *(fmt_metric(r.record.extra.get(m["key"]),
                                             m.get("unit", "count")) for m in metrics)]
                for r in summary.rows]
    # A scenario may measure none of its workload's metrics (file_io's writes have no page
    # cache to report): then there is no second table, rather than one of twin names.
    if any(cell != "—" for cells in measured for cell in cells[1:]):
        texts.append(_text(f"  {summary.scenario}: also measured",
                           ["twin", *(m["header"] for m in metrics)], measured, bold,
                           text_columns=1))
    return texts


def scenario_tables(summary: ScenarioSummary, metrics: Sequence[Mapping[str, str]] = (),
                    timed: bool = True) -> list[Table]:
    return [rich_table(t) for t in scenario_texts(summary, metrics, timed)]


def timed_run(run: Run) -> bool:
    """Whether the run's rounds were timed (a run that only counted has valgrind's times)."""
    return bool((run.meta.get("count") or {}).get("timed", True))


def count_lines(run: Run) -> list[str]:
    """How the run was counted, and which twins could not be (plain text)."""
    count = run.meta.get("count")
    if not isinstance(count, dict):
        return []
    version = count.get("valgrind") or "?"
    lines = [f"counted under valgrind {version} (callgrind): {count.get('rounds')} rounds "
             f"after {count.get('warmup_rounds')} warm-up per client twin, at the sizes "
             "each benchmark records; instructions and system calls of every thread, which "
             "valgrind runs one at a time (a thread pool's count includes its GIL hand-offs "
             "as valgrind schedules them)"]
    if not count.get("timed", True):
        lines.append("only counted: the rounds ran under valgrind, so no time, speedup or "
                     "verdict is shown")
    lines += [f"not counted: {key}: {why}"
              for key, why in (count.get("failures") or {}).items()]
    return lines


def _fmt_optional_seconds(value: float | None) -> str:
    return "—" if value is None else fmt_seconds(value)


def _kind(record: BenchRecord) -> str:
    """The twin's model and, when declared, what does its parsing and I/O: "async · C"."""
    return f"{record.kind} · {record.core}" if record.core else record.kind


def _best_sync_count(summary: ScenarioSummary) -> int | None:
    """The fewest instructions per op among the sync twins (the yardstick of "instr vs best
    sync"): the cheapest sync code, whichever was fastest."""
    counts = [r.record.instructions_per_op for r in summary.rows
              if r.record.kind in SYNC_KINDS and r.record.instructions_per_op]
    return min(c for c in counts if c is not None) if counts else None


# The I/O columns of the cost table: extra_info io_per_op key -> header.
IO_COLUMNS = (("requests", "req/op"), ("connections", "conn/op"), ("statements", "stmt/op"),
              ("ctx_switches", "ctx sw/op"))


def _fmt_per_op(value: float | None) -> str:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return "—"
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _fmt_lag(value: Any) -> str:
    return fmt_seconds(float(value)) if isinstance(value, int | float) and value > 0 else (
        "0" if value == 0 else "—")


def stall_lines(summary: ScenarioSummary, shown: int = 3) -> list[str]:
    """Where each async twin held its loop (`--stalls`): the top few places, as text."""
    out = []
    for row in summary.rows:
        sites = row.record.extra.get("stall_sites")
        if not isinstance(sites, list) or not sites:
            continue
        for site in sites[:shown]:
            if isinstance(site, dict):
                out.append(f"{row.record.twin} blocked its event loop here "
                           f"{site.get('count')} time(s): {site.get('where')}")
    return out


def _cpu_per_connection(record: BenchRecord) -> float | None:
    """The twin's CPU per connection it opened (handshake and all), where its timed rounds
    open about one per operation or more; None where connections are kept alive."""
    per_op, connections = record.cpu_per_op, record.io_per_op.get("connections")
    if per_op is None or not connections or connections < 0.5:
        return None
    return per_op / connections


def _fmt_bytes_per_op(io: Mapping[str, float]) -> str:
    """Bytes the twin sent and received per operation, "175 ↑ 1,178 ↓"."""
    sent, received = io.get("bytes_sent"), io.get("bytes_received")
    if sent is None and received is None:
        return "—"
    return f"{sent or 0:,.0f} ↑ {received or 0:,.0f} ↓"


def _cost_texts(summary: ScenarioSummary, bold: list[bool]) -> list[TableText]:
    """What each client twin cost the measuring process and the peers over its timed rounds
    (server twins report their server's in the measured-at table instead), with its loop's
    health; then the I/O each operation made: what the peers served, this process's context
    switches, and, when counted, its system calls (valgrind's trace, every thread). Two
    tables, so that neither is squeezed past its headers."""
    peers = sorted({p for r in summary.rows for p in r.record.peer_cpu_per_op()})
    costs = [[r.record.twin,
              fmt_metric(r.record.extra.get("threads_peak"), "count"),
              fmt_metric(r.record.extra.get("rss_delta_bytes"), "bytes"),
              *(_fmt_optional_seconds(r.record.peer_cpu_per_op().get(p)) for p in peers),
              _fmt_optional_seconds(_cpu_per_connection(r.record)),
              _fmt_lag(r.record.extra.get("loop_lag_p99_s")),
              fmt_metric(r.record.extra.get("loop_stalls"), "count"),
              fmt_metric(r.record.extra.get("tasks_leaked"), "count")]
             for r in summary.rows]
    io = [[r.record.twin,
           *(_fmt_per_op(r.record.io_per_op.get(key)) for key, _ in IO_COLUMNS),
           _fmt_bytes_per_op(r.record.io_per_op),
           _fmt_per_op(r.record.extra.get("syscalls_per_op")),
           _top_syscalls(r.record)]
          for r in summary.rows]
    out = []
    if any(cell != "—" for row in costs for cell in row[1:]):
        out.append(_text(f"  {summary.scenario}: what each twin cost over its timed rounds",
                         ["twin", "threads (peak)", "RSS Δ", *(f"{p} CPU/op" for p in peers),
                          "CPU/conn", "loop lag p99", "loop stalls", "leaked tasks"],
                         costs, bold, text_columns=1))
    if any(cell != "—" for row in io for cell in row[1:]):
        out.append(_text(f"  {summary.scenario}: what each operation did",
                         ["twin", *(header for _, header in IO_COLUMNS), "bytes/op",
                          "syscalls/op", "most frequent syscalls"],
                         io, bold, text_columns=1))
    return out


def _top_syscalls(record: BenchRecord, shown: int = 2) -> str:
    calls = record.extra.get("syscalls_by_name_per_op")
    if not isinstance(calls, dict) or not calls:
        return "—"
    top = sorted(calls.items(), key=lambda kv: -kv[1])[:shown]
    return " ".join(f"{name} {count:.2g}" for name, count in top)


def answer_text(run: Run) -> TableText | None:
    """One row per scenario: the whole answer on one screen."""
    rows: list[list[str]] = []
    words: list[str] = []
    effects: set[float] = set()
    paired = False
    for summary in summarize(run):
        m = judge(summary)
        if m is None:
            continue
        speedup = (f"{_x(m.speedup.value)} ({fmt_range(m.speedup.low, m.speedup.high, '')})"
                   if m.speedup is not None else f"{_x(m.point)} (untested)")
        cpu = "—" if m.cpu is None else _x(m.cpu.value) + ("" if m.cpu.significant else " ~")
        counted = (m.sync.instructions_per_op, m.async_.instructions_per_op)
        instructions = (_x(counted[0] / counted[1]) if counted[0] and counted[1] else "—")
        model = judge_model(summary)
        rows.append([f"{summary.workload} · {summary.scenario}", m.sync.twin, m.async_.twin,
                     speedup, cpu, instructions,
                     model_cell(model) if model is not None else "—", m.call.value])
        words.append(m.call.value)
        effects.add(summary.min_effect)
        paired = paired or (m.speedup is not None and m.speedup.paired)
    if not rows:
        return None
    effect = "/".join(f"{e:.0%}" for e in sorted(effects))
    text = TableText("the answer: best async twin vs best sync twin, per scenario",
                     ["scenario", "best sync", "best async", "speedup (95% CI)",
                      "CPU sync÷async", "instr. sync÷async", "async model alone", "verdict"],
                     rows, words, align="lllrrrrl",
                     caption="speedup > 1: async is better (95% CI"
                             + ("; twins measured in turn, round by round, and compared in "
                                "pairs" if paired else "")
                             + f"); verdict: faster or slower when the whole interval lies "
                               f"beyond ±{effect}, tie when it lies within, else cannot tell; "
                               "CPU: sync CPU/op ÷ async CPU/op (~: within noise)"
                             + ("; instr.: the same for instructions counted under "
                                "callgrind" if any(r[5] != "—" for r in rows) else "")
                             + ("; async model alone: a library's own async twin over its "
                                "own sync twin (95% CI), the library held fixed"
                                if any(r[6] != "—" for r in rows) else ""))
    return text.without_empty_columns()


def summary_table(run: Run) -> Table | None:
    text = answer_text(run)
    return None if text is None else rich_table(text, title_style="table.title")


@dataclass(frozen=True)
class PeerLine:
    """A line about a peer: its capacity, or how busy it was (`indent`), with a warning when
    it was close to saturation."""

    text: str
    indent: bool = False
    warning: str = ""


def peer_facts(run: Run) -> list[PeerLine]:
    """Each peer's capacity and how busy it was: evidence it did not set the pace."""
    lines = []
    for name, info in sorted(run.meta.get("peers", {}).items()):
        if not isinstance(info, dict):
            continue
        if name == "http" and info.get("capacity_rps"):
            per_cpu = info.get("capacity_per_cpu_s")
            lines.append(PeerLine(
                f"HTTP peer capacity at L=0: {fmt_rate(info['capacity_rps'])} req/s to one "
                "load process"
                + (f", {fmt_rate(per_cpu)} req per CPU-second of the peer" if per_cpu else "")))
            if info.get("summary"):  # what TLS negotiated, when a scenario spoke it
                lines.append(PeerLine(f"{name}: {info['summary']}", indent=True))
        elif info.get("summary"):
            lines.append(PeerLine(f"{name}: {info['summary']}"))
        busy, record = busiest(run, name)
        if record is not None:
            lines.append(PeerLine(
                f"{name} peer was at most {busy:.0%} busy (one core = 100%), during "
                f"{record.key}", indent=True,
                warning="near saturation: the peer may have set the pace"
                if busy > BUSY_WARNING else ""))
    return lines


def peer_lines(run: Run) -> list[str]:
    """The peer facts as console markup (text from the file through `plain`)."""
    return [("  " if line.indent else "") + plain(line.text)
            + (f"  [bold red]{line.warning}[/]" if line.warning else "")
            for line in peer_facts(run)]


def render_run(run: Run, console: Console, details: bool = False) -> None:
    """A run's tables, verdicts and answer; a sweep's map (its points' tables with
    `details`)."""
    meta = run.meta
    git = meta.get("git") or {}
    machine = meta.get("machine") or {}
    passes = int(meta.get("passes") or 1)
    console.print(
        f"[bold]twinbench[/] profile [cyan]{plain(meta.get('profile'))}[/], loop "
        f"{plain(meta.get('loop'))}, "
        + (f"{passes} passes, " if passes > 1 else "")
        + f"commit {plain(str(git.get('commit') or '?')[:10])}"
        f"{' (dirty)' if git.get('dirty') else ''}, "
        f"{machine.get('cores')} cores · {plain(machine.get('cpu'))}"
    )
    if passes > 1:
        console.print("[dim]median and IQR over every round of every pass; pass spread: "
                      "slowest pass median over fastest[/]")
    if not meta.get("complete", True):
        console.print("[bold yellow]incomplete run: interrupted before every benchmark ran[/]")
    workloads = meta.get("workloads", {})
    swept = analyse_sweep(run)
    timed = timed_run(run)
    if swept is None or details or not timed:
        for summary in summarize(run):
            console.print()
            metrics = workloads.get(summary.workload, {}).get("metrics", [])
            for table in scenario_tables(summary, metrics, timed):
                console.print(table)
            if timed:
                console.print(Text(plain("→ " + verdict_line(summary), markup=False),
                                   style="bold"), soft_wrap=True)
                for line in summary.unpaired:
                    console.print(Text(plain("  " + line, markup=False), style="dim"),
                                  soft_wrap=True)
            for line in stall_lines(summary):
                console.print(Text(plain("  " + line, markup=False), style="yellow"),
                              soft_wrap=True)
    if not timed:
        pass
    elif swept is not None:
        render_sweep(swept, console, analyse_sweep(run, model=True))
    else:
        answer = summary_table(run)
        if answer is not None:
            console.print()
            console.print(answer)
    lines = peer_lines(run)
    if lines:
        console.print()
        for line in lines:
            console.print(line)
    counted = count_lines(run)
    if counted:
        console.print()
        for line in counted:
            style = "red" if line.startswith("not counted") else "dim"
            console.print(Text(plain(line, markup=False), style=style), soft_wrap=True)
    render_outcomes(run.outcomes.values(), console)
    render_warnings(run, console)


def render_outcomes(outcomes: Iterable[Outcome], console: Console) -> None:
    """One line per distinct reason: fifteen cases failed by one dead peer are one line."""
    reasons: dict[tuple[str, str], list[str]] = {}
    for o in outcomes:
        if o.outcome != "passed":
            reasons.setdefault((o.outcome, o.detail), []).append(o.case_id)
    if not reasons:
        return
    console.print()
    for (outcome, detail), cases in reasons.items():
        colour = "red" if outcome == "failed" else "yellow"
        who = cases[0] if len(cases) == 1 else f"{cases[0]} and {len(cases) - 1} more"
        console.print(f"[{colour}]{plain(outcome)}[/] {plain(who)}: {plain(detail)}",
                      highlight=False)


def render_warnings(run: Run, console: Console, limit: int = 3) -> None:
    """What benchmarks warned, logged or could not raise (harness.run.capture), after the
    tables: each is a reason to doubt that benchmark, and `--strict` fails on any."""
    noisy = [b for b in run.benchmarks if b.warnings]
    if not noisy:
        return
    console.print()
    console.print(f"[bold yellow]{run.warning_count} warning(s) during {len(noisy)} "
                  "benchmark(s)[/] (--strict fails the run on them):", highlight=False)
    for b in noisy:
        for w in b.warnings[:limit]:
            console.print(f"  {plain(b.key)}: {w['count']} x {plain(w['kind'])} "
                          f"{plain(w['message'])}", highlight=False, soft_wrap=True)
        if len(b.warnings) > limit:
            console.print(f"  {plain(b.key)}: … and {len(b.warnings) - limit} more kinds",
                          highlight=False)
