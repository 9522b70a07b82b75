"""`bench check`: thresholds, the pass/fail decision, and measuring CURRENT when it is not given.

The gate fails (exit 1) only on evidence: a benchmark whose verdict is SLOWER — change beyond
its threshold, p < alpha and the CI above 1 (`stats.compare_passes`) — or a twin that failed
in the current run (a wrong checksum is a broken twin, not a slow one). Everything else (noise,
added or removed benchmarks, changed parameters, comparisons too weak to tell) is listed and
warned about but passes, so the gate stays quiet on noise.

Measured on this project's machines (scripts/gate_quality.py), most false alarms came from
noise shared by all rounds of a run — the machine was slower for a minute — which no test on
rounds can see. Hence the two defences here: baselines recorded with several passes, so the
test weighs the pass-to-pass spread; and confirmation, which re-measures only the benchmarks
that came out beyond their threshold before anything is believed. No multiple-comparison
correction across benchmarks: a stricter alpha does not address shared drift; passes do.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.compare import DEFAULT_THRESHOLD, CompareResult, Delta, Mode, Status, Thresholds
from harness.errors import BadInput
from harness.passes import merge_passes
from harness.plugin import Listener
from harness.registry import Selection, Workload, case_id
from harness.results import Run, parse_run
from harness.runner import RunRequest, check_loop, execute, profile_named


def parse_fraction(text: str | float, what: str = "--max-regression") -> float:
    """"10%", "0.1" or 0.1 -> 0.1. A plain number above 1 is refused rather than guessed at:
    "10" could mean 10% or 1000%."""
    raw = text.strip() if isinstance(text, str) else text
    percent = isinstance(raw, str) and raw.endswith("%")
    try:
        if isinstance(raw, bool):  # TOML `true` is an int to Python; refuse it
            raise ValueError
        value = float(raw[:-1]) / 100 if isinstance(raw, str) and percent else float(raw)
    except (TypeError, ValueError):
        raise BadInput(f"{what}: {text!r} is not a fraction; use e.g. 10% or 0.1") from None
    if not math.isfinite(value) or value < 0 or value > 10:
        raise BadInput(f"{what}: {text!r} is out of range; use e.g. 10% or 0.1")
    if value > 1 and not percent:
        raise BadInput(f"{what}: {text!r} is ambiguous; write {text}% or a fraction like 0.1")
    return value


def load_thresholds(pyproject: Path | None = None, override: str | None = None) -> Thresholds:
    """Thresholds from `[tool.twinbench]` of ./pyproject.toml, `--max-regression` on top.

        [tool.twinbench]
        max-regression = 0.10                      # default for every benchmark
        [tool.twinbench.thresholds]                # exact "workload:scenario:twin" or glob
        "http_fetch:overhead:*" = 0.15

    `--max-regression` replaces the default; per-benchmark entries still apply, being more
    specific. A missing file or section means the built-in 10%.
    """
    pyproject = pyproject if pyproject is not None else Path.cwd() / "pyproject.toml"
    table: dict[str, Any] = {}
    if pyproject.is_file():
        try:
            doc = tomllib.loads(pyproject.read_text())
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise BadInput(f"{pyproject}: invalid TOML ({exc})") from None
        table = doc.get("tool", {}).get("twinbench", {})
        if not isinstance(table, dict):
            raise BadInput(f"{pyproject}: [tool.twinbench] must be a table")
    where = f"{pyproject} [tool.twinbench]"
    default = DEFAULT_THRESHOLD
    if "max-regression" in table:
        default = parse_fraction(table["max-regression"], f"{where} max-regression")
    if override is not None:
        default = parse_fraction(override)
    per = table.get("thresholds", {})
    if not isinstance(per, dict):
        raise BadInput(f"{where}.thresholds must be a table of \"workload:scenario:twin\" = "
                       "fraction")
    entries = tuple((str(k), parse_fraction(v, f"{where}.thresholds {k!r}"))
                    for k, v in per.items())
    return Thresholds(default=default, per_benchmark=entries)


@dataclass(frozen=True)
class GateResult:
    comparison: CompareResult
    thresholds: Thresholds

    @property
    def reasons(self) -> list[str]:
        """Why the gate fails; empty when it passes."""
        out = []
        for d in self.comparison.regressions:
            c = d.comparison
            if c is None:  # e.g. an overload twin that served less of the work
                out.append(f"{d.key}: {d.verdict} ({d.detail})")
                continue
            out.append(f"{d.key} is {c.change:+.1%} slower (CI {c.ci_low - 1:+.1%} … "
                       f"{c.ci_high - 1:+.1%}, p={c.p_value:.2g}; threshold {d.threshold:.0%})")
        out.extend(f"failed: {f}" for f in self.comparison.failures)
        return out

    @property
    def passed(self) -> bool:
        return not self.reasons

    @property
    def exit_code(self) -> int:
        return 0 if self.passed else 1


def decide(comparison: CompareResult, thresholds: Thresholds) -> GateResult:
    """The gate's verdict; also refuses a check that compares nothing at all."""
    if not comparison.compared and not comparison.failures:
        stale = any(d.status is Status.PARAMS_DIFFER for d in comparison.absolute)
        hint = ("; their parameters differ: refresh the baseline" if stale
                else "; is it the right baseline?")
        raise BadInput(f"nothing to check: {comparison.base_name} and "
                       f"{comparison.current_name} share no comparable benchmark{hint}")
    return GateResult(comparison, thresholds)


def request_like(baseline: Run, pg_dsn: str | None = None, passes: int = 1) -> RunRequest:
    """A run request measuring what the baseline measured: its profile, loop and selection."""
    meta = baseline.meta
    profile = str(meta.get("profile") or "default")
    loop = str(meta.get("loop") or "asyncio")
    profile_named(profile)
    check_loop(loop)
    chosen = meta.get("selection") or {}

    def names(key: str) -> tuple[str, ...]:
        value = chosen.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise BadInput(f"baseline selection.{key} is not a list of names")
        return tuple(value)

    selection = Selection(names("workloads"), names("twins"), names("scenarios"))
    return RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn,
                      passes=passes)


def suspects(result: CompareResult) -> list[Delta]:
    """Gated benchmarks whose measured change is beyond their threshold, significant or not."""
    return [d for d in result.compared
            if d.comparison is not None and d.comparison.change > d.threshold]


def confirmation_cases(result: CompareResult, suspected: list[Delta]) -> tuple[str, ...]:
    """Case ids to re-measure: the suspects, and in ratio mode the twins they are divided by."""
    ids = {case_id(d.workload, d.scenario, d.twin) for d in suspected}
    if result.mode is Mode.RATIO:
        ids |= {case_id(d.workload, d.scenario, d.reference) for d in suspected if d.reference}
    return tuple(sorted(ids))


@dataclass
class Measurement:
    """What `bench check` measured: the run (confirmation passes merged in) and its
    comparison with the baseline; `run` is None when nothing produced a result."""

    run: Run | None
    comparison: CompareResult | None
    confirmed: tuple[str, ...] = ()
    interrupted: bool = False
    warnings: list[str] = field(default_factory=list)


def measure_and_confirm(request: RunRequest, compare: Callable[[Run], CompareResult], *,
                        confirm: int, listener: Listener | None = None,
                        registry: dict[str, Workload] | None = None,
                        announce: Callable[[str], None] = lambda _: None) -> Measurement:
    """Measure the baseline's benchmarks now, then `confirm_suspects`."""
    first = execute(request, listener, registry)
    if first.run is None or first.interrupted:
        return Measurement(first.run, None, interrupted=first.interrupted,
                           warnings=first.warnings)
    measured = confirm_suspects(first.run, compare(first.run), request, compare,
                                passes=confirm, listener=listener, registry=registry,
                                announce=announce)
    measured.warnings[:0] = first.warnings
    return measured


def confirm_suspects(run: Run, result: CompareResult, request: RunRequest,
                     compare: Callable[[Run], CompareResult], *, passes: int,
                     listener: Listener | None = None,
                     registry: dict[str, Workload] | None = None,
                     announce: Callable[[str], None] = lambda _: None) -> Measurement:
    """Re-measure suspects before believing them.

    A benchmark whose change is beyond its threshold gets `passes` more passes, just it (and
    its reference twin in ratio mode), once the first pass is over, and the verdict is taken over
    all its passes. One slow pass is most often the machine, not the code: the extra passes
    let the test see that noise and weigh it, at the cost of re-running only what looked slow.
    """
    suspected = suspects(result)
    if not suspected or passes < 1:
        return Measurement(run, result)
    cases = confirmation_cases(result, suspected)
    announce(f"{len(suspected)} benchmark(s) beyond threshold: "
             f"{', '.join(d.key for d in suspected)}; confirming with {passes} more "
             f"pass(es) of {len(cases)} benchmark(s)")
    again = execute(replace(request, selection=Selection(cases=cases), passes=passes),
                    listener, registry)
    if again.interrupted:
        return Measurement(run, None, cases, interrupted=True, warnings=again.warnings)
    if again.run is None:
        return Measurement(run, result, cases, warnings=[
            *again.warnings, "the confirmation passes produced no result: verdicts are "
                             "from the first measurement"])
    doc = merge_passes([run.doc, again.run.doc])
    doc["twinbench"]["confirmation"] = {"passes": passes, "cases": list(cases)}
    merged = parse_run(doc)
    return Measurement(merged, compare(merged), cases, warnings=again.warnings)
