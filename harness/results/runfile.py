"""The run file's schema, in one place: how a run document is built, changed, checked and read.

A run file stays readable by `pytest-benchmark compare` and github-action-benchmark (the top
level is pytest-benchmark's own JSON, raw rounds included in `stats.data`) and carries what
comparing versions needs in a top-level `twinbench` block and in each benchmark's `extra_info`.
Both are declared below as typed dicts; writers build them with the functions here, and the
loader validates a whole document against the same declarations before anything reads it.

Schema changelog (bump SCHEMA_VERSION on any change a reader must know about):
  1  pytest-benchmark JSON (raw rounds in stats.data) + `twinbench` block {schema,
     harness_version, created, profile, loop, selection, git, python, libraries, machine,
     peers, workloads (each workload's description and metric columns, so `bench show` needs
     no registry), outcomes (per case test id: outcome, detail), complete}. Per benchmark
     `extra_info` {workload, twin, kind, label, scenario, judged_by, params, ops, checksum,
     ideal_s, efficiency, loop, peer_busy, and the twin's own measurements}.
  2  `twinbench.passes` (how many times the benchmarks were run over) and per benchmark
     `extra_info.pass_rounds` (rounds per pass; `stats.data` is the passes' rounds in order);
     `twinbench.confirmation` {passes, cases} when `bench check` re-measured suspects.
     A version-1 file reads as one pass.
  3  What each twin costs, per benchmark in `extra_info`, over the timed rounds only:
     `cpu_s_per_round` (CPU seconds of the twin's own process in each timed round: the
     measuring process for client twins, the server for server twins), `wall_s_per_round`
     (the same windows' wall time), `peer_cpu_s_per_round` {peer: [seconds per round]},
     `threads_peak` and `rss_delta_bytes` (the measuring process's peak threads and RSS
     high-water mark over its level just before the rounds; client twins), and for server
     twins `p50_s_per_round` / `p99_s_per_round` (latency percentiles of each round, so a
     verdict judged by them has replicates). Per-round lists are concatenated across passes
     like `stats.data`. With `cpu_us`, `cpu_work_steps` and `cpu_proof` (the proof that every
     twin did the same CPU work after each op). `twinbench.sweep` {workload, scenario, waves,
     rounds, axes [{name, values}], points [{scenario, values}], skipped [{values, reason}]}
     when the run is a sweep (`bench sweep`): its scenarios are the grid's points; `rounds`,
     when set, is the fewest rounds per point (more than the profile's when it had too few
     for a verdict). `twinbench.ab`
     {session, side (base | current), label, order, rounds, warmup_rounds} when the run is
     one side of an interleaved A/B session (`bench check --against`): round i of each
     benchmark was measured next to round i of the other side's. Files of schema 1 and 2
     read with these absent.
     Per benchmark `extra_info.warnings` [{kind, message, count}]: what the benchmark warned
     (kind "warning"), could not raise ("unraisable", "thread") or logged at WARNING and
     above ("log") while it ran, most frequent first (harness.run.capture); absent when
     nothing was. Older files read as having none.
  4  What each operation did, counted: per benchmark `extra_info.io_per_op` {requests,
     connections, bytes_sent, bytes_received, statements, ctx_switches: per operation over
     the timed rounds; each only where it was counted}, `io_differs` {counter: why} (a twin
     whose I/O per operation differs from its scenario's other twins on purpose), and with
     `--count` (a worker under
     valgrind's callgrind counted the client twins: harness.run.count)
     `instructions_per_op` (median over the counted rounds), `instructions_per_round`
     (replicate after replicate), `count_replicates` (fresh set-ups they came from),
     `syscalls_per_op`, `syscalls_by_name_per_op` and `counted` {ops, params (the sizes the
     counted rounds ran at), io_per_op (what those rounds did)}; `twinbench.count` {tool,
     rounds, warmup_rounds, timed (false: nothing was timed, the rounds' times are
     valgrind's), valgrind (its version), failures {case id: why it was not counted}}.
     Async twins' loop health over the timed rounds (harness.drivers.health):
     `loop_lag_p50_s`, `loop_lag_p99_s`, `loop_lag_max_s` (how late a 5 ms probe ran),
     `loop_stalls` (probes later than `loop_stall_threshold_s`), `tasks_leaked` (tasks pending
     after the rounds that were not before them) and, with `--stalls`, `stall_sites`
     [{where, count}] (where the loop was held); `warnings` of kind "loop" say so.
     `core` (what does the twin's parsing and I/O: C, Cython, Rust or Python) and `library`
     (its I/O library: twins of one library in both models make the "async model alone"
     figure); `twinbench.workloads[w].twins` {name: {kind, core, library}} of the twins the
     run selected, so a same-library pair whose other side did not run is named as such.
     Files of schemas 1-3 read with these absent.

Loading is strict for every schema: a document must match the declarations below in full, be
at most MAX_FILE_BYTES and MAX_DEPTH deep, hold numbers a float can carry, positive rounds with
a median among them, at least one benchmark, and each benchmark (workload, scenario, twin) once.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, Required, cast

from annotated_types import Ge, Gt
from typing_extensions import TypedDict

from harness.errors import BadInput
from harness.model.case import CaseKey
from harness.model.physics import efficiency

SCHEMA_VERSION = 4
MAX_FILE_BYTES = 64 * 2**20  # a `bench all --passes 10` file is ~2 MB
MAX_DEPTH = 32  # the deepest a run file nests is ~8 (peers, params, failures)
MAX_INT = 2**63  # counts and bytes fit; a float can carry anything below
# `extra_info.interleaved.stopped` of a twin measured in turn that stopped its rounds early
# because it could not become its side's best (written by harness.run.interleave, read by
# harness.analysis.summary).
STOPPED_BEHIND = "cannot be its side's best"

OutcomeName = Literal["passed", "failed", "skipped"]
KindName = Literal["sync", "threads", "async"]
# pydantic's ConfigDict, spelt as a plain dict so that building a run file (in the measuring
# process) never imports pydantic; only loading one does. Files may carry more than we read.
_OPEN = {"extra": "allow", "strict": True}


class RunFileError(BadInput):
    """A run file that is missing, damaged, foreign or from an unknown schema."""


# -- the declarations --------------------------------------------------------------------------

Seconds = Annotated[float, Gt(0)]  # a round that took no time measured nothing
Count = Annotated[int, Ge(0)]


class StatsJson(TypedDict, total=False):
    """pytest-benchmark's statistics; twinbench reads the raw rounds and the quartiles."""

    data: Required[list[Seconds]]
    median: Required[Seconds]
    q1: Required[Seconds]
    q3: Required[Seconds]
    iterations: Count


class WarningJson(TypedDict):
    """One distinct thing a benchmark warned, logged or could not raise (harness.run.capture)."""

    kind: str
    message: str
    count: Count


class CountedJson(TypedDict, total=False):
    """The sizes a benchmark's counted rounds ran at, and what they did."""

    ops: Count
    params: dict[str, Any]
    io_per_op: dict[str, float]


class ExtraInfo(TypedDict, total=False):
    """What the plugin records per benchmark, beside the twin's own measurements."""

    workload: Required[str]
    twin: Required[str]
    kind: Required[KindName]
    scenario: Required[str]
    label: str
    judged_by: str | None
    params: dict[str, Any]
    ops: Count
    checksum: str
    ideal_s: float | None
    efficiency: float | None
    loop: str | None
    peer_busy: dict[str, float]
    pass_rounds: list[Annotated[int, Gt(0)]]
    cpu_s_per_round: list[float] | None
    wall_s_per_round: list[float] | None
    peer_cpu_s_per_round: dict[str, list[float]] | None
    threads_peak: int | None
    rss_delta_bytes: int | None
    p50_s_per_round: list[float] | None
    p99_s_per_round: list[float] | None
    warnings: list[WarningJson]
    io_per_op: dict[str, Annotated[float, Ge(0)]]
    io_differs: dict[str, str]
    core: Literal["C", "Cython", "Rust", "Python"]
    library: str
    instructions_per_op: Count
    instructions_per_round: list[Count]
    count_replicates: Annotated[int, Gt(0)]
    syscalls_per_op: Annotated[float, Ge(0)]
    syscalls_by_name_per_op: dict[str, Annotated[float, Ge(0)]]
    counted: CountedJson
    loop_lag_p50_s: Annotated[float, Ge(0)]
    loop_lag_p99_s: Annotated[float, Ge(0)]
    loop_lag_max_s: Annotated[float, Ge(0)]
    loop_stalls: Count
    loop_stall_threshold_s: Annotated[float, Gt(0)]
    tasks_leaked: Count
    stall_sites: list[dict[str, Any]]


class BenchmarkJson(TypedDict, total=False):
    name: Required[str]
    group: str | None
    stats: Required[StatsJson]
    extra_info: Required[ExtraInfo]


class OutcomeJson(TypedDict):
    outcome: OutcomeName
    detail: NotRequired[str]


class MetricJson(TypedDict):
    key: str
    header: str
    unit: NotRequired[str]


class TwinJson(TypedDict, total=False):
    kind: Required[str]
    core: str
    library: str


class WorkloadJson(TypedDict, total=False):
    description: str
    metrics: list[MetricJson]
    twins: dict[str, TwinJson]


class GitJson(TypedDict, total=False):
    commit: str | None
    branch: str | None
    dirty: bool | None


class MachineJson(TypedDict, total=False):
    cpu: str | None
    cores: int | None
    memory_bytes: int | None
    os: str | None
    arch: str | None


class ConfirmationJson(TypedDict):
    passes: int
    cases: list[str]


class SweepJson(TypedDict, total=False):
    workload: Required[str]
    scenario: Required[str]
    waves: int | None
    rounds: int | None
    axes: Required[list[dict[str, Any]]]
    points: Required[list[dict[str, Any]]]
    skipped: list[dict[str, Any]]


class AbJson(TypedDict, total=False):
    session: Required[str]
    side: Required[Literal["base", "current"]]
    label: str
    order: str
    rounds: int | None
    warmup_rounds: int | None


class CountJson(TypedDict, total=False):
    tool: str
    rounds: int
    replicates: int
    warmup_rounds: int
    timed: bool
    valgrind: str | None
    failures: dict[str, str]


class Block(TypedDict, total=False):
    """The `twinbench` block (see the changelog above)."""

    schema: Required[int]
    harness_version: str
    created: str
    profile: str
    loop: str
    passes: Annotated[int, Gt(0)]
    selection: dict[str, list[str]]
    git: GitJson
    python: dict[str, str]
    libraries: dict[str, str | None]
    machine: MachineJson
    peers: dict[str, dict[str, Any]]
    workloads: dict[str, WorkloadJson]
    outcomes: dict[str, OutcomeJson]
    complete: bool
    confirmation: ConfirmationJson
    sweep: SweepJson
    ab: AbJson
    count: CountJson


class RunJson(TypedDict, total=False):
    benchmarks: Required[list[BenchmarkJson]]
    twinbench: Required[Block]


_VALIDATOR: Any = None
_SCHEMAS = (StatsJson, WarningJson, CountedJson, ExtraInfo, BenchmarkJson, OutcomeJson,
            MetricJson, TwinJson, WorkloadJson, GitJson, MachineJson, ConfirmationJson,
            SweepJson, AbJson, CountJson, Block, RunJson)


def _validate(doc: dict[str, Any]) -> str | None:
    """None if `doc` matches the declarations, else where and how it does not."""
    from pydantic import TypeAdapter, ValidationError

    global _VALIDATOR
    if _VALIDATOR is None:
        for schema in _SCHEMAS:  # read by pydantic; kept off the classes for type checkers
            setattr(schema, "__pydantic_config__", _OPEN)  # noqa: B010
        _VALIDATOR = TypeAdapter(RunJson)
    try:
        _VALIDATOR.validate_python(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        what = "benchmark entry" if first["loc"][:1] == ("benchmarks",) else "twinbench block"
        return f"malformed {what} at {_where(first['loc'])}: {first['msg']}"
    return None


MAX_WARNINGS = 10  # distinct messages kept per benchmark; the rest are folded into one entry


def warnings_json(counts: Mapping[tuple[str, str], int]) -> list[WarningJson]:
    """`extra_info.warnings` from counts per (kind, message): the most frequent first, the
    tail beyond MAX_WARNINGS folded into one entry (a twin may warn with a new fd each time)."""
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    kept: list[WarningJson] = [{"kind": kind, "message": message, "count": n}
                               for (kind, message), n in ranked[:MAX_WARNINGS]]
    rest = ranked[MAX_WARNINGS:]
    if rest:
        kept.append({"kind": "other", "message": f"{len(rest)} more distinct messages",
                     "count": sum(n for _, n in rest)})
    return kept


# -- outcomes -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """How one case ended. Keyed in the file by the case's test id (see CaseKey)."""

    case_id: str
    outcome: str  # passed | failed | skipped
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.outcome == "failed"


def outcomes_json(outcomes: Iterable[Outcome]) -> dict[str, OutcomeJson]:
    return {o.case_id: {"outcome": cast(OutcomeName, o.outcome), "detail": o.detail}
            for o in outcomes}


def outcomes_of(block: Mapping[str, Any]) -> dict[str, Outcome]:
    raw = block.get("outcomes") or {}
    return {k: Outcome(k, str(v["outcome"]), str(v.get("detail", ""))) for k, v in raw.items()}


# -- building a run document (the plugin and the runner) ---------------------------------------

def case_info(key: CaseKey, *, kind: str, label: str, judged_by: str | None,
              params: Mapping[str, Any], ops: int, checksum: int, ideal_s: float | None,
              median: float, loop: str | None, peer_busy: Mapping[str, float],
              measured: Mapping[str, Any]) -> dict[str, Any]:
    """One benchmark's `extra_info`: identity, parameters, the physics yardstick and the
    twin's own measurements (`measured`, e.g. latency percentiles), which may not shadow the
    harness's keys."""
    info: dict[str, Any] = dict(measured)
    info.update(
        workload=key.workload, twin=key.twin, kind=kind, label=label, scenario=key.scenario,
        judged_by=judged_by, params=dict(params), ops=ops, checksum=f"{checksum:016x}",
        ideal_s=ideal_s, efficiency=efficiency(ideal_s, median), loop=loop,
        peer_busy=dict(peer_busy),
    )
    return info


def key_of(info: Mapping[str, Any]) -> CaseKey:
    return CaseKey(str(info["workload"]), str(info["scenario"]), str(info["twin"]))


def attach_block(output_json: dict[str, Any], block: Mapping[str, Any], *,
                 peers: Mapping[str, Any], workloads: Mapping[str, WorkloadJson],
                 outcomes: Iterable[Outcome]) -> None:
    """Turn pytest-benchmark's JSON into a run document: keep only benchmarks that recorded
    our extra_info (a twin that failed after its rounds has none: its failure is in the
    outcomes) and add the twinbench block."""
    output_json["benchmarks"] = [b for b in output_json["benchmarks"]
                                 if "workload" in b.get("extra_info", {})]
    full = dict(block)
    full.update(peers=dict(peers), workloads=dict(workloads), outcomes=outcomes_json(outcomes))
    output_json["twinbench"] = full


def set_outcomes(doc: dict[str, Any], outcomes: Iterable[Outcome]) -> None:
    doc["twinbench"]["outcomes"] = outcomes_json(outcomes)


def set_complete(doc: dict[str, Any], complete: bool) -> None:
    doc["twinbench"]["complete"] = complete


def set_confirmation(doc: dict[str, Any], passes: int, cases: Iterable[str]) -> None:
    doc["twinbench"]["confirmation"] = {"passes": passes, "cases": list(cases)}


def set_sweep(doc: dict[str, Any], block: Mapping[str, Any]) -> None:
    """What a sweep measured: its spec (workload, base scenario, axes, waves), its points
    (generated scenario name and values) and the points it skipped, with why."""
    doc["twinbench"]["sweep"] = dict(block)


def set_ab(doc: dict[str, Any], block: Mapping[str, Any]) -> None:
    """Which interleaved A/B session measured this run, and which side it is."""
    doc["twinbench"]["ab"] = dict(block)


def set_count(doc: dict[str, Any], block: Mapping[str, Any]) -> None:
    """How the run was counted (harness.run.count), and what could not be."""
    doc["twinbench"]["count"] = dict(block)


def paired_with(base: Run, current: Run) -> bool:
    """Whether the two runs are the two sides of one interleaved session: round i of one
    was measured next to round i of the other."""
    a, b = base.meta.get("ab") or {}, current.meta.get("ab") or {}
    return bool(a) and a.get("session") == b.get("session") and a.get("side") != b.get("side")


def drop_benchmarks(doc: dict[str, Any], drop: Callable[[CaseKey], bool]) -> None:
    """Remove the benchmarks whose case `drop` selects (failed or dissenting twins)."""
    doc["benchmarks"] = [b for b in doc["benchmarks"] if not drop(key_of(b["extra_info"]))]


def benchmark_infos(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each benchmark's extra_info, in file order (for checks across twins before loading)."""
    return [b["extra_info"] for b in doc["benchmarks"]]


# -- the loaded view ----------------------------------------------------------------------------

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
    data: tuple[float, ...]
    median: float
    q1: float
    q3: float
    extra: dict[str, Any] = field(default_factory=dict)
    pass_rounds: tuple[int, ...] = ()  # empty: one pass
    warnings: tuple[WarningJson, ...] = ()  # what the benchmark emitted on the side

    @property
    def case(self) -> CaseKey:
        return CaseKey(self.workload, self.scenario, self.twin)

    @property
    def key(self) -> str:
        """Identity across runs: workload, scenario and twin (parameters may differ)."""
        return str(self.case)

    @property
    def case_id(self) -> str:
        """The id the runner records outcomes under."""
        return self.case.test_id

    @property
    def efficiency(self) -> float | None:
        return efficiency(self.ideal_s, self.median)

    @property
    def passes(self) -> tuple[tuple[float, ...], ...]:
        """The rounds of each pass (harness.results.merge), in the order they ran."""
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
    def iqr(self) -> float:
        return self.q3 - self.q1

    def per_round(self, key: str) -> tuple[tuple[float, ...], ...] | None:
        """A per-round sample list of extra_info (e.g. "cpu_s_per_round"), split into passes
        like the rounds; None when the file does not have it for every round."""
        values = self.extra.get(key)
        if (not isinstance(values, list) or len(values) != len(self.data)
                or not all(isinstance(v, int | float) and not isinstance(v, bool)
                           for v in values)):
            return None
        out, start = [], 0
        for count in self.pass_rounds or (len(self.data),):
            out.append(tuple(float(v) for v in values[start:start + count]))
            start += count
        return tuple(out)

    def cpu_per_op_passes(self) -> tuple[tuple[float, ...], ...] | None:
        """CPU seconds per operation of each timed round, by pass (None before schema 3)."""
        cpu = self.per_round("cpu_s_per_round")
        if cpu is None or self.ops <= 0:
            return None
        return tuple(tuple(c / self.ops for c in p) for p in cpu)

    @property
    def cpu_per_op(self) -> float | None:
        """Median CPU seconds per operation of the twin's own process over the timed rounds."""
        passes = self.cpu_per_op_passes()
        return statistics.median(x for p in passes for x in p) if passes else None

    def peer_cpu_per_op(self) -> dict[str, float]:
        """Each peer's CPU seconds per operation of this twin, over all timed rounds: a peer's
        CPU is read from the kernel's 10 ms ticks, too coarse for one round on its own."""
        raw = self.extra.get("peer_cpu_s_per_round")
        if not isinstance(raw, dict) or self.ops <= 0:
            return {}
        return {peer: sum(values) / (len(values) * self.ops) for peer, values in raw.items()
                if isinstance(values, list) and values}

    @property
    def ops_per_s(self) -> float:
        return self.ops / self.median if self.median > 0 else math.nan

    @property
    def io_per_op(self) -> dict[str, float]:
        """What each operation did over the timed rounds (requests, statements, ...); of a
        run that only counted, over its counted rounds."""
        raw = self.extra.get("io_per_op")
        return dict(raw) if isinstance(raw, dict) else {}

    @property
    def instructions_per_op(self) -> int | None:
        value = self.extra.get("instructions_per_op")
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    @property
    def instructions_per_round(self) -> tuple[int, ...]:
        return tuple(self.extra.get("instructions_per_round") or ())

    @property
    def counted_params(self) -> dict[str, Any] | None:
        """The sizes the counted rounds ran at: the run's own params when it only counted."""
        counted = self.extra.get("counted")
        if isinstance(counted, dict):
            return dict(counted.get("params") or {})
        return self.params if self.instructions_per_op is not None else None

    @property
    def core(self) -> str:
        return str(self.extra.get("core") or "")

    @property
    def library(self) -> str:
        return str(self.extra.get("library") or "")

    @property
    def count_replicates(self) -> int:
        """How many fresh set-ups the counted rounds came from (1: an older file)."""
        value = self.extra.get("count_replicates")
        return value if isinstance(value, int) and value > 0 else 1

    @property
    def counted_ops(self) -> int:
        counted = self.extra.get("counted")
        if isinstance(counted, dict) and counted.get("ops"):
            return int(counted["ops"])
        return self.ops


@dataclass(frozen=True)
class Run:
    path: Path | None
    doc: dict[str, Any]
    benchmarks: tuple[BenchRecord, ...]

    @property
    def meta(self) -> dict[str, Any]:
        return cast(dict[str, Any], self.doc["twinbench"])

    @property
    def outcomes(self) -> dict[str, Outcome]:
        return outcomes_of(self.meta)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes.values() if o.failed]

    @property
    def warning_count(self) -> int:
        """How many warnings, unraisable exceptions and log records the benchmarks emitted."""
        return sum(w["count"] for b in self.benchmarks for w in b.warnings)


_KNOWN_INFO = frozenset({"workload", "twin", "kind", "label", "scenario", "params", "ops",
                         "checksum", "ideal_s", "efficiency", "pass_rounds", "warnings"})


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _check_tree(doc: Any) -> str | None:
    """Where a document nests too deep or holds a number no float can carry (before anything
    recursive, pydantic included, walks it); None if nowhere."""
    stack: list[tuple[Any, int, tuple[int | str, ...]]] = [(doc, 0, ())]
    while stack:
        value, depth, loc = stack.pop()
        if depth > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels at {_where(loc)}"
        if isinstance(value, dict):
            stack.extend((v, depth + 1, (*loc, str(k))) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, depth + 1, (*loc, i)) for i, v in enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            return f"integer too large at {_where(loc)} (run files hold numbers below 2**63)"
        elif isinstance(value, float) and not math.isfinite(value):
            return f"non-finite number {value} at {_where(loc)}"
    return None


def parse_run(doc: Any, path: Path | None = None, *, allow_empty: bool = False) -> Run:
    """Check a whole document against the schema, then flatten it; RunFileError on anything
    a reader could trip over, naming where. A run the engine just measured may have no
    benchmark left (`allow_empty`: every twin failed); a file without any is refused, so that
    nothing is shown or gated against an empty baseline."""
    where = str(path) if path else "run"
    problem = _check_tree(doc)
    if problem is not None:
        raise RunFileError(f"{where}: {problem}")
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
    problem = _validate(doc)
    if problem is not None:
        raise RunFileError(f"{where}: {problem}")
    try:
        records = tuple(_record(b) for b in doc["benchmarks"])
    except ValueError as exc:
        raise RunFileError(f"{where}: malformed benchmark entry ({exc})") from None
    if not records and not allow_empty:
        raise RunFileError(f"{where}: holds no benchmark (did every one fail or get "
                           "skipped?); there is nothing to show or compare")
    seen = Counter(r.key for r in records)
    twice = sorted(k for k, n in seen.items() if n > 1)
    if twice:
        raise RunFileError(f"{where}: benchmark {twice[0]} appears {seen[twice[0]]} times; "
                           "each workload, scenario and twin may be measured once per file")
    return Run(path, doc, records)


def _record(bench: dict[str, Any]) -> BenchRecord:
    info = bench["extra_info"]
    stats = bench["stats"]
    name = bench.get("name")
    data = tuple(float(x) for x in stats["data"])
    if not data:
        raise ValueError(f"{name}: raw rounds missing")
    median, q1, q3 = float(stats["median"]), float(stats["q1"]), float(stats["q3"])
    slack = 1e-9 * max(data)
    if (not min(data) - slack <= median <= max(data) + slack
            or not q1 - slack <= median <= q3 + slack):
        raise ValueError(f"{name}: stats.median {median:g} is not the middle of its raw rounds "
                         f"({min(data):g} … {max(data):g}) and quartiles ({q1:g}, {q3:g})")
    pass_rounds = info.get("pass_rounds") or []
    if pass_rounds and sum(pass_rounds) != len(data):
        raise ValueError(f"{name}: pass_rounds does not add up to the raw rounds")
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
        data=data,
        median=median,
        q1=q1,
        q3=q3,
        extra={k: v for k, v in info.items() if k not in _KNOWN_INFO},
        pass_rounds=tuple(pass_rounds) if len(pass_rounds) > 1 else (),
        warnings=tuple(info.get("warnings") or ()),
    )
