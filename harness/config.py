"""`[tool.twinbench]` in the current directory's pyproject.toml: thresholds and workloads.

    [tool.twinbench]
    max-regression = 0.10                      # default for every benchmark
    workloads = ["bench/twins.py", "myteam.twins"]   # modules or paths outside this package
    [tool.twinbench.thresholds]                # exact "workload:scenario:twin" or glob
    "http_fetch:overhead:*" = 0.15

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


def load_config(pyproject: Path | None = None, max_regression: str | None = None) -> Config:
    """The configuration of ./pyproject.toml; `max_regression` (the CLI option) replaces the
    default threshold, per-benchmark entries still apply, being more specific. A missing file
    or section means the built-in defaults."""
    pyproject = pyproject if pyproject is not None else Path.cwd() / "pyproject.toml"
    table = _table(pyproject)
    where = f"{pyproject} [tool.twinbench]"
    default = DEFAULT_THRESHOLD
    if "max-regression" in table:
        default = parse_fraction(table["max-regression"], f"{where} max-regression")
    if max_regression is not None:
        default = parse_fraction(max_regression)
    per = table.get("thresholds", {})
    if not isinstance(per, dict):
        raise BadInput(f"{where}.thresholds must be a table of \"workload:scenario:twin\" = "
                       "fraction")
    entries = tuple((str(k), parse_fraction(v, f"{where}.thresholds {k!r}"))
                    for k, v in per.items())
    workloads = table.get("workloads", [])
    if not isinstance(workloads, list) or not all(isinstance(w, str) and w for w in workloads):
        raise BadInput(f"{where} workloads must be a list of module names or paths")
    return Config(Thresholds(default, entries), tuple(workloads), pyproject.parent)


def workload_sources(given: Sequence[str] | None, config: Config | None = None) -> tuple[str, ...]:
    """Where workloads come from besides the built-in package: `[tool.twinbench] workloads`
    of ./pyproject.toml (paths relative to it), then each `--workloads`."""
    config = config if config is not None else load_config()
    configured = tuple(w if Path(w).is_absolute() or not _looks_like_path(w)
                       else str(config.root / w) for w in config.workloads)
    return configured + tuple(given or ())


def _looks_like_path(source: str) -> bool:
    return source.endswith(".py") or "/" in source
