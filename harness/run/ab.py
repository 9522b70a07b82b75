"""Interleaved A/B measurement: two versions, two long-lived workers, one machine, ABBA rounds.

A stored baseline cannot pair away the machine's drift (2-45% between passes minutes apart on
these VMs); measuring both versions next to each other can (Bulej et al., "Duet Benchmarking",
ICPE 2020; Abedi & Brecht, ICPE 2017). Each side is a worker (harness.run.worker) running the
ordinary runner with its own version's code and its own peers; this coordinator lets exactly
one of them act at a time — set-up, a round, tear-down — and, on a case both sides have,
alternates their rounds A B B A A B B A …, so round i of the base and round i of the current
version are always neighbours in time and drift common to both cancels in their ratio
(analysis.stats.compare_pairs). Warm-up rounds alternate too and are discarded by both.

A case only one side has (added or removed between versions), or one a side fails or skips,
runs alone. Each side's run file is an ordinary run file (pytest-benchmark recorded its
rounds) with a `twinbench.ab` block naming the session and the side, which is what lets
`bench compare` of the two files pair them again.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness.errors import BadInput
from harness.leftovers import owned_tempdir
from harness.model.registry import Selection
from harness.procs import ChildFailed, ChildProcess
from harness.results.files import load_run
from harness.results.merge import merge_passes
from harness.results.runfile import Run, RunFileError, parse_run, set_ab, set_confirmation
from harness.run.count import Counted
from harness.run.runner import RunRequest
from harness.run.worker import PROTOCOL, request_to_json

# Worker protocols this coordinator speaks: 1 cannot set a case's rounds at its gate (a REF
# from before `--extend`), so a session with per-case rounds gives such a pair the most.
PROTOCOLS = (1, PROTOCOL)

ORDER = "ABBA"


class SideFailed(RuntimeError):
    """A worker could not run its side; the message names the side and why."""


@dataclass(frozen=True)
class Side:
    """One version to measure: its code (`root`, put first on the import path of the worker
    and of every child it starts), the interpreter, and a label for reports."""

    name: str  # "base" | "current"
    root: Path
    python: str
    label: str
    shim: Path | None = None  # a sitecustomize dir that hides an editable install's finder
    command: tuple[str, ...] = ()  # instead of `python -m harness.run.worker` (experiments)

    def argv(self) -> list[str]:
        return list(self.command) or [self.python, "-m", "harness.run.worker"]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        paths = [str(p) for p in (self.shim, self.root) if p is not None]
        old = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
        env["PYTHONPATH"] = os.pathsep.join([*paths, *old])
        return env


@dataclass
class _Worker:
    side: Side
    proc: ChildProcess
    out: Path
    gate: dict[str, Any] | None = None  # where it waits: {"what", "case"}
    planned: list[str] = field(default_factory=list)
    rounds: dict[str, int] = field(default_factory=dict)  # rounds done per case
    finished: dict[str, Any] | None = None
    done_cases: set[str] = field(default_factory=set)
    case_rounds: Mapping[str, int] = field(default_factory=dict)  # rounds set per case
    protocol: int = PROTOCOL

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.proc.proc.stdin if self.proc.proc is not None else None
        if stdin is None:
            raise SideFailed(f"{self.side.name} worker is not running")
        try:
            stdin.write((json.dumps(message) + "\n").encode())
            stdin.flush()
        except (BrokenPipeError, ValueError):
            raise SideFailed(f"{self.side.name} ({self.side.label}) worker exited: "
                             f"{self.proc.stderr_tail()}") from None

    def next_event(self) -> dict[str, Any]:
        while True:
            line = self.proc.read_line(5.0)
            if line is not None:
                event: dict[str, Any] = json.loads(line)
                return event
            if self.proc.exit_code() is not None:
                raise SideFailed(f"{self.side.name} ({self.side.label}) worker exited: "
                                 f"{self.proc.stderr_tail()}")

    def advance(self, on_end: Callable[[str, dict[str, Any]], None]) -> None:
        """Read events until the worker waits at a gate or has finished."""
        self.gate = None
        while self.gate is None and self.finished is None:
            event = self.next_event()
            kind = event.get("event")
            if kind == "planned":
                self.planned = list(event["cases"])
            elif kind == "gate":
                self.gate = event
            elif kind == "end":
                self.done_cases.add(event["case"])
                on_end(self.side.name, event)
            elif kind == "finished":
                self.finished = event

    def go(self, on_end: Callable[[str, dict[str, Any]], None]) -> None:
        assert self.gate is not None
        case = self.gate["case"]
        answer: dict[str, Any] = {"go": True}
        if self.gate["what"] == "round":
            self.rounds[case] = self.rounds.get(case, 0) + 1
        elif case in self.case_rounds:
            answer["rounds"] = self.case_rounds[case]
        self.send(answer)
        self.advance(on_end)


@dataclass
class SessionResult:
    base: Run | None
    current: Run | None
    warnings: list[str]
    interrupted: bool = False


def _start(side: Side, tmp: Path) -> _Worker:
    """Start a side's worker and check it is that side's code; the request is sent later."""
    out = tmp / f"{side.name}.json"
    proc = ChildProcess(side.argv(), ready_timeout=60.0, env=side.env(), commands=True,
                        cwd=side.root)
    try:
        hello = proc.start()
    except ChildFailed as exc:
        raise SideFailed(f"{side.name} ({side.label}): the worker did not start: {exc}"
                         ) from None
    harness_file = Path(str(hello.get("harness", "")))
    if hello.get("protocol") not in PROTOCOLS:
        proc.stop()
        raise SideFailed(f"{side.name} ({side.label}) speaks worker protocol "
                         f"{hello.get('protocol')}, not one of {PROTOCOLS}")
    expected = (side.root / "harness" / "__init__.py").resolve()
    if (side.root / "harness").is_dir() and harness_file.resolve() != expected:
        proc.stop()
        raise SideFailed(f"{side.name} ({side.label}) imported {harness_file}, not the code "
                         f"under {side.root}: an installed copy shadows it")
    return _Worker(side, proc, out, protocol=int(hello["protocol"]))


def _pick(a: _Worker, b: _Worker) -> _Worker:
    """Who acts next. On a case both wait at: set-up one after the other, then the rounds
    alternating A B B A; otherwise the side whose case the other does not (or no longer)
    have runs alone, and a finished side leaves the other to finish."""
    if a.finished is not None:
        return b
    if b.finished is not None:
        return a
    assert a.gate is not None and b.gate is not None
    ca, cb = a.gate["case"], b.gate["case"]
    if ca == cb:
        if a.gate["what"] != b.gate["what"]:  # one still setting up: let it catch up
            return a if a.gate["what"] == "case" else b
        if a.gate["what"] == "case":
            return a
        ra, rb = a.rounds.get(ca, 0), b.rounds.get(ca, 0)
        if ra != rb:  # the pair's second round
            return a if ra < rb else b
        return a if ra % 2 == 0 else b  # pairs alternate who goes first: A B, B A, A B...
    if ca not in b.planned or ca in b.done_cases:
        return a
    if cb not in a.planned or cb in a.done_cases:
        return b
    # Both cases are on both plans, in different places: run the one that comes first.
    return a if a.planned.index(ca) <= a.planned.index(cb) else b


def interleave(base: Side, current: Side, request: RunRequest, *,
               on_end: Callable[[str, dict[str, Any]], None] = lambda _s, _e: None,
               session: str | None = None,
               case_rounds: Mapping[str, int] | None = None) -> SessionResult:
    """Measure `request` on both sides, round by round in ABBA order; each side's run file
    (None for a side that produced none) carries the `twinbench.ab` block. `case_rounds`
    sets the rounds (pairs) of some cases instead of the request's, on both sides alike."""
    session = session or uuid.uuid4().hex[:12]
    # Marked as this run's (harness.leftovers): a later run reclaims it if this one is killed.
    with owned_tempdir("twinbench-ab-") as tmp:
        workers: list[_Worker] = []
        try:
            for side in (base, current):
                workers.append(_start(side, tmp))
            rounds = dict(case_rounds or {})
            if rounds and min(w.protocol for w in workers) < 2:
                # A side that cannot take per-case rounds: every case gets the most asked.
                request = replace(request, rounds=max(rounds.values()))
                rounds = {}
            for w in workers:
                w.case_rounds = rounds
                w.send({"request": request_to_json(request), "out": str(w.out)})
            for w in workers:
                w.advance(on_end)
            a, b = workers
            while a.finished is None or b.finished is None:
                _pick(a, b).go(on_end)
        except KeyboardInterrupt:
            for w in workers:
                w.proc.stop()
            return SessionResult(None, None, ["interrupted"], interrupted=True)
        finally:
            for w in workers:
                w.proc.stop()
        warnings = [f"{w.side.name}: {x}" for w in workers
                    for x in (w.finished or {}).get("warnings", [])]
        runs = [_load(w, session, request) for w in workers]
        interrupted = any((w.finished or {}).get("exit_code") == 130 for w in workers)
    bad = [w for w in workers if (w.finished or {}).get("exit_code") == 2]
    if bad:
        raise BadInput(f"{bad[0].side.name} ({bad[0].side.label}): "
                       + "; ".join(bad[0].finished.get("warnings", []) if bad[0].finished
                                   else []))
    return SessionResult(runs[0], runs[1], warnings, interrupted)


def _load(worker: _Worker, session: str, request: RunRequest) -> Run | None:
    if not worker.finished or not worker.finished.get("out"):
        return None
    try:
        run = load_run(worker.out)
    except RunFileError:  # e.g. every benchmark of this side failed: nothing to pair
        return None
    set_ab(run.doc, {"session": session, "side": worker.side.name,
                     "label": worker.side.label, "order": ORDER,
                     "rounds": request.rounds, "warmup_rounds": request.warmup_rounds})
    return parse_run(run.doc, worker.out)


@dataclass
class ABResult:
    base: Run
    current: Run
    confirmed: tuple[str, ...] = ()
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
    first: tuple[Run, Run] | None = None  # before confirmation, when there was one


def measure_ab(base: Side, current: Side, request: RunRequest, *, pairs: int, warmup: int,
               confirm: int, suspects: Callable[[Run, Run], tuple[tuple[str, ...], str]],
               extend: Callable[[Run, Run], tuple[dict[str, int], str]] | None = None,
               on_end: Callable[[str, dict[str, Any]], None] = lambda _s, _e: None,
               announce: Callable[[str], None] = lambda _: None) -> ABResult | None:
    """`pairs` ABBA pairs of every selected benchmark, then, in one more session, `confirm` ×
    `pairs` more of each one `suspects` names and the pairs `extend` asks for (per case: the
    benchmarks too noisy to see a change at their threshold yet), merged as a second pass on
    both sides. Both decisions are the analysis', passed in: no statistics here. None when a
    side produced no run at all."""
    request = replace(request, rounds=pairs, warmup_rounds=warmup, passes=1)
    session = uuid.uuid4().hex[:12]
    first = interleave(base, current, request, on_end=on_end, session=session)
    if first.base is None or first.current is None:
        if first.interrupted:
            return None
        missing = "base" if first.base is None else "current"
        raise SideFailed(f"the {missing} side produced no result: "
                         + ("; ".join(first.warnings) or "no benchmark ran"))
    result = ABResult(first.base, first.current, warnings=first.warnings,
                      interrupted=first.interrupted)
    if first.interrupted:
        return result
    more: dict[str, int] = {}
    lines = []
    if confirm >= 1:
        cases, why = suspects(first.base, first.current)
        if cases:
            more = dict.fromkeys(cases, confirm * pairs)
            lines.append(f"{why}; confirming with {confirm * pairs} more pairs of "
                         f"{len(cases)} benchmark(s)")
    if extend is not None:
        wanted, why = extend(first.base, first.current)
        wanted = {case: n for case, n in wanted.items() if n > more.get(case, 0)}
        if wanted:
            more.update(wanted)
            lines.append(why)
    if not more:
        return result
    for line in lines:
        announce(line)
    cases = tuple(sorted(more))
    again = interleave(base, current, replace(request, selection=Selection(cases=cases),
                                              rounds=max(more.values())),
                       on_end=on_end, session=session, case_rounds=more)
    result.warnings.extend(again.warnings)
    if again.interrupted:
        result.interrupted = True
        return result
    if again.base is None or again.current is None:
        result.warnings.append("the confirmation rounds produced no result: verdicts are "
                               "from the first measurement")
        return result
    merged = []
    for one, extra in ((first.base, again.base), (first.current, again.current)):
        doc = merge_passes([one.doc, extra.doc])
        set_confirmation(doc, confirm, cases)
        merged.append(parse_run(doc))
    return ABResult(merged[0], merged[1], cases, result.warnings,
                    first=(first.base, first.current))


def sides_differ(base: Side, current: Side) -> Sequence[str]:
    """What tells the two sides apart, for the report."""
    out = []
    if base.root != current.root:
        out.append(f"code {base.label} vs {current.label}")
    if base.python != current.python:
        out.append("environments differ")
    return out


# -- counting both sides -------------------------------------------------------------------------

def count_ab(base: Side, current: Side, request: RunRequest, *,
             on_end: Callable[[str, dict[str, Any]], None] = lambda _s, _e: None
             ) -> tuple[Counted, Counted]:
    """Count `request` on both sides at once, each in its own worker under callgrind with its
    own code and dependencies (harness.run.count). Counts do not depend on what else the
    machine runs, so the sides need no pacing: two cores count both in the time of one.
    A side that cannot count (a REF from before counting existed) comes back with the reason
    in its warnings and nothing counted."""
    from harness.run.count import CountFailed, CountListener, Launch, count_cases, run_threads

    class Reporter(CountListener):
        def __init__(self, side: str):
            self.side = side

        def case_end(self, case_id: str, outcome: str, detail: str) -> None:
            on_end(self.side, {"case": case_id, "outcome": outcome, "detail": detail})

    stop = threading.Event()
    results: dict[str, Counted] = {}
    errors: dict[str, BaseException] = {}

    def one(side: Side) -> None:
        launch = Launch(argv=tuple(side.argv()), env=side.env(), cwd=side.root,
                        label=side.name, stop=stop)
        try:
            results[side.name] = count_cases(request, Reporter(side.name), launch=launch)
        except CountFailed as exc:
            results[side.name] = Counted(warnings=[str(exc)])
        except BaseException as exc:  # re-raised in the caller's thread
            errors[side.name] = exc

    threads = [threading.Thread(target=one, args=(side,), name=f"count-{side.name}")
               for side in (base, current)]
    run_threads(threads, on_interrupt=stop.set)  # each thread stops its own worker
    for exc in errors.values():
        raise exc
    return results["base"], results["current"]
