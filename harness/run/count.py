"""The counted phase of a run: every client twin's work once more, in a worker under callgrind,
counting instructions and system calls per operation (harness.run.callgrind) and the I/O each
operation made (harness.run.cost), over its timed rounds only, at the sizes and rounds of
harness.run.profiles.counted_params.

One worker counts every case, one after the other (valgrind's start-up costs seconds, once).
If it dies — valgrind killed, a twin that crashes the interpreter — the case it was counting
fails with that cause, named, and a fresh worker counts the rest: what was counted before is
kept, because each benchmark's entry reaches this process the moment it is measured.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import statistics
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.errors import BadInput
from harness.leftovers import PREFIX, owned_tempdir, owner_of, reclaim, temp_roots
from harness.model.case import Case
from harness.procs import ChildFailed, ChildProcess
from harness.results.runfile import Outcome, WorkloadJson, attach_block, key_of, set_count
from harness.run import callgrind
from harness.run.events import Listener
from harness.run.profiles import COUNT_REPLICATES, COUNT_ROUNDS, COUNT_WARMUP

if TYPE_CHECKING:  # the runner imports this module when a run counts
    from harness.run.runner import RunRequest

# How long a counted worker may stay silent (one round of a thread-pool twin under callgrind
# can take a minute) before it is taken for hung.
SILENCE_S = 600.0
START_S = 120.0  # valgrind's start-up and the worker's imports, uninstrumented
WORKER_PROTOCOL = 3  # the first worker protocol that can count (harness.run.worker)

# What a timed run's entry takes over from the counted one (the rest goes under `counted`).
COUNTED_FIELDS = ("instructions_per_op", "instructions_per_round", "count_replicates",
                  "syscalls_per_op", "syscalls_by_name_per_op")


class CountFailed(RuntimeError):
    """The counted worker could not run at all; the message says why."""


def check_can_count() -> None:
    """BadInput (exit 2) with how to get valgrind when counting is impossible here."""
    try:
        callgrind.find_valgrind()
    except callgrind.Unsupported as exc:
        raise BadInput(f"--count: {exc}") from None


@dataclass
class Counted:
    """What the counted phase produced: each counted case's run-file entry (instructions,
    system calls and I/O in its extra_info), and the cases it did not count, with why."""

    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    failures: dict[str, Outcome] = field(default_factory=dict)
    skipped: dict[str, Outcome] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    peers: dict[str, Any] = field(default_factory=dict)
    # The worker's own run block (its git state, libraries, selection: the side it counted).
    meta: dict[str, Any] = field(default_factory=dict)
    interrupted: bool = False
    error: BaseException | None = None  # what stopped a replicate's chain of workers


@dataclass(frozen=True)
class Launch:
    """How to start a counted worker: this tree's by default, or an A/B side's. Setting
    `stop` (from another thread) stops it as Ctrl-C would."""

    argv: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    cwd: Path | None = None
    label: str = ""
    stop: threading.Event | None = None

    def command(self) -> list[str]:
        # valgrind needs the interpreter binary itself, not a shell shim in front of it
        if self.argv:
            return [callgrind.python_for(self.argv[0]), *self.argv[1:]]
        return [callgrind.python_for(sys.executable), "-m", "harness.run.worker"]


class CountListener:
    """Progress of a counted phase, by case id (an A/B check counts two sides at once, each
    with its own code and cases). Callbacks come from the thread that counts."""

    def counting(self, total: int) -> None: ...

    def case_start(self, case_id: str, rounds: int) -> None: ...

    def round_done(self, case_id: str) -> None: ...

    def case_end(self, case_id: str, outcome: str, detail: str) -> None: ...


class ForCases(CountListener):
    """A run's progress Listener (harness.run.events), fed by case id."""

    def __init__(self, listener: Listener, cases: Sequence[Case]):
        self.listener = listener
        self.by_id = {c.id: c for c in cases}

    def counting(self, total: int) -> None:
        self.listener.counting(total)

    def case_start(self, case_id: str, rounds: int) -> None:
        if case_id in self.by_id:
            self.listener.case_start(self.by_id[case_id], rounds)

    def round_done(self, case_id: str) -> None:
        if case_id in self.by_id:
            self.listener.round_done(self.by_id[case_id])

    def case_end(self, case_id: str, outcome: str, detail: str) -> None:
        if case_id in self.by_id:
            self.listener.case_end(self.by_id[case_id], outcome, detail)


def count_cases(request: RunRequest, listener: CountListener, *,
                cases: Sequence[str] | None = None, launch: Launch | None = None,
                replicates: int = COUNT_REPLICATES) -> Counted:
    """Count what `request` selects (narrowed to `cases`, when given) in `replicates`
    independent chains of workers under callgrind, side by side (counts do not depend on
    what else runs), and put each case's replicates together. Server twins are skipped by
    the worker, with why (harness.run.plugin.NOT_COUNTED). Progress is the first chain's."""
    launch = launch or Launch()
    chains = [Counted() for _ in range(replicates)]
    quiet = CountListener()
    threads = [threading.Thread(target=_chain, name=f"count-replicate-{i}",
                                args=(request, listener if i == 0 else quiet, cases, launch,
                                      chains[i]))
               for i in range(replicates)]

    def stop() -> None:
        for chain in chains:
            chain.interrupted = True  # each chain stops its worker at its next line

    run_threads(threads, on_interrupt=stop)
    errors = [c.error for c in chains if c.error is not None]
    if errors:
        raise errors[0]
    return merge_replicates(chains)


def run_threads(threads: Sequence[threading.Thread], *, on_interrupt: Callable[[], None]
                ) -> None:
    """Start `threads` and wait for them, in short joins so that Ctrl-C reaches this (the
    main) thread; on Ctrl-C, `on_interrupt` tells them to stop, they are waited for (each
    stops its own worker), and the KeyboardInterrupt goes on."""
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)
    except KeyboardInterrupt:
        on_interrupt()
        for thread in threads:
            thread.join()
        raise


def _chain(request: RunRequest, listener: CountListener, cases: Sequence[str] | None,
           launch: Launch, result: Counted) -> None:
    """One replicate: workers, one after the other, until every case is counted (a worker
    that dies fails its case, and a fresh one goes on with the rest). A case that failed is
    counted once more by a fresh worker, and fails only if it fails again: a race that
    valgrind's one-thread-at-a-time scheduling exposes now and then (httpx's thread pool:
    "Bad file descriptor", about one counted side in twenty) must not fail a CI check of
    unchanged code, while a twin that is broken fails both times."""
    if cases is not None and not cases:
        return
    try:
        _workers(request, None if cases is None else list(cases), listener, launch, result,
                 announce=True)
        again = [c for c in result.failures if c != "*"]
        if again and not result.interrupted:
            first = {c: result.failures.pop(c) for c in again}
            # quietly: progress counted these cases once already; the warning says it
            _workers(request, again, CountListener(), launch, result, announce=False)
            for case_id, outcome in first.items():
                if case_id not in result.failures and case_id in result.entries:
                    result.warnings.append(
                        f"{case_id} failed under valgrind ({outcome.detail}); a fresh worker "
                        "counted it")
                elif case_id not in result.failures:  # interrupted, or never reached again
                    result.failures[case_id] = outcome
    except BaseException as exc:  # re-raised by count_cases, in its own thread
        result.error = exc


def _workers(request: RunRequest, todo: list[str] | None, listener: CountListener,
             launch: Launch, result: Counted, *, announce: bool) -> None:
    """Workers, one after the other, until every case of `todo` (None: the request's
    selection) is done: counted, failed or skipped."""
    while not result.interrupted:
        done, planned = _one_worker(request, todo, listener, launch, result, announce)
        announce = False
        todo = [c for c in (todo if todo is not None else planned) if c not in done]
        if not todo:
            return


def merge_replicates(chains: Sequence[Counted]) -> Counted:
    """Each case's replicates as one entry: every counted round, replicate after replicate
    (`count_replicates` says how many), the median round per operation, system calls and
    I/O averaged. A case a replicate could not count fails, saying why."""
    first = chains[0]
    out = Counted(warnings=[w for c in chains for w in c.warnings], peers=first.peers,
                  meta=first.meta, interrupted=any(c.interrupted for c in chains))
    for chain in chains:
        out.failures.update({k: v for k, v in chain.failures.items() if k not in out.failures})
        out.skipped.update(chain.skipped)
    for case_id in first.entries:
        entries = [c.entries.get(case_id) for c in chains]
        if case_id in out.failures or any(e is None for e in entries):
            continue
        out.entries[case_id] = _merged_entry([e for e in entries if e is not None])
    return out


def _merged_entry(entries: list[dict[str, Any]]) -> dict[str, Any]:
    merged = copy.deepcopy(entries[0])
    infos = [e["extra_info"] for e in entries]
    info = merged["extra_info"]
    rounds = [r for i in infos for r in i.get("instructions_per_round") or ()]
    ops = int(info.get("ops") or 0)
    if rounds and ops > 0:
        info["instructions_per_round"] = rounds
        info["count_replicates"] = len(infos)
        info["instructions_per_op"] = round(statistics.median(rounds) / ops)
    for key in ("syscalls_by_name_per_op", "io_per_op"):
        keys = {k for i in infos for k in (i.get(key) or {})}
        if keys:
            info[key] = {k: round(statistics.fmean((i.get(key) or {}).get(k, 0.0)
                                                   for i in infos), 6) for k in sorted(keys)}
    calls = [i["syscalls_per_op"] for i in infos if "syscalls_per_op" in i]
    if calls:
        info["syscalls_per_op"] = round(statistics.fmean(calls), 3)
    data = [x for e in entries for x in e["stats"]["data"]]
    merged["stats"] = {"data": data, "median": statistics.median(data),
                       "q1": min(data) if len(data) < 4 else statistics.quantiles(data, n=4)[0],
                       "q3": max(data) if len(data) < 4 else statistics.quantiles(data, n=4)[2],
                       "iterations": 1}
    return merged


def _command(request: RunRequest, cases: Sequence[str] | None, directory: Path
             ) -> dict[str, Any]:
    from harness.run.worker import request_to_json

    narrowed = replace(request, rounds=COUNT_ROUNDS, warmup_rounds=COUNT_WARMUP, passes=1,
                       count=False, timed=True)
    if cases is not None:  # the user's filters stay: they say which workloads to import
        narrowed = replace(narrowed, selection=replace(request.selection, cases=tuple(cases)))
    return {"request": request_to_json(narrowed), "out": None, "paced": False,
            "count_dir": str(directory)}


def _one_worker(request: RunRequest, cases: list[str] | None, listener: CountListener,
                launch: Launch, result: Counted, announce: bool) -> tuple[set[str], list[str]]:
    """Run one counted worker over `cases` (None: the request's selection). Returns the ids
    it is done with (counted, failed or skipped) and the ids it planned. A worker that dies
    fails the case it was on and leaves the rest to the next."""
    valgrind = callgrind.find_valgrind()
    done: set[str] = set()
    planned: list[str] = list(cases or ())
    who = f"{launch.label}: " if launch.label else ""
    with owned_tempdir("twinbench-count-") as tmp:
        env = callgrind.counting_env(dict(launch.env if launch.env is not None
                                          else os.environ))
        proc = ChildProcess(callgrind.command(valgrind, tmp, launch.command()),
                            ready_timeout=START_S, env=env, commands=True, cwd=launch.cwd)
        current: str | None = None
        cause = ""
        try:
            try:
                hello = proc.start()
            except ChildFailed as exc:
                raise CountFailed(f"{who}the counted worker did not start under valgrind: "
                                  f"{exc}") from None
            if int(hello.get("protocol") or 0) < WORKER_PROTOCOL:
                raise CountFailed(f"{who}this version of twinbench cannot count (its worker "
                                  f"speaks protocol {hello.get('protocol')}; counting needs "
                                  f"{WORKER_PROTOCOL})")
            stdin = proc.proc.stdin if proc.proc is not None else None
            assert stdin is not None
            stdin.write((json.dumps(_command(request, cases, tmp)) + "\n").encode())
            stdin.flush()
            heard = time.monotonic()
            while True:
                line = proc.read_line(1.0)
                if line is None:
                    if result.interrupted or (launch.stop is not None and launch.stop.is_set()):
                        raise KeyboardInterrupt
                    if proc.exit_code() is None and time.monotonic() - heard < SILENCE_S:
                        continue
                    cause = _death(proc)
                    break
                heard = time.monotonic()
                event = json.loads(line)
                kind = event.get("event")
                case_id = str(event.get("case"))
                if kind == "planned":
                    planned = [str(c) for c in event.get("cases") or []]
                    if announce:
                        listener.counting(len(planned))
                elif kind == "start":
                    current = case_id
                    listener.case_start(case_id, int(event.get("rounds") or 0))
                elif kind == "round":
                    listener.round_done(case_id)
                elif kind == "measured":
                    result.entries[case_id] = event["benchmark"]
                elif kind == "end":
                    current = None
                    done.add(case_id)
                    _ended(case_id, str(event.get("outcome")),
                           str(event.get("detail") or ""), result, listener)
                elif kind == "finished":
                    result.warnings += [f"{who}counting: {w}"
                                        for w in event.get("warnings") or []]
                    result.peers.update(event.get("peers") or {})
                    result.meta = dict(event.get("meta") or {})
                    result.interrupted = event.get("exit_code") == 130
                    if event.get("exit_code") == 2 and not done:
                        raise CountFailed(f"{who}" + "; ".join(event.get("warnings") or [])
                                          or "the counted worker refused the request")
                    return set(planned), planned
        except KeyboardInterrupt:
            result.interrupted = True
            return set(planned), planned
        finally:
            pid = proc.pid
            proc.stop()
    # The worker went away without finishing: what it left on disk goes (its pytest session's
    # temp dir, its peers' dirs once they have followed it: they die with their parent).
    if pid is not None:
        _reclaim_after(pid)
    if current is None:
        if done:  # between two cases: the next worker goes on from here
            return done, planned
        for case_id in planned or ["*"]:  # before any case: no worker will do better
            result.failures[case_id] = Outcome(
                case_id, "failed", f"{who}not counted: the counted worker exited ({cause})")
        return set(planned), planned
    _ended(current, "failed", f"{current} stopped under valgrind: {cause}", result, listener)
    return done | {current}, planned


def _ended(case_id: str, outcome: str, detail: str, result: Counted,
           listener: CountListener) -> None:
    if outcome == "failed":
        result.failures[case_id] = Outcome(case_id, "failed", detail)
        result.entries.pop(case_id, None)
    elif outcome == "skipped":
        result.skipped[case_id] = Outcome(case_id, "skipped", detail)
    listener.case_end(case_id, outcome, detail)


def _reclaim_after(pid: int, wait_s: float = 10.0) -> None:
    deadline = time.monotonic() + wait_s
    while True:
        reclaim(pid=pid)
        left = [p for root in temp_roots() for p in root.glob(PREFIX + "*")
                if (owner := owner_of(p)) is not None and owner.pid == pid]
        if not left or time.monotonic() > deadline:
            return
        time.sleep(0.1)


def _death(proc: ChildProcess) -> str:
    """Why the counted worker stopped talking: its signal or exit code, and its last word."""
    code = proc.exit_code()
    if code is None:
        return f"silent for {SILENCE_S:.0f} s"
    if code < 0:
        try:
            how = f"killed by {signal.Signals(-code).name}"
        except ValueError:
            how = f"killed by signal {-code}"
    else:
        how = f"exit code {code}"
    # Python's own last words, when it had any: "Fatal Python error: Aborted", or the
    # exception of a traceback (its last lines list extension modules, which say nothing)
    lines = proc.stderr_lines()
    said = next((line for line in lines if line.startswith("Fatal Python error")), None)
    if said is None and lines and any(line.startswith("Traceback") for line in lines):
        said = lines[-1]
    return f"{how} ({said})" if said else how


# -- into the run file ----------------------------------------------------------------------------

def with_counts(doc: dict[str, Any] | None, counted: Counted,
                meta: Mapping[str, Any] | None = None,
                workloads: Mapping[str, WorkloadJson] | None = None) -> dict[str, Any] | None:
    """The run document with the counted figures: put into the timed run's entries when there
    is one (`counted` saying at which sizes, and the I/O the counted rounds made), else
    (counting only) a run of the counted entries, whose rounds' times are valgrind's and say
    so (`twinbench.count.timed` false), described by `meta` (default: the counted worker's
    own block). Cases that could not be counted are listed in `twinbench.count.failures`
    with why (and, counting only, as failed outcomes)."""
    block: dict[str, Any] = {
        "tool": "callgrind", "rounds": COUNT_ROUNDS, "replicates": COUNT_REPLICATES,
        "warmup_rounds": COUNT_WARMUP,
        "timed": doc is not None, "valgrind": callgrind.valgrind_version(),
        "failures": {k: o.detail for k, o in counted.failures.items()}}
    if doc is None:
        if not counted.entries and not counted.failures:
            return None
        described = dict(meta if meta is not None else counted.meta)
        for key in ("count", "ab", "confirmation", "passes", "complete"):
            described.pop(key, None)
        doc = {"benchmarks": [copy.deepcopy(e) for e in counted.entries.values()]}
        attach_block(doc, described, peers=counted.peers or described.get("peers") or {},
                     workloads=workloads or described.get("workloads") or {},
                     outcomes=[*counted.failures.values(), *counted.skipped.values()])
        set_count(doc, block)
        return doc
    doc = copy.deepcopy(doc)
    by_key = {key_of(e["extra_info"]): e["extra_info"] for e in counted.entries.values()}
    for bench in doc["benchmarks"]:
        info = bench["extra_info"]
        got = by_key.get(key_of(info))
        if got is None:
            continue
        for key in COUNTED_FIELDS:
            if key in got:
                info[key] = got[key]
        info["counted"] = {"ops": got.get("ops"), "params": got.get("params"),
                           "io_per_op": got.get("io_per_op") or {}}
    set_count(doc, block)
    return doc
