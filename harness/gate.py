"""`bench check`: thresholds, the pass/fail decision, and measuring CURRENT when it is not given.

The gate fails (exit 1) only on evidence: a benchmark whose verdict is SLOWER — median beyond
its threshold, Mann-Whitney p < alpha on the raw rounds, and the bootstrap CI of the ratio
above 1 — or a twin that failed in the current run (a wrong checksum is a broken twin, not a
slow one). Everything else (noise, added or removed benchmarks, changed parameters, too few
rounds) is listed and warned about but passes, so the gate stays quiet on noise.

No multiple-comparison correction across benchmarks: the dominant source of false alarms is
run-to-run drift shared by all rounds of a run, which a stricter alpha does not address; the
minimum effect size does. scripts/gate_quality.py measures the resulting false-alarm rate.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.compare import DEFAULT_THRESHOLD, CompareResult, Status, Thresholds
from harness.errors import BadInput
from harness.plugin import Listener
from harness.registry import Selection
from harness.results import Run
from harness.runner import RunRequest, RunResult, check_loop, execute, profile_named


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


def request_like(baseline: Run, pg_dsn: str | None = None) -> RunRequest:
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
    return RunRequest(selection=selection, profile=profile, loop=loop, pg_dsn=pg_dsn)


def measure_like(baseline: Run, listener: Listener | None = None,
                 pg_dsn: str | None = None) -> RunResult:
    """Run the baseline's benchmarks now, in this process."""
    return execute(request_like(baseline, pg_dsn), listener)
