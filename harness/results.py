"""The run file: pytest-benchmark's JSON plus a `twinbench` block; atomic save, strict load.

A run file stays readable by `pytest-benchmark compare` (the top level is pytest-benchmark's own
JSON, raw rounds included) and carries what comparing versions needs: schema version, profile,
git state, library versions, machine, peers. It is data that gets committed, so it must never
hold a secret, must never be half-written, and a loader must refuse anything it cannot trust.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from harness import __version__
from harness.errors import BadInput

# Schema changelog (bump SCHEMA_VERSION on any change a reader must know about):
#   1  first version: pytest-benchmark JSON (with raw rounds in stats.data) + `twinbench` block
#      {schema, harness_version, created, profile, loop, selection, git, python, libraries,
#       machine, peers, outcomes, complete}.
#   2  `twinbench.passes` (how many times the benchmarks were run over) and per benchmark
#      `extra_info.pass_rounds` (rounds per pass; `stats.data` is the passes' rounds in order).
#      A version-1 file reads as one pass.
SCHEMA_VERSION = 2

RESULTS_DIR = Path("results")
LIBRARIES = ("pytest-benchmark", "requests", "httpx", "aiohttp", "psycopg", "psycopg-pool",
             "asyncpg", "pgserver", "websockets", "uvloop", "rich", "typer")
_LABEL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_URI_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@/\s]*@", re.I)
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('[^']*'|\S+)", re.I)


class RunFileError(BadInput):
    """A run file that is missing, damaged, foreign or from an unknown schema."""


def redact(text: str) -> str:
    """Remove passwords from DSNs/URIs in any string that may reach output or a file."""
    return _KV_PASSWORD.sub(r"\1***", _URI_PASSWORD.sub(r"\g<scheme>:***@", text))


def _redact_tree(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _redact_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact_tree(v) for v in value]
    return value


# -- metadata ----------------------------------------------------------------------------------

def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_info() -> dict[str, Any]:
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "commit": _git("rev-parse", "HEAD"),
        "branch": _git("rev-parse", "--abbrev-ref", "HEAD"),
        "dirty": bool(status) if status is not None else None,
    }


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:
        return None


def machine_info() -> dict[str, Any]:
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
        "os": platform.platform(),
        "arch": platform.machine(),
    }


def metadata_block(*, profile: str, loop: str, selection: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA_VERSION,
        "harness_version": __version__,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "profile": profile,
        "loop": loop,
        "passes": 1,  # one pytest session; harness.passes adds up merged ones
        "selection": selection,
        "git": git_info(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "libraries": library_versions(),
        "machine": machine_info(),
        "complete": False,
    }


# -- paths and saving ---------------------------------------------------------------------------

def label_path(label: str, results_dir: Path = RESULTS_DIR) -> Path:
    """`results/LABEL.json`, refusing labels that would write anywhere else."""
    if not _LABEL.match(label) or ".." in label:
        raise BadInput(f"invalid label {label!r}: use letters, digits, '.', '_' and '-' "
                       "(it names a file under results/)")
    return results_dir / f"{label}.json"


def save_run(doc: dict[str, Any], path: Path, *, force: bool = False) -> Path:
    """Write atomically (temp file in the same directory, fsync, rename)."""
    if path.exists() and not force:
        raise BadInput(f"{path} exists; pass --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(_redact_tree(doc), indent=2, sort_keys=False, allow_nan=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- loading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchRecord:
    """One benchmark of a run, flattened for comparison and reporting."""

    name: str
    group: str
    workload: str
    twin: str
    kind: str
    label: str
    scenario: str
    params: dict[str, Any]
    ops: int
    checksum: str
    ideal_s: float | None
    efficiency: float | None
    data: tuple[float, ...]
    median: float
    q1: float
    q3: float
    extra: dict[str, Any] = field(default_factory=dict)
    pass_rounds: tuple[int, ...] = ()  # empty: one pass

    @property
    def passes(self) -> tuple[tuple[float, ...], ...]:
        """The rounds of each pass (harness.passes), in the order they ran."""
        if not self.pass_rounds:
            return (self.data,)
        out, start = [], 0
        for count in self.pass_rounds:
            out.append(self.data[start:start + count])
            start += count
        return tuple(out)

    @property
    def pass_spread(self) -> float | None:
        """How far apart the slowest and fastest pass medians are (None with one pass)."""
        if len(self.passes) < 2:
            return None
        medians = [statistics.median(p) for p in self.passes]
        return max(medians) / min(medians) - 1 if min(medians) > 0 else None

    @property
    def key(self) -> str:
        """Identity across runs: workload, scenario and twin (parameters may differ)."""
        return f"{self.workload}:{self.scenario}:{self.twin}"

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.median if self.median > 0 else math.nan


@dataclass(frozen=True)
class Run:
    path: Path | None
    doc: dict[str, Any]
    benchmarks: tuple[BenchRecord, ...]

    @property
    def meta(self) -> dict[str, Any]:
        return self.doc["twinbench"]

    @property
    def outcomes(self) -> dict[str, dict[str, str]]:
        return self.meta.get("outcomes", {})


def _reject_constant(name: str) -> float:
    raise ValueError(f"non-finite number {name}")


def _finite_float(text: str) -> float:
    # 1e999 parses to inf without ever reaching parse_constant.
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"non-finite number {text}")
    return value


def load_run(path: Path | str) -> Run:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise RunFileError(f"{path}: no such run file") from None
    except IsADirectoryError:
        raise RunFileError(f"{path}: is a directory, not a run file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(f"{path}: cannot read ({exc})") from None
    if not text.strip():
        raise RunFileError(f"{path}: empty file, not a run file")
    try:
        doc = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}: not valid JSON (truncated?): {exc.msg} at line "
                           f"{exc.lineno}") from None
    except ValueError as exc:
        raise RunFileError(f"{path}: {exc}; run files hold only finite numbers") from None
    return parse_run(doc, path)


def parse_run(doc: Any, path: Path | None = None) -> Run:
    where = str(path) if path else "run"
    if not isinstance(doc, dict) or not isinstance(doc.get("benchmarks"), list):
        raise RunFileError(f"{where}: not a benchmark run file (no 'benchmarks' list)")
    meta = doc.get("twinbench")
    if not isinstance(meta, dict):
        raise RunFileError(f"{where}: written by another tool (no 'twinbench' block); "
                           "save runs with `bench run --save LABEL`")
    schema = meta.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool):
        raise RunFileError(f"{where}: twinbench block has no schema version")
    if schema > SCHEMA_VERSION:
        raise RunFileError(f"{where}: schema {schema} is newer than this twinbench understands "
                           f"({SCHEMA_VERSION}); upgrade twinbench")
    if schema < 1:
        raise RunFileError(f"{where}: unknown schema version {schema}")
    try:
        records = tuple(_record(b) for b in doc["benchmarks"])
    except (KeyError, TypeError, ValueError) as exc:
        raise RunFileError(f"{where}: malformed benchmark entry ({exc})") from None
    return Run(path, doc, records)


def _record(bench: dict[str, Any]) -> BenchRecord:
    info = bench["extra_info"]
    stats = bench["stats"]
    data = tuple(float(x) for x in stats["data"])
    if not data or not all(math.isfinite(x) and x >= 0 for x in data):
        raise ValueError(f"{bench.get('name')}: raw rounds missing or not finite")
    pass_rounds = info.get("pass_rounds") or []
    if (not isinstance(pass_rounds, list)
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0
                       for n in pass_rounds)
            or (pass_rounds and sum(pass_rounds) != len(data))):
        raise ValueError(f"{bench.get('name')}: pass_rounds does not add up to the raw rounds")
    return BenchRecord(
        name=str(bench["name"]),
        group=str(bench.get("group") or ""),
        workload=str(info["workload"]),
        twin=str(info["twin"]),
        kind=str(info["kind"]),
        label=str(info.get("label") or info["twin"]),
        scenario=str(info["scenario"]),
        params=dict(info.get("params") or {}),
        ops=int(info.get("ops") or 0),
        checksum=str(info.get("checksum") or ""),
        ideal_s=info.get("ideal_s"),
        efficiency=info.get("efficiency"),
        data=data,
        median=float(stats["median"]),
        q1=float(stats["q1"]),
        q3=float(stats["q3"]),
        extra={k: v for k, v in info.items() if k not in _KNOWN_INFO},
        pass_rounds=tuple(pass_rounds) if len(pass_rounds) > 1 else (),
    )


_KNOWN_INFO = frozenset({"workload", "twin", "kind", "label", "scenario", "params", "ops",
                         "checksum", "ideal_s", "efficiency", "pass_rounds"})
