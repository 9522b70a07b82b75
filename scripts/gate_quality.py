"""Measure how good `bench check` is as a gate: false alarms on unchanged code (A/A) and how
often a known slowdown is caught.

    python scripts/gate_quality.py -w http_fetch -s latency-bound -s many-quick \
        -t requests-threads -t httpx-threads -t aiohttp --profile default --trials 10 \
        --baseline-passes 3 --baseline-gap 300 --slow-twin aiohttp --markdown gate-quality.md

1. A baseline: `--baseline PATH` (its profile, loop and selection are reused), or the chosen
   subset measured first, `--baseline-passes` passes `--baseline-gap` seconds apart
   (`--save-baseline PATH` keeps it).
2. K trials, alternating A/A and slowdown so slow drift of the machine hits both equally:
   * A/A: the same benchmarks run again, unchanged, and checked against the baseline;
   * slowdown: `--slow-twin` made `--slowdown` (10%) slower than its *baseline* median by a
     patch that exists only in this script: the twin's `round()` is wrapped to wait that long
     after doing its work (sleep, then spin the last millisecond, so the delay is exact).
     Production code has no knob for this; the script hands `execute` a modified registry.
3. Each trial measures one pass and is checked both ways `bench check` can gate, absolute
   times (same machine) and in-run ratios (the cross-machine mode), each with its own
   confirmation of suspects (`--confirm` more passes), exactly as `bench check` does it.

A slowdown exactly at the threshold is caught about half the time at best (the measured
change scatters around the true one); run with `--slowdown 0.2` to see the detection rate of
a change clearly beyond it.
"""

from __future__ import annotations

import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from harness.analysis.compare import CompareResult, Mode, compare_runs
from harness.analysis.gate import extra_pairs, to_confirm
from harness.analysis.stats import pairs_needed
from harness.cli.compare_cmds import DEFAULT_PAIRS
from harness.cli.console import bad_input_exits
from harness.config import Thresholds, load_config
from harness.errors import BadInput
from harness.model.registry import Selection, discover
from harness.model.workload import Bench, BenchContext, Workload
from harness.results.files import load_run, save_run
from harness.results.merge import first_pass, merge_passes
from harness.results.runfile import Run, parse_run
from harness.run.ab import Side, measure_ab
from harness.run.confirm import confirm_suspects
from harness.run.runner import RunRequest, execute, request_like

console = Console(width=None if sys.stdout.isatty() else 140)
err = Console(stderr=True)


# -- the injected slowdown ----------------------------------------------------------------------

def _pause(seconds: float) -> None:
    """Wait `seconds` precisely: sleep overshoots by ~0.1 ms, so spin the last millisecond."""
    deadline = time.perf_counter() + seconds
    if seconds > 0.002:
        time.sleep(seconds - 0.001)
    while time.perf_counter() < deadline:
        pass


class SlowedBench:
    """A twin's bench whose timed round takes `extra_s` longer; everything else delegated."""

    def __init__(self, inner: Bench, extra_s: float):
        self._inner = inner
        self._extra_s = extra_s

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def round(self) -> int:
        checksum = self._inner.round()
        _pause(self._extra_s)
        return checksum


def _params_key(params: Any) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def slowed_registry(registry: dict[str, Workload], baseline: Run, twin: str,
                    slowdown: float) -> tuple[dict[str, Workload], list[str]]:
    """A copy of `registry` in which `twin` is `slowdown` slower than its baseline median, in
    every scenario the baseline measured it (the scenario is recognised by its parameters)."""
    delays: dict[tuple[str, str], float] = {}
    keys = []
    for record in baseline.benchmarks:
        if record.twin == twin:
            delays[(record.workload, _params_key(record.params))] = slowdown * record.median
            keys.append(record.key)
    if not keys:
        raise BadInput(f"--slow-twin {twin!r} is not in the baseline; choose from: "
                       + ", ".join(sorted({r.twin for r in baseline.benchmarks})))
    patched = dict(registry)
    for name, workload in registry.items():
        twins = []
        for t in workload.twins:
            if t.name == twin:
                def bind(ctx: BenchContext, _orig: Any = t.bind, _workload: str = name) -> Any:
                    extra = delays.get((_workload, _params_key(ctx.params)), 0.0)
                    return SlowedBench(_orig(ctx), extra)
                t = replace(t, bind=bind)
            twins.append(t)
        patched[name] = replace(workload, twins=tuple(twins))
    return patched, keys


def measure_baseline(request: RunRequest, registry: dict[str, Workload], passes: int,
                     gap: float) -> Run:
    """The baseline's passes, `gap` seconds apart: the machine drifts with wall time, and
    passes seconds apart see less of that drift than a real baseline's passes do."""
    docs = []
    for index in range(1, passes + 1):
        if index > 1 and gap:
            err.print(f"waiting {gap:.0f} s before baseline pass {index}", highlight=False)
            time.sleep(gap)
        err.print(f"measuring baseline pass {index}/{passes}", highlight=False)
        result = execute(request, registry=registry)
        if result.interrupted:
            raise KeyboardInterrupt
        if result.run is None:
            raise BadInput("the baseline run produced nothing")
        docs.append(result.run.doc)
    return parse_run(merge_passes(docs))


# -- trials -------------------------------------------------------------------------------------

STAGES = ("first", "confirmed")  # the verdict after the first pass, and after confirmation


# How a trial was gated: "absolute" / "ratio" against a stored baseline (the two modes of
# `bench check --baseline`), or "interleaved" (`bench check --against`).
Gate = str


@dataclass(frozen=True)
class Trial:
    number: int
    experiment: str  # "A/A" | "slowdown"
    results: dict[tuple[Gate, str], CompareResult]  # (gate, stage) -> comparison
    slowed_keys: tuple[str, ...]
    seconds: float

    @property
    def gates(self) -> list[Gate]:
        return list(dict.fromkeys(gate for gate, _ in self.results))

    def alarms(self, gate: Gate, stage: str = "confirmed") -> list[str]:
        return [d.key for d in self.results[(gate, stage)].regressions]

    def false_alarms(self, gate: Gate, stage: str = "confirmed") -> list[str]:
        return [k for k in self.alarms(gate, stage) if k not in self.slowed_keys]

    def caught(self, gate: Gate, stage: str = "confirmed") -> list[str]:
        return [k for k in self.slowed_keys if k in self.alarms(gate, stage)]

    def slowed_changes(self, gate: Gate, stage: str = "confirmed") -> dict[str, float]:
        return {d.key: d.comparison.change for d in self.results[(gate, stage)].gated
                if d.key in self.slowed_keys and d.comparison is not None}

    def detectable(self, gate: Gate) -> dict[str, float | None]:
        return {d.key: d.comparison.detectable for d in self.results[(gate, "confirmed")].gated
                if d.comparison is not None}


def run_trials(baseline: Run, request: RunRequest, registry: dict[str, Workload],
               slowed: dict[str, Workload] | None, slowed_keys: list[str], trials: int,
               thresholds: Thresholds, confirm: int, keep: Path | None = None) -> list[Trial]:
    """Each trial measures once, then confirms the suspects of each mode separately, exactly
    as `bench check --mode MODE --confirm N` would (harness.run.confirm.confirm_suspects)."""
    out = []
    plan = ["A/A", "slowdown"] if slowed is not None else ["A/A"]
    for number in range(1, trials + 1):
        for experiment in plan:
            started = time.monotonic()
            twins = slowed if experiment == "slowdown" else registry
            first = execute(request, registry=twins)
            if first.interrupted:
                raise KeyboardInterrupt
            if first.run is None:
                raise BadInput(f"trial {number} ({experiment}) produced no run")
            results: dict[tuple[Gate, str], CompareResult] = {}
            for mode in Mode:
                def against_baseline(run: Run, mode: Mode = mode,
                                     name: str = f"trial {number}") -> CompareResult:
                    return compare_runs(baseline, run, thresholds=thresholds,
                                        mode=mode.value, base_name="baseline",
                                        current_name=name)

                results[(mode.value, "first")] = against_baseline(first.run)
                confirmed = confirm_suspects(first.run, request,
                                             lambda _run, first=results[(mode.value, "first")]:
                                             to_confirm(first),
                                             passes=confirm, registry=twins)
                if confirmed.interrupted or confirmed.run is None:
                    raise KeyboardInterrupt
                results[(mode.value, "confirmed")] = against_baseline(confirmed.run)
                if keep is not None and confirmed.run is not None:
                    tag = "aa" if experiment == "A/A" else "slow"
                    save_run(confirmed.run.doc,
                             keep / f"trial-{number:03d}-{tag}-{mode.value}.json", force=True,
                             make_dir=True)
            trial = Trial(number, experiment, results,
                          tuple(slowed_keys) if experiment == "slowdown" else (),
                          time.monotonic() - started)
            out.append(trial)
            _report(trial)
    return out


def _report(trial: Trial) -> None:
    cells = " | ".join(f"{gate} {_cell(trial, gate)}" for gate in trial.gates)
    err.print(f"trial {trial.number} {trial.experiment}: {cells} ({trial.seconds:.0f} s)",
              highlight=False)


def run_ab_trials(request: RunRequest, root: Path, slow_twin: str | None, slowdown: float,
                  trials: int, thresholds: Thresholds, confirm: int, pairs: int,
                  keep: Path | None = None, extend: float = 0.0) -> list[Trial]:
    """Each trial is one `bench check --against`: both sides measured now, interleaved
    round by round, suspects confirmed with more pairs — exactly harness.run.ab.measure_ab.
    Both sides run this tree's code; in a slowdown trial the current side's worker is
    scripts/slowed_worker.py, which makes `slow_twin` `slowdown` slower there only."""
    base = Side("base", root, sys.executable, "base")
    plain = Side("current", root, sys.executable, "current")
    slow = replace(plain, command=(sys.executable, str(Path(__file__).with_name(
        "slowed_worker.py")), str(slow_twin), str(slowdown)))
    out = []
    plan = ["A/A", "slowdown"] if slow_twin else ["A/A"]
    for number in range(1, trials + 1):
        for experiment in plan:
            started = time.monotonic()
            current = slow if experiment == "slowdown" else plain

            def compare(b: Run, c: Run, estimate: bool = False, name: str = f"trial {number}"
                        ) -> CompareResult:
                return judge(b, c, thresholds, name, estimate)

            measured = measure_ab(
                base, current, request, pairs=pairs, warmup=1, confirm=confirm,
                suspects=lambda b, c: to_confirm(compare(b, c, estimate=True)),
                extend=(lambda b, c: extra_pairs(compare(b, c, estimate=True), b, c,
                                                 seconds=extend)) if extend else None)
            if measured is None or measured.interrupted:
                raise KeyboardInterrupt
            first = measured.first or (measured.base, measured.current)
            results = {("interleaved", "first"): compare(*first),
                       ("interleaved", "confirmed"): compare(measured.base, measured.current)}
            if keep is not None:
                tag = "aa" if experiment == "A/A" else "slow"
                for side, run in (("base", measured.base), ("current", measured.current)):
                    save_run(run.doc, keep / f"trial-{number:03d}-{tag}-{side}.json",
                             force=True, make_dir=True)
            slowed = tuple(r.key for r in measured.current.benchmarks
                           if experiment == "slowdown" and r.twin == slow_twin)
            trial = Trial(number, experiment, results, slowed, time.monotonic() - started)
            out.append(trial)
            _report(trial)
    return out


def judge(base: Run, current: Run, thresholds: Thresholds, name: str,
          estimate: bool = False) -> CompareResult:
    """A trial's comparison, as `bench check --against` makes it (live or kept trials)."""
    return compare_runs(base, current, thresholds=thresholds, base_name="base",
                        current_name=name, estimate=estimate)


@dataclass(frozen=True)
class Rescored:
    trials: list[Trial]
    plain_seconds: list[float]  # each directory's plain run, when its report had one
    first: list[tuple[str, Run, Run]]  # (experiment, base, current) of each trial's first stage


def rescore_trials(dirs: list[Path], slow_twin: str | None, thresholds: Thresholds
                   ) -> Rescored:
    """The trials kept by `--against --keep DIR` runs, judged again by this tree's statistics
    and gate: "confirmed" from each side's run file as kept, "first" from its first pass
    (results.merge.first_pass). Trials are renumbered across the directories in order; the
    seconds of each trial and of the plain run come from DIR/report.json when it is there.
    Same measurements, today's verdicts: how a change of statistics would have done."""
    trials: list[Trial] = []
    plain: list[float] = []
    firsts: list[tuple[str, Run, Run]] = []
    for directory in dirs:
        report_file = directory / "report.json"
        kept = json.loads(report_file.read_text()) if report_file.is_file() else {}
        seconds = {(t["number"], t["experiment"]): float(t["seconds"])
                   for t in kept.get("trials", [])}
        if kept.get("plain_run_seconds"):
            plain.append(float(kept["plain_run_seconds"]))
        offset = max((t.number for t in trials), default=0)
        bases = sorted(directory.glob("trial-*-base.json"))
        if not bases:
            raise BadInput(f"{directory}: no trial-NNN-{{aa,slow}}-base.json run files")
        for base_path in bases:
            _, number_text, tag, _ = base_path.stem.split("-")
            number = int(number_text)
            experiment = "A/A" if tag == "aa" else "slowdown"
            base = load_run(base_path)
            current = load_run(base_path.with_name(base_path.name.replace("-base.", "-current.")))
            if experiment == "slowdown" and not slow_twin:
                raise BadInput("--rescore of slowdown trials needs --slow-twin")
            name = f"trial {offset + number}"
            first = (parse_run(first_pass(base.doc)), parse_run(first_pass(current.doc)))
            firsts.append((experiment, *first))
            results = {("interleaved", "first"): judge(*first, thresholds, name),
                       ("interleaved", "confirmed"): judge(base, current, thresholds, name)}
            slowed = tuple(r.key for r in current.benchmarks
                           if experiment == "slowdown" and r.twin == slow_twin)
            trials.append(Trial(offset + number, experiment, results, slowed,
                                seconds.get((number, experiment), math.nan)))
    return Rescored(trials, plain, firsts)


# -- summary ------------------------------------------------------------------------------------

def _cell(trial: Trial, mode: Gate) -> str:
    """What `bench check` would have said: exit code after confirmation (and before it)."""
    def exit_code(stage: str) -> int:  # as `bench check`: a failed twin fails the gate too
        return int(bool(trial.alarms(mode, stage) or trial.results[(mode, stage)].failures))

    first, final = exit_code("first"), exit_code("confirmed")
    text = f"exit {final}"
    if first != final:
        text += f" (exit {first} before confirmation)"
    caught = trial.caught(mode)
    for key, change in trial.slowed_changes(mode).items():
        scenario = key.split(":")[1]
        text += f"; {scenario} {change:+.1%} {'caught' if key in caught else 'missed'}"
    alarms = trial.false_alarms(mode)
    if alarms:
        text += f"; false alarm: {', '.join(alarms)}"
    return text


def summary(trials: list[Trial]) -> dict[str, Any]:
    aa = [t for t in trials if t.experiment == "A/A"]
    slow = [t for t in trials if t.experiment == "slowdown"]
    out: dict[str, Any] = {}
    for mode in trials[0].gates if trials else []:
        for stage in STAGES:
            entry: dict[str, Any] = {
                "aa_trials": len(aa),
                "aa_false_alarm_checks": sum(bool(t.alarms(mode, stage)) for t in aa),
                "aa_false_alarm_benchmarks": sum(len(t.alarms(mode, stage)) for t in aa),
                "aa_benchmarks_compared": sum(len(t.results[(mode, stage)].compared)
                                              for t in aa),
                "slowdown_trials": len(slow),
                "slowdown_checks_failed": sum(bool(t.caught(mode, stage)) for t in slow),
                "slowdown_benchmarks_caught": sum(len(t.caught(mode, stage)) for t in slow),
                "slowdown_benchmarks": sum(len(t.slowed_keys) for t in slow),
                "slowdown_other_false_alarms": sum(len(t.false_alarms(mode, stage))
                                                   for t in slow),
            }
            changes = [c for t in slow for c in t.slowed_changes(mode, stage).values()]
            entry["slowdown_median_measured_change"] = (statistics.median(changes) if changes
                                                        else None)
            out[f"{mode}, {stage}"] = entry
    return out


def detectability(trials: list[Trial]) -> dict[str, dict[str, float | None]]:
    """Per mode and benchmark: median over trials of the smallest detectable slowdown."""
    out: dict[str, dict[str, float | None]] = {}
    for mode in trials[0].gates if trials else []:
        values: dict[str, list[float]] = {}
        for t in trials:
            for key, value in t.detectable(mode).items():
                if value is not None:
                    values.setdefault(key, []).append(value)
        out[mode] = {k: statistics.median(v) for k, v in values.items()}
    return out


def render(trials: list[Trial], info: dict[str, Any]) -> tuple[Table, Table, str]:
    stats = summary(trials)
    head = Table(title="gate quality", title_justify="left")
    headers = ["gating on, verdict", "A/A false alarms (checks)",
               "A/A false alarms (benchmarks)", "slowdown: checks failed",
               "slowdown: benchmarks caught", "other alarms in slowdown trials",
               "median measured change of slowed twin"]
    for h in headers:
        head.add_column(h, justify="left" if h == headers[0] else "right")
    md = ["## Gate quality", "", f"{info['description']}", "",
          "| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    for label, s in stats.items():
        change = s["slowdown_median_measured_change"]
        cells = [label, f"{s['aa_false_alarm_checks']}/{s['aa_trials']}",
                 f"{s['aa_false_alarm_benchmarks']}/{s['aa_benchmarks_compared']}",
                 f"{s['slowdown_checks_failed']}/{s['slowdown_trials']}",
                 f"{s['slowdown_benchmarks_caught']}/{s['slowdown_benchmarks']}",
                 str(s["slowdown_other_false_alarms"]),
                 "—" if change is None else f"{change:+.1%}"]
        head.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    md += ["", "Smallest detectable slowdown after confirmation (median over trials):", "",
           "| mode | benchmark | detectable |", "| --- | --- | ---: |"]
    for mode, per_key in detectability(trials).items():
        md += [f"| {mode} | `{k}` | {v:.1%} |" for k, v in per_key.items() if v is not None]
    gates = trials[0].gates if trials else []
    names = {"absolute": "absolute", "ratio": "in-run ratio", "interleaved": "interleaved"}
    per = Table(title="per trial", title_justify="left")
    for h in ("trial", "experiment", *(names[g] for g in gates), "seconds"):
        per.add_column(h)
    md += ["", "| trial | experiment | " + " | ".join(names[g] for g in gates) + " | seconds |",
           "| --- | --- | " + " | ".join("---" for _ in gates) + " | ---: |"]
    for t in trials:
        cells = [str(t.number), t.experiment, *(_cell(t, g) for g in gates),
                 "—" if math.isnan(t.seconds) else f"{t.seconds:.0f}"]
        per.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    return head, per, "\n".join(md) + "\n"


def main(
    workload: Annotated[list[str] | None, typer.Option("--workload", "-w")] = None,
    scenario: Annotated[list[str] | None, typer.Option("--scenario", "-s")] = None,
    twin: Annotated[list[str] | None, typer.Option("--twin", "-t")] = None,
    profile: Annotated[str, typer.Option("--profile", "-p")] = "default",
    trials: Annotated[int, typer.Option("--trials", "-k", min=1)] = 10,
    baseline_passes: Annotated[int, typer.Option(
        "--baseline-passes", min=1, help="Passes of the baseline measured first.")] = 3,
    baseline_gap: Annotated[float, typer.Option(
        "--baseline-gap", min=0.0,
        help="Seconds to wait between baseline passes, so that they are as far apart as in "
             "a `bench all --passes N` baseline (a pass of everything took 19 min here).")] = 0.0,
    confirm: Annotated[int, typer.Option(
        "--confirm", min=0, help="As `bench check --confirm`.")] = 2,
    baseline: Annotated[Path | None, typer.Option(
        "--baseline", help="Reuse this run (and its profile/loop/selection) as baseline.")
    ] = None,
    save_baseline: Annotated[Path | None, typer.Option("--save-baseline")] = None,
    slow_twin: Annotated[str | None, typer.Option(
        "--slow-twin", help="Twin to slow down (default: the first async twin measured); "
                            "'none' runs A/A only.")] = None,
    slowdown: Annotated[float, typer.Option("--slowdown", min=0.0)] = 0.10,
    max_regression: Annotated[str | None, typer.Option("--max-regression")] = None,
    markdown: Annotated[Path | None, typer.Option("--markdown")] = None,
    json_path: Annotated[Path | None, typer.Option("--json")] = None,
    keep: Annotated[Path | None, typer.Option(
        "--keep", help="Save every trial's run file in this directory.")] = None,
    against: Annotated[bool, typer.Option(
        "--against", help="Gate as `bench check --against` does: both sides measured now, "
                          "interleaved round by round (no stored baseline).")] = False,
    pairs: Annotated[int, typer.Option("--pairs", min=8, help="As `bench check --pairs`.")
                     ] = DEFAULT_PAIRS,
    extend: Annotated[float, typer.Option(
        "--extend", min=0.0, help="As `bench check --extend` (with --against).")] = 0.0,
    rescore: Annotated[list[Path] | None, typer.Option(
        "--rescore", help="Measure nothing: judge the trials kept in this --keep directory "
                          "of earlier --against runs again, with this tree's statistics "
                          "(repeatable: the directories' trials are pooled in order).")
    ] = None,
    max_instructions: Annotated[str | None, typer.Option(
        "--max-instructions-regression", help="With --counted: as `bench check`.")] = None,
    counted: Annotated[bool, typer.Option(
        "--counted", help="Gate as `bench check --against --count --no-time` does: A/A, "
                          "--slow-twin made 2% and 5% costlier in CPU, and with keep-alive "
                          "off, each trial counted under valgrind (scripts/count_quality.py)."
    )] = False,
) -> None:
    """A/A false alarms and injected-slowdown detection of `bench check`."""
    if counted:
        from count_quality import main_counted, rescore_counted

        with bad_input_exits():
            request = RunRequest(Selection(tuple(workload or ()), tuple(twin or ()),
                                           tuple(scenario or ())), profile=profile)
            config = load_config(max_regression=max_regression,
                                 max_instructions=max_instructions)
        if rescore:
            for directory in rescore:
                rescore_counted(directory, slow_twin or "aiohttp", config, markdown,
                                json_path)
            return
        main_counted(request, slow_twin or "aiohttp", trials, config, markdown, json_path,
                     keep)
        return
    if rescore:
        with bad_input_exits():
            thresholds = load_config(max_regression=max_regression).thresholds
            main_rescore(rescore, slow_twin, thresholds, markdown, json_path)
        return
    if against:
        with bad_input_exits():
            if baseline is not None or save_baseline is not None:
                raise BadInput("--against measures both sides now: no --baseline")
            thresholds = load_config(max_regression=max_regression).thresholds
            request = RunRequest(Selection(tuple(workload or ()), tuple(twin or ()),
                                           tuple(scenario or ())), profile=profile)
        main_against(request, thresholds, slow_twin, slowdown, trials, confirm, pairs,
                     markdown, json_path, keep, extend)
        return
    with bad_input_exits():
        thresholds = load_config(max_regression=max_regression).thresholds
        registry = discover()
        if baseline is not None:
            if workload or scenario or twin or profile != "default":
                raise BadInput("--baseline fixes the selection and profile; drop --workload/"
                               "--scenario/--twin/--profile")
            base_run = load_run(baseline)
            request = request_like(base_run.meta)
        else:
            request = RunRequest(Selection(tuple(workload or ()), tuple(twin or ()),
                                           tuple(scenario or ())), profile=profile)
            base_run = measure_baseline(request, registry, baseline_passes, baseline_gap)
            if save_baseline is not None:
                save_run(base_run.doc, save_baseline, force=True, make_dir=True)
        name = slow_twin or next((r.twin for r in base_run.benchmarks if r.kind == "async"),
                                 None)
        slowed: dict[str, Workload] | None = None
        keys: list[str] = []
        if name and name != "none":
            slowed, keys = slowed_registry(registry, base_run, name, slowdown)
    results = run_trials(base_run, request, registry, slowed, keys, trials, thresholds, confirm,
                         keep)
    scenarios = ", ".join(dict.fromkeys(f"{r.workload}:{r.scenario}"
                                        for r in base_run.benchmarks))
    passes = max(len(r.passes) for r in base_run.benchmarks)
    gap = f" {baseline_gap:.0f} s apart" if baseline_gap and baseline is None else ""
    description = (f"Baseline: profile {request.profile}, {passes} pass(es){gap}, "
                   f"{len(base_run.benchmarks)} benchmarks ({scenarios}); {trials} trial(s) "
                   "each of A/A" + (f" and {name} {slowdown:.0%} slower" if slowed else "")
                   + f"; each trial one pass, suspects confirmed with {confirm} more; "
                   f"default threshold {thresholds.default:.0%}, alpha "
                   f"{results[0].results[('absolute', 'first')].alpha}.")
    report(results, description, markdown, [json_path], warnings=True)


def main_against(request: RunRequest, thresholds: Thresholds, slow_twin: str | None,
                 slowdown: float, trials: int, confirm: int, pairs: int,
                 markdown: Path | None, json_path: Path | None, keep: Path | None,
                 extend: float = 0.0) -> None:
    root = Path(__file__).resolve().parents[1]
    err.print("timing one plain run of the same selection, for comparison", highlight=False)
    started = time.monotonic()
    plain = execute(request)
    plain_seconds = time.monotonic() - started
    if plain.run is None:
        raise SystemExit("the plain run produced nothing")
    name = slow_twin or next((r.twin for r in plain.run.benchmarks if r.kind == "async"), None)
    name = None if name == "none" else name
    results = run_ab_trials(request, root, name, slowdown, trials, thresholds, confirm, pairs,
                            keep, extend)
    checks = sorted(t.seconds for t in results)
    ratio = statistics.median(checks) / plain_seconds
    scenarios = ", ".join(dict.fromkeys(f"{r.workload}:{r.scenario}"
                                        for r in plain.run.benchmarks))
    description = (f"Interleaved (`bench check --against`): profile {request.profile}, "
                   f"{len(plain.run.benchmarks)} benchmarks ({scenarios}); {trials} trial(s) "
                   "each of A/A" + (f" and {name} {slowdown:.0%} slower on the current side"
                                    if name else "")
                   + f"; each trial {pairs} ABBA pairs per benchmark, suspects confirmed with "
                   f"{confirm * pairs} more"
                   + (f", benchmarks too noisy for their threshold extended by up to "
                      f"{extend:g} s of pairs (--extend)" if extend else "")
                   + f"; default threshold {thresholds.default:.0%}, alpha "
                   f"{results[0].results[('interleaved', 'first')].alpha}. Wall time: one "
                   f"plain `bench run` of the selection {plain_seconds:.0f} s; one check "
                   f"(median) {statistics.median(checks):.0f} s = {ratio:.2f}x.")
    report(results, description, markdown,
           [json_path, keep / "report.json" if keep is not None else None], warnings=False,
           plain_run_seconds=plain_seconds)


def noise(firsts: list[tuple[str, Run, Run]], goal: float = 0.10) -> tuple[Table, str]:
    """Per benchmark, over the A/A trials' first stage (`Rescored.first`): how long a pair
    takes, how much the log ratios of its pairs scatter (standard deviation, and 1.4826 x
    MAD, the spread the signed-rank test follows), and the pairs — and seconds — that spread
    needs for a detectable slowdown of `goal` (stats.pairs_needed). What it would take, benchmark by
    benchmark, to see `goal` on this machine."""
    rows: dict[str, list[tuple[float, float, float, int]]] = {}
    for base, current in ((b, c) for experiment, b, c in firsts if experiment == "A/A"):
        by_key = {r.key: r for r in current.benchmarks}
        for b in base.benchmarks:
            c = by_key.get(b.key)
            if c is None or len(b.data) != len(c.data):
                continue
            d = [math.log(y / x) for x, y in zip(b.data, c.data, strict=True)]
            centre = statistics.median(d)
            mad = 1.4826 * statistics.median([abs(x - centre) for x in d])
            rows.setdefault(b.key, []).append((
                b.median + c.median, statistics.stdev(d), mad,
                pairs_needed(b.passes, c.passes, goal=goal)))
    headers = ["benchmark", "trials", "one pair", "sd of log ratios", "1.4826 x MAD",
               f"pairs for {goal:.0%}", "their seconds"]
    table = Table(title=f"what seeing {goal:.0%} takes, per benchmark (A/A trials, first "
                        "stage, medians)", title_justify="left")
    for h in headers:
        table.add_column(h, justify="left" if h == "benchmark" else "right")
    md = ["", f"What a detectable slowdown of {goal:.0%} would take (A/A trials, first stage, "
          "medians over trials):", "", "| " + " | ".join(headers) + " |",
          "| --- |" + " ---: |" * (len(headers) - 1)]
    for key, values in rows.items():
        pair_s = statistics.median(v[0] for v in values)
        need = round(statistics.median(v[3] for v in values))
        cells = [f"`{key}`", str(len(values)), f"{pair_s:.2f} s",
                 f"{statistics.median(v[1] for v in values):.3f}",
                 f"{statistics.median(v[2] for v in values):.3f}", str(need),
                 f"{need * pair_s:.0f} s"]
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    return table, "\n".join(md) + "\n"


def main_rescore(dirs: list[Path], slow_twin: str | None, thresholds: Thresholds,
                 markdown: Path | None, json_path: Path | None) -> None:
    for directory in dirs:
        if not directory.is_dir():
            raise BadInput(f"--rescore {directory}: not a directory")
    rescored = rescore_trials(dirs, slow_twin, thresholds)
    results, plain = rescored.trials, rescored.plain_seconds
    aa = sum(t.experiment == "A/A" for t in results)
    slow = len(results) - aa
    sample = rescored.first[0][1]
    ab = sample.meta.get("ab") or {}
    scenarios = ", ".join(dict.fromkeys(f"{r.workload}:{r.scenario}"
                                        for r in sample.benchmarks))
    checks = [t.seconds for t in results if not math.isnan(t.seconds)]
    wall = ""
    if checks and plain:
        ratio = statistics.median(checks) / statistics.median(plain)
        wall = (f" Wall time (as measured then): one plain `bench run` of the selection "
                f"{statistics.median(plain):.0f} s; one check (median) "
                f"{statistics.median(checks):.0f} s = {ratio:.2f}x.")
    description = (f"Re-scored (`--rescore`, this tree's statistics) from {len(dirs)} kept "
                   f"run(s): profile {sample.meta.get('profile')}, {len(sample.benchmarks)} "
                   f"benchmarks ({scenarios}); {aa} A/A trial(s) and {slow} with {slow_twin} "
                   f"slower on the current side; {ab.get('rounds')} ABBA pairs per benchmark "
                   f"and trial, then the suspects' confirmation rounds as kept; default "
                   f"threshold {thresholds.default:.0%}, alpha "
                   f"{results[0].results[('interleaved', 'first')].alpha}.{wall}")
    report(results, description, markdown, [json_path], warnings=False,
           plain_run_seconds=statistics.median(plain) if plain else None)
    table, md = noise(rescored.first)
    console.print(table)
    if markdown is not None:
        with markdown.open("a") as out:
            out.write(md)


def report(results: list[Trial], description: str, markdown: Path | None,
           json_paths: list[Path | None], *, warnings: bool, **extra: Any) -> None:
    """The tables on the terminal, then --markdown and the JSON report (to --json, and to
    --keep's directory so that --rescore finds each trial's seconds): one cell per gate a
    trial was judged by (absolute and ratio, or interleaved) and its alarms at each stage."""
    head, per, md = render(results, {"description": description})
    console.print(description, highlight=False)
    if warnings:
        for warning in dict.fromkeys(w for t in results for r in t.results.values()
                                     for w in r.warnings):
            console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)
    console.print(head)
    console.print(per)
    if markdown is not None:
        markdown.write_text(md)
    text = json.dumps({
        "description": description, "summary": summary(results),
        "detectable": detectability(results), **extra,
        "trials": [{"number": t.number, "experiment": t.experiment,
                    "seconds": None if math.isnan(t.seconds) else t.seconds,
                    **{gate: _cell(t, gate) for gate in t.gates},
                    "alarms": {f"{gate}, {stage}": t.alarms(gate, stage)
                               for gate in t.gates for stage in STAGES}}
                   for t in results],
    }, indent=2)
    for path in json_paths:
        if path is not None:
            path.write_text(text)


if __name__ == "__main__":
    try:
        typer.run(main)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
