"""`[tool.twinbench]` in the current directory's pyproject.toml: thresholds and workloads.

    [tool.twinbench]
    min-effect = "5%"                          # the smallest speedup a verdict calls
    max-regression = 0.10                      # default for every benchmark
    workloads = ["bench/twins.py", "myteam.twins"]   # modules or paths outside this package
    [tool.twinbench.thresholds]                # exact "workload:scenario:twin" or glob
    "http_fetch:overhead:*" = 0.15
    # counted channels (bench check --count)
    max-instructions-regression = 0.01         # under [tool.twinbench]
    accept-io-changes = ["pg_queries:*:asyncpg"]   # I/O changes of these pass the gate
    [tool.twinbench.instruction-thresholds]
    "http_fetch:*:httpx-threads" = 0.05

Below the analysis and run packages, which read it; it imports only `errors`.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from harness.errors import BadInput

DEFAULT_THRESHOLD = 0.10
# Instructions repeat to well under 1% where time scatters by 10-30%: their gate can be tight.
# 1%, not 2%: a threshold is the smallest rise that fails, so at 2% a 2% regression is caught
# about half the time; at 1% it was caught in every trial with no false alarm
# (docs/gate-quality.md), while 0.5% began to flag requests' thread pool (0.3% apart).
DEFAULT_INSTRUCTIONS_THRESHOLD = 0.01
# A scenario's verdict calls a speedup only beyond this (harness.analysis.sequential): a 1%
# difference is real to a test given enough rounds, and nobody ports code for it.
DEFAULT_MIN_EFFECT = 0.05
# Twins in turn: one this many times behind its side's best in its warm-up and every timed
# round so far stops (harness.analysis.sequential); the progress estimate expects it
# (harness.run.estimate).
FAR_BEHIND = 2.0


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


@dataclass(frozen=True)
class Thresholds:
    """Largest tolerated slowdown (fraction of the median), per benchmark.

    An exact key wins; otherwise the first glob pattern (in file order) matching the key;
    otherwise the default.
    """

    default: float = DEFAULT_THRESHOLD
    per_benchmark: tuple[tuple[str, float], ...] = ()

    def for_key(self, key: str) -> float:
        for pattern, value in self.per_benchmark:
            if pattern == key:
                return value
        for pattern, value in self.per_benchmark:
            if fnmatchcase(key, pattern):
                return value
        return self.default


@dataclass(frozen=True)
class Config:
    thresholds: Thresholds = Thresholds()
    workloads: tuple[str, ...] = ()  # modules or paths, as written
    root: Path = Path(".")  # where relative workload paths start
    instructions: Thresholds = Thresholds(DEFAULT_INSTRUCTIONS_THRESHOLD)
    # Benchmarks (exact keys or globs) whose change of I/O per operation is intended.
    accept_io: tuple[str, ...] = ()
    min_effect: float = DEFAULT_MIN_EFFECT

    def io_accepted(self, key: str) -> bool:
        return any(p == key or fnmatchcase(key, p) for p in self.accept_io)


def _table(pyproject: Path) -> dict[str, Any]:
    if not pyproject.is_file():
        return {}
    try:
        doc = tomllib.loads(pyproject.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as exc:
        raise BadInput(f"{pyproject}: invalid TOML ({exc})") from None
    table = doc.get("tool", {}).get("twinbench", {})
    if not isinstance(table, dict):
        raise BadInput(f"{pyproject}: [tool.twinbench] must be a table")
    return table


def _thresholds(table: dict[str, Any], where: str, key: str, per_key: str, fallback: float,
                given: str | None, option: str) -> Thresholds:
    default = fallback
    if key in table:
        default = parse_fraction(table[key], f"{where} {key}")
    if given is not None:
        default = parse_fraction(given, option)
    per = table.get(per_key, {})
    if not isinstance(per, dict):
        raise BadInput(f"{where}.{per_key} must be a table of \"workload:scenario:twin\" = "
                       "fraction")
    entries = tuple((str(k), parse_fraction(v, f"{where}.{per_key} {k!r}"))
                    for k, v in per.items())
    return Thresholds(default, entries)


def parse_min_effect(text: str | float, what: str = "--min-effect") -> float:
    """A smallest effect: a fraction below 100% ("5%", 0.05)."""
    value = parse_fraction(text, what)
    if value >= 1:
        raise BadInput(f"{what} must be between 0% and 100%, not {text}")
    return value


def load_config(pyproject: Path | None = None, max_regression: str | None = None,
                max_instructions: str | None = None, min_effect: str | None = None) -> Config:
    """The configuration of ./pyproject.toml; `max_regression` and `max_instructions` (the
    CLI options) replace the default thresholds, per-benchmark entries still apply, being
    more specific. A missing file or section means the built-in defaults."""
    pyproject = pyproject if pyproject is not None else Path.cwd() / "pyproject.toml"
    table = _table(pyproject)
    where = f"{pyproject} [tool.twinbench]"
    times = _thresholds(table, where, "max-regression", "thresholds", DEFAULT_THRESHOLD,
                        max_regression, "--max-regression")
    instructions = _thresholds(table, where, "max-instructions-regression",
                               "instruction-thresholds", DEFAULT_INSTRUCTIONS_THRESHOLD,
                               max_instructions, "--max-instructions-regression")
    workloads = table.get("workloads", [])
    if not isinstance(workloads, list) or not all(isinstance(w, str) and w for w in workloads):
        raise BadInput(f"{where} workloads must be a list of module names or paths")
    accept = table.get("accept-io-changes", [])
    if not isinstance(accept, list) or not all(isinstance(a, str) and a for a in accept):
        raise BadInput(f"{where} accept-io-changes must be a list of benchmark keys or globs "
                       "(\"workload:scenario:twin\")")
    effect = DEFAULT_MIN_EFFECT
    if "min-effect" in table:
        effect = parse_min_effect(table["min-effect"], f"{where} min-effect")
    if min_effect is not None:
        effect = parse_min_effect(min_effect)
    return Config(times, tuple(workloads), pyproject.parent, instructions, tuple(accept),
                  effect)


def workload_sources(given: Sequence[str] | None, config: Config | None = None) -> tuple[str, ...]:
    """Where workloads come from besides the built-in package: `[tool.twinbench] workloads`
    of ./pyproject.toml (paths relative to it), then each `--workloads`."""
    config = config if config is not None else load_config()
    configured = tuple(w if Path(w).is_absolute() or not _looks_like_path(w)
                       else str(config.root / w) for w in config.workloads)
    return configured + tuple(given or ())


def _looks_like_path(source: str) -> bool:
    return source.endswith(".py") or "/" in source
