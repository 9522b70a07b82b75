"""Do a run's answers hold on a rerun? Coverage of independent runs, and agreement of verdicts.

    python scripts/answers_hold.py coverage /tmp/runs/cov-*.json [--markdown OUT]
    python scripts/answers_hold.py agree results/adaptive.json results/fixed20.json
    python scripts/answers_hold.py reference /tmp/fixed20.json [WORKLOAD...] [--rounds 20]
    python scripts/answers_hold.py isolation /tmp/together.json /tmp/alone-*.json

`coverage`: the runs are independent runs of the same selection (e.g. 5 × `bench run
http_fetch pg_queries tcp_server --json ...`). Per scenario: each run's speedup (best async
over best sync) and its 95% interval; the median of the estimates; how many intervals contain
that median (an honest 95% interval contains it nearly always: the median of five runs sits
close to the truth), and whether the verdicts agree.

`agree`: two runs of the same selection (adaptive rounds against a fixed count); per scenario,
both verdicts, and the share that are the same.

`isolation`: a scenario's twins measured in turn (one run) against each twin measured alone
(`--twin NAME`, one run each): what each twin cost — CPU, context switches, threads, RSS per
operation — should not depend on the others being set up beside it.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from harness.analysis.matchup import Matchup, judge
from harness.analysis.sequential import RoundsPlan
from harness.analysis.summary import summarize
from harness.cli.progress import progress_for
from harness.model.registry import Selection
from harness.results.files import load_run, save_run
from harness.results.runfile import BenchRecord
from harness.run.runner import RunRequest, execute

app = typer.Typer(add_completion=False)
console = Console(width=160)


def answers(path: Path) -> dict[str, Matchup]:
    run = load_run(path)
    out = {}
    for summary in summarize(run):
        m = judge(summary)
        if m is not None:
            out[f"{summary.workload} · {summary.scenario}"] = m
    return out


def _cell(m: Matchup) -> str:
    if m.speedup is None:
        return f"{m.point:.2f}x ({m.call.value})"
    return f"{m.speedup.value:.2f}x ({m.speedup.low:.2f}–{m.speedup.high:.2f}) {m.call.value}"


@app.command()
def coverage(files: list[Path],
             markdown: Annotated[Path | None, typer.Option(help="Also write a table")] = None
             ) -> None:
    runs = [answers(f) for f in files]
    scenarios = list(dict.fromkeys(k for r in runs for k in r))
    table = Table(title=f"{len(runs)} independent runs: does each interval contain the median "
                        "of the estimates?")
    for header in ("scenario", *(f"run {i + 1}" for i in range(len(runs))), "median",
                   "intervals containing it", "verdicts agree"):
        table.add_column(header)
    lines = ["| scenario | " + " | ".join(f"run {i + 1}" for i in range(len(runs)))
             + " | median | contain it | verdicts agree |",
             "| --- |" + " --- |" * (len(runs) + 3)]
    contained = total = agreeing = 0
    for scenario in scenarios:
        ms = [r[scenario] for r in runs if scenario in r]
        values = [m.speedup.value if m.speedup else m.point for m in ms]
        middle = statistics.median(values)
        hits = sum(1 for m in ms if m.speedup and m.speedup.low <= middle <= m.speedup.high)
        calls = Counter(m.call.value for m in ms)
        agree = len(calls) == 1
        contained += hits
        total += len(ms)
        agreeing += agree
        cells = [_cell(m) for m in ms]
        verdicts = "yes" if agree else ", ".join(f"{n}× {c}" for c, n in calls.items())
        table.add_row(scenario, *cells, f"{middle:.2f}x", f"{hits}/{len(ms)}", verdicts)
        lines.append(f"| {scenario} | " + " | ".join(cells)
                     + f" | {middle:.2f}x | {hits}/{len(ms)} | {verdicts} |")
    console.print(table)
    summary = (f"intervals containing the median of the estimates: {contained}/{total} "
               f"({contained / total:.0%}); scenarios whose verdicts all agree: "
               f"{agreeing}/{len(scenarios)}")
    console.print(summary)
    if markdown is not None:
        markdown.write_text("\n".join(lines) + "\n\n" + summary + "\n")


@app.command()
def agree(first: Path, second: Path) -> None:
    a, b = answers(first), answers(second)
    table = Table(title=f"verdicts: {first.name} vs {second.name}")
    for header in ("scenario", first.name, second.name, "same"):
        table.add_column(header)
    same = both = 0
    for scenario in dict.fromkeys([*a, *b]):
        if scenario not in a or scenario not in b:
            continue
        both += 1
        match = a[scenario].call is b[scenario].call
        same += match
        table.add_row(scenario, _cell(a[scenario]), _cell(b[scenario]),
                      "yes" if match else "NO")
    console.print(table)
    console.print(f"the same verdict in {same}/{both} scenarios ({same / max(both, 1):.0%})")


@app.command()
def reference(out: Path, workloads: Annotated[list[str] | None, typer.Argument()] = None,
              rounds: Annotated[int, typer.Option(help="Rounds for every contender")] = 20
              ) -> None:
    """Measure the selection (default: every workload) as `bench all` does, but with ROUNDS
    rounds for every twin that is not FAR_BEHIND its side's best (those stop after their first,
    as they do in any run): the verdicts a long fixed run gives, to hold adaptive runs against
    (`agree`) without paying 20 rounds of twins that cannot be best."""
    rule = RoundsPlan(looks=(rounds,), seconds=1e9, precision=0.0)  # no cap: JSON has no inf
    request = RunRequest(selection=Selection(tuple(workloads or ())), profile="default")
    with progress_for(console, console) as progress:
        result = execute(request, progress, rounds_rule=rule)
    assert result.run is not None
    save_run(result.run.doc, out, force=True)
    console.print(f"wrote {out}")


@app.command()
def isolation(together: Path, alone: list[Path]) -> None:
    runs = {"together": load_run(together)}
    solo = {}
    for path in alone:
        run = load_run(path)
        for record in run.benchmarks:
            solo[record.key] = record
    table = Table(title="each twin measured in turn with the others, and alone")
    for header in ("benchmark", "rounds", "CPU/op", "ctx sw/op", "threads", "RSS Δ",
                   "median"):
        table.add_column(header)

    def cells(r: BenchRecord) -> list[str]:
        cpu = r.cpu_per_op
        return [str(len(r.data)), f"{cpu * 1e6:.0f} µs" if cpu else "—",
                f"{r.io_per_op.get('ctx_switches', 0):.2f}",
                str(r.extra.get("threads_peak", "—")),
                f"{(r.extra.get('rss_delta_bytes') or 0) / 2**20:.1f} MiB",
                f"{r.median * 1e3:.1f} ms"]

    for record in runs["together"].benchmarks:
        other = solo.get(record.key)
        table.add_row(f"{record.key} (in turn)", *cells(record))
        if other is not None:
            table.add_row(f"{record.key} (alone)", *cells(other), end_section=True)
    console.print(table)


if __name__ == "__main__":
    app()
