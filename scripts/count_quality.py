"""How good the counted gate is (`gate_quality.py --counted`): `bench check --against REF
--count --no-time`'s false alarms on unchanged code, and how often it catches a twin made a
known amount costlier in CPU, or one that changed its I/O.

Each trial counts the base side once and four candidates, every one a fresh worker under
valgrind, two at a time (counts do not depend on what the other core does):

* A/A — the same code;
* +2% and +5% CPU — TWIN's every operation does extra deterministic work after its own
  (harness.drivers.cpuwork.burn steps: scripts/changed_worker.py), as many steps as make
  that fraction of TWIN's instructions per operation (measured once before the trials, per
  scenario, with the instructions one burn step costs and what the wrapper that adds them
  costs by itself);
* keep-alive off — TWIN's HTTP session closes its connection after every request.

Each candidate is judged against the trial's base exactly as `bench check` judges (the
instructions channel at max-instructions-regression, the I/O channel as behaviour). The
four comparisons of a trial share its base count: what they test is the candidate's count.
The wall time of a check is that of counting the base and one candidate side by side; a
plain `bench run` of the selection (timed, alone) is measured once for comparison.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from harness.analysis.gate import GateResult, decide
from harness.cli.compare_cmds import judge
from harness.config import Config
from harness.errors import BadInput
from harness.leftovers import owned_tempdir
from harness.model.registry import Selection
from harness.procs import ChildProcess
from harness.results.files import save_run
from harness.results.runfile import Run, parse_run
from harness.run import callgrind
from harness.run.ab import Side
from harness.run.count import CountListener, Launch, count_cases, with_counts
from harness.run.runner import RunRequest, execute

console = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True)
HERE = Path(__file__).resolve().parent
EXPERIMENTS = ("A/A", "+2% CPU", "+5% CPU", "keep-alive off")


def params_key(params: Any) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def instructions_per_burn_step(steps: int = 200_000) -> float:
    """What one step of harness.drivers.cpuwork.burn costs under callgrind, counted."""
    code = ("import sys; from pathlib import Path; from harness.run.callgrind import Counting;"
            "from harness.drivers.cpuwork import burn; c = Counting(Path(sys.argv[1]));"
            f"c.start(); burn(1, {steps}); n, _ = c.stop('calibration'); "
            "print('{\"instructions\": %d}' % n, flush=True)")
    with owned_tempdir("twinbench-calibrate-") as tmp:
        argv = callgrind.command(callgrind.find_valgrind(), tmp,
                                 [callgrind.python_for(sys.executable), "-c", code, str(tmp)])
        proc = ChildProcess(argv, ready_timeout=120,
                            env=callgrind.counting_env(dict(os.environ)))
        try:
            info = proc.start()
        finally:
            proc.stop()
    return float(info["instructions"]) / steps


def count_side(side: Side, request: RunRequest) -> Run:
    """One side counted (as `--count --no-time` counts it) into a run of its own."""
    launch = Launch(argv=tuple(side.argv()), env=side.env(), cwd=side.root, label=side.name)
    counted = count_cases(request, CountListener(), launch=launch)
    doc = with_counts(None, counted)
    if doc is None:
        raise BadInput(f"{side.label}: nothing counted ({counted.failures or counted.warnings})")
    for case_id, outcome in counted.failures.items():  # a gate failure, and so an alarm
        err.print(f"{side.label}: {case_id} failed: {outcome.detail}", highlight=False,
                  markup=False)
    return parse_run(doc, allow_empty=True)


def count_together(sides: Sequence[Side], request: RunRequest) -> tuple[list[Run], float]:
    """Count `sides` at once, each in a thread of its own (each a valgrind worker)."""
    runs: dict[int, Run] = {}
    errors: list[BaseException] = []

    def one(index: int, side: Side) -> None:
        try:
            runs[index] = count_side(side, request)
        except BaseException as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=one, args=(i, s)) for i, s in enumerate(sides)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [runs[i] for i in range(len(sides))], time.monotonic() - started


@dataclass(frozen=True)
class CountedTrial:
    number: int
    experiment: str
    gate: GateResult
    changed: tuple[str, ...]  # the keys of the changed twin's benchmarks
    seconds: float  # counting the base and this candidate side by side

    @property
    def alarms(self) -> set[str]:
        """The benchmarks the gate failed on, by either counted channel."""
        return {d.key for d in self.gate.comparison.counted.regressions}

    @property
    def caught(self) -> list[str]:
        return sorted(self.alarms & set(self.changed))

    @property
    def false_alarms(self) -> list[str]:
        failures = [why for channel, why in self.gate.caught if channel == "failed"]
        return sorted(self.alarms - set(self.changed)) + failures

    def change(self, key: str) -> float | None:
        for d in self.gate.comparison.counted.instructions:
            if d.key == key and d.comparison is not None:
                return d.comparison.change
        return None


def main_counted(request: RunRequest, twin: str, trials: int, config: Config,
                 markdown: Path | None, json_path: Path | None, keep: Path | None) -> None:
    root = Path.cwd()
    base = Side("base", root, sys.executable, "base")
    plain = Side("current", root, sys.executable, "current")
    err.print("a plain `bench run` of the selection, for the time a check may take",
              highlight=False)
    started = time.monotonic()
    timed = execute(request)
    plain_s = time.monotonic() - started
    if timed.run is None:
        raise BadInput("the plain run produced nothing")
    per_step = instructions_per_burn_step()
    first, _ = count_together([base], request)
    per_op = {params_key(r.counted_params): r.instructions_per_op
              for r in first[0].benchmarks if r.twin == twin and r.instructions_per_op}
    if not per_op:
        raise BadInput(f"--slow-twin {twin}: not counted in this selection")

    worker = str(HERE / "changed_worker.py")
    # The wrapper that adds the work costs instructions of its own (a call, for an async twin a
    # coroutine): counted once with no work added, and taken off what the burn steps add.
    zero = json.dumps(dict.fromkeys(per_op, 0))
    (wrapped,), _ = count_together([replace(plain, command=(
        sys.executable, worker, "costlier", twin, zero))], request)
    overhead = {params_key(r.counted_params): (r.instructions_per_op or 0) - per_op.get(
        params_key(r.counted_params), 0) for r in wrapped.benchmarks if r.twin == twin}

    def steps(fraction: float) -> str:
        return json.dumps({k: max(0, round((fraction * v - overhead.get(k, 0)) / per_step))
                           for k, v in per_op.items()})

    candidates = {
        "A/A": plain,
        "+2% CPU": replace(plain, command=(sys.executable, worker, "costlier", twin,
                                           steps(0.02))),
        "+5% CPU": replace(plain, command=(sys.executable, worker, "costlier", twin,
                                           steps(0.05))),
        "keep-alive off": replace(plain, command=(sys.executable, worker, "no-keepalive",
                                                  twin)),
    }
    err.print(f"plain run {plain_s:.0f} s; one burn step {per_step:.1f} instructions; "
              f"{twin}'s instructions per op: {per_op}, the wrapper's own: {overhead}",
              highlight=False)
    results: list[CountedTrial] = []
    for number in range(1, trials + 1):
        (b, aa), pair_s = count_together([base, candidates["A/A"]], request)
        others, _ = count_together([candidates["+2% CPU"], candidates["+5% CPU"]], request)
        (ka,), _ = count_together([candidates["keep-alive off"]], request)
        runs = {"A/A": aa, "+2% CPU": others[0], "+5% CPU": others[1], "keep-alive off": ka}
        for experiment, run in runs.items():
            result = judge(b, run, config, "auto", "base", f"trial {number} {experiment}")
            gate = decide(result, config.thresholds)
            changed = () if experiment == "A/A" else tuple(
                r.key for r in run.benchmarks if r.twin == twin)
            trial = CountedTrial(number, experiment, gate, changed, pair_s)
            results.append(trial)
            err.print(f"trial {number} {experiment}: caught {trial.caught or '-'}; false "
                      f"alarms {trial.false_alarms or '-'}", highlight=False, markup=False)
            if keep is not None:
                save_run(run.doc, keep / f"trial-{number:03d}-{TAGS[experiment]}.json",
                         force=True, make_dir=True)
        if keep is not None:
            save_run(b.doc, keep / f"trial-{number:03d}-base.json", force=True, make_dir=True)
    paths = [json_path, keep / "report.json" if keep is not None else None]
    for path in paths:
        report(results, plain_s, twin, request, markdown, path,
               threshold=config.instructions.default)


TAGS = {"A/A": "AA", "+2% CPU": "+2-CPU", "+5% CPU": "+5-CPU",
        "keep-alive off": "keep-alive-off"}


def rescore_counted(directory: Path, twin: str, config: Config, markdown: Path | None,
                    json_path: Path | None) -> None:
    """The trials an earlier `--counted --keep DIR` kept, judged again with this tree's
    statistics and `config`'s thresholds (e.g. another max-instructions-regression). The
    seconds of each trial and of the plain run come from DIR/report.json."""
    from harness.results.files import load_run

    kept = json.loads((directory / "report.json").read_text())
    seconds = {(t["number"], t["experiment"]): t["seconds"] for t in kept["trials"]}
    results = []
    for base_file in sorted(directory.glob("trial-*-base.json")):
        number = int(base_file.name.split("-")[1])
        base = load_run(base_file)
        for experiment, tag in TAGS.items():
            path = directory / f"trial-{number:03d}-{tag}.json"
            if not path.is_file():
                continue
            run = load_run(path)
            result = judge(base, run, config, "auto", "base", f"trial {number} {experiment}")
            changed = () if experiment == "A/A" else tuple(
                r.key for r in run.benchmarks if r.twin == twin)
            results.append(CountedTrial(number, experiment, decide(result, config.thresholds),
                                        changed, seconds.get((number, experiment), 0.0)))
    request = RunRequest(Selection(**{k: tuple(v) for k, v in kept["selection"].items()}))
    report(results, float(kept["plain_s"]), twin, request, markdown, json_path,
           threshold=config.instructions.default)


def report(results: list[CountedTrial], plain_s: float, twin: str, request: RunRequest,
           markdown: Path | None, json_path: Path | None, threshold: float | None = None
           ) -> None:
    n = max(t.number for t in results)
    at = f", max-instructions-regression {threshold:.0%}" if threshold is not None else ""
    table = Table(title=f"the counted gate ({n} trials{at}): `bench check --against --count "
                        "--no-time`", title_justify="left")
    headers = ["experiment", "checks that failed", f"{twin} benchmarks caught",
               "other alarms", f"median measured change of {twin}"]
    for h in headers:
        table.add_column(h, justify="left" if h == "experiment" else "right")
    md = ["| " + " | ".join(headers) + " |", "| --- |" + " ---: |" * (len(headers) - 1)]
    summary: dict[str, Any] = {}
    for experiment in EXPERIMENTS:
        mine = [t for t in results if t.experiment == experiment]
        failed = sum(not t.gate.passed for t in mine)
        caught = sum(len(t.caught) for t in mine)
        changed = sum(len(t.changed) for t in mine)
        other = sum(len(t.false_alarms) for t in mine)
        changes = [c for t in mine for k in t.changed if (c := t.change(k)) is not None]
        cells = [experiment, f"{failed}/{len(mine)}",
                 f"{caught}/{changed}" if changed else "—", str(other),
                 f"{statistics.median(changes):+.2%}" if changes else "—"]
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
        summary[experiment] = {"checks": len(mine), "failed": failed, "caught": caught,
                               "changed": changed, "other_alarms": other}
    pairs = statistics.median(t.seconds for t in results)
    detects: dict[str, list[float]] = {}
    per_op: dict[str, list[float]] = {}
    for t in results:
        if t.experiment != "A/A":
            continue
        for d in t.gate.comparison.counted.instructions:
            if d.comparison is not None and d.comparison.detectable is not None:
                detects.setdefault(d.key, []).append(d.comparison.detectable)
                per_op.setdefault(d.key, []).append(d.comparison.base_median)
    repeat = Table(title="each benchmark's repeatability (A/A trials, medians)",
                   title_justify="left")
    heads = ["benchmark", "instructions/op", "detects", "worst detects"]
    for h in heads:
        repeat.add_column(h, justify="left" if h == "benchmark" else "right")
    md += ["", "| " + " | ".join(heads) + " |", "| --- |" + " ---: |" * 3]
    for key, values in detects.items():
        cells = [f"`{key}`", f"{statistics.median(per_op[key]):,.0f}",
                 f"{statistics.median(values):.2%}", f"{max(values):.2%}"]
        repeat.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    line = (f"one counted check (base and candidate side by side, median) {pairs:.0f} s; one "
            f"plain `bench run` of the selection {plain_s:.0f} s = {pairs / plain_s:.2f}x")
    console.print(table)
    console.print(repeat)
    console.print(line, highlight=False)
    md = ([f"max-instructions-regression {threshold:.0%}", ""] if threshold is not None
          else []) + md + ["", line, ""]
    if markdown is not None:
        markdown.write_text("\n".join(md))
    if json_path is not None:
        json_path.write_text(json.dumps({
            "selection": {"workloads": list(request.selection.workloads),
                          "scenarios": list(request.selection.scenarios),
                          "twins": list(request.selection.twins)},
            "plain_s": plain_s, "check_s": pairs, "summary": summary,
            "trials": [{"number": t.number, "experiment": t.experiment, "seconds": t.seconds,
                        "passed": t.gate.passed,
                        "caught": [{"channel": c, "reason": why} for c, why in t.gate.caught]}
                       for t in results]}, indent=2))
