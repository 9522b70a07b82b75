"""The ordinary runner in a child process: one side of an interleaved A/B measurement, paced
by a coordinator, or a counted run under valgrind (harness.run.count).

`python -m harness.run.worker` reads one JSON line on stdin, the run request and where to save
the run file, then runs it exactly as `bench run` would — same plugin, pytest-benchmark timing,
peers of its own — except that before each case and before each round (warm-ups included) it
says so on its protocol stream and waits for the coordinator's go-ahead (harness.run.ab). The
coordinator lets one side act at a time and alternates the rounds of the two sides in ABBA
order, so each pair of rounds shares the machine's moment.

Protocol (JSON lines; the protocol has its own file descriptor, so anything a twin or a library
prints on stdout goes to stderr instead):

    -> {"request": {...RunRequest...}, "out": PATH | null, "paced": true,
        "count_dir": DIR | null}
    <- {"event": "hello", "protocol": 3, "harness": FILE, "version": V}
    <- {"event": "planned", "cases": [ID, ...]}
    <- {"event": "gate", "what": "case" | "round", "case": ID}   then waits for {"go": true}
                    (at a case gate, {"go": true, "rounds": N} times N rounds of that case)
    <- {"event": "end", "case": ID, "outcome": O, "detail": D}
    <- {"event": "finished", "exit_code": N, "out": PATH | null, "warnings": [...],
        "peers": {...}, "meta": {...the run's twinbench block, outcomes aside...}}

Unpaced (`"paced": false`, protocol 3) there are no gates; instead the worker reports
{"event": "start", "case": ID, "rounds": N} and {"event": "round", "case": ID}, and with
`count_dir` (it runs under callgrind: harness.run.callgrind) each benchmark's run-file entry as
soon as it is measured, {"event": "measured", "case": ID, "benchmark": {...}}, so what was
counted survives a worker that valgrind or a crashing twin kills later.

End of input while waiting means stop: the run unwinds as on Ctrl-C (peers stopped) and the
worker exits 130.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from harness import __version__
from harness.config import workload_sources
from harness.drivers.health import STALL_S
from harness.errors import BadInput
from harness.model.case import Case
from harness.model.registry import Selection
from harness.results.files import save_run
from harness.run.events import Listener
from harness.run.runner import RunRequest, execute
from harness.run.sweep import SweepSpec

# 2: a case gate's answer may set the case's rounds; 3: unpaced runs, counting
PROTOCOL = 3


def request_to_json(request: RunRequest) -> dict[str, Any]:
    s = request.selection
    return {"selection": {"workloads": list(s.workloads), "twins": list(s.twins),
                          "scenarios": list(s.scenarios), "cases": list(s.cases)},
            "profile": request.profile, "loop": request.loop, "pg_dsn": request.pg_dsn,
            "passes": request.passes, "sources": list(request.sources),
            "sweep": request.sweep.to_json() if request.sweep else None,
            "rounds": request.rounds, "warmup_rounds": request.warmup_rounds,
            "mysql_dsn": request.mysql_dsn, "tmpdir": request.tmpdir,
            "stalls": request.stalls, "stall_threshold_s": request.stall_threshold_s}


def request_from_json(raw: dict[str, Any]) -> RunRequest:
    sel = raw["selection"]
    return RunRequest(
        selection=Selection(tuple(sel["workloads"]), tuple(sel["twins"]),
                            tuple(sel["scenarios"]), tuple(sel["cases"])),
        profile=raw["profile"], loop=raw["loop"], pg_dsn=raw.get("pg_dsn"),
        passes=int(raw.get("passes") or 1), sources=tuple(raw.get("sources") or ()),
        sweep=SweepSpec.from_json(raw["sweep"]) if raw.get("sweep") else None,
        rounds=raw.get("rounds"), warmup_rounds=raw.get("warmup_rounds"),
        mysql_dsn=raw.get("mysql_dsn"), tmpdir=raw.get("tmpdir"),
        stalls=bool(raw.get("stalls")),
        stall_threshold_s=float(raw.get("stall_threshold_s") or STALL_S))


class Paced(Listener):
    """Reports progress on the protocol stream and blocks at every gate (unless unpaced)."""

    def __init__(self, out: IO[str], inp: IO[str]):
        self.out, self.inp = out, inp
        self.paced = True

    def say(self, **event: Any) -> None:
        self.out.write(json.dumps(event) + "\n")
        self.out.flush()

    def _wait(self, what: str, case: Case) -> dict[str, Any]:
        self.say(event="gate", what=what, case=case.id)
        line = self.inp.readline()
        answer: dict[str, Any] = json.loads(line) if line else {}
        if not answer.get("go"):
            raise KeyboardInterrupt  # the coordinator stopped: unwind as on Ctrl-C
        return answer

    def planned(self, case_ids: list[str]) -> None:
        self.say(event="planned", cases=case_ids)

    def before_case(self, case: Case) -> int | None:
        if not self.paced:
            return None
        rounds = self._wait("case", case).get("rounds")
        return int(rounds) if rounds else None

    def before_round(self, case: Case) -> None:
        if self.paced:
            self._wait("round", case)

    def case_start(self, case: Case, rounds: int) -> None:
        if not self.paced:
            self.say(event="start", case=case.id, rounds=rounds)

    def round_done(self, case: Case) -> None:
        if not self.paced:
            self.say(event="round", case=case.id)

    def measured(self, case: Case, benchmark: dict[str, Any]) -> None:
        if not self.paced:
            self.say(event="measured", case=case.id, benchmark=benchmark)

    def case_end(self, case: Case, outcome: str, detail: str) -> None:
        self.say(event="end", case=case.id, outcome=outcome, detail=detail)


def main() -> None:
    # The protocol keeps the real stdin and stdout on descriptors of its own: pytest's
    # capture redirects fds 0-2 while a benchmark runs, and fd 1 becomes stderr for anything
    # a twin or a library prints.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    commands = os.fdopen(os.dup(sys.stdin.fileno()), "r")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    listener = Paced(protocol, commands)
    # Which copy of the harness this side runs: the coordinator checks it is its side's.
    listener.say(event="hello", protocol=PROTOCOL,
                 harness=str(Path(__file__).resolve().parents[1] / "__init__.py"),
                 version=__version__)
    first = commands.readline()
    if not first:
        sys.exit(130)
    command = json.loads(first)
    code = 130
    saved: str | None = None
    warnings: list[str] = []
    peers: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    listener.paced = bool(command.get("paced", True))
    try:
        request = request_from_json(command["request"])
        # This side's own [tool.twinbench] workloads (its version of a team's twins), then the
        # user's --workloads, both relative to this side's tree (the worker's cwd).
        request = replace(request, sources=workload_sources(request.sources),
                          # A paced side pairs its rounds with the other version's, case by
                          # case: its own twins one at a time, at the coordinator's gates.
                          interleave=request.interleave and not listener.paced)
        counting = None
        if command.get("count_dir"):
            from harness.run.callgrind import Counting

            counting = Counting(Path(command["count_dir"]))
        result = execute(request, listener, counting=counting)
        warnings = list(result.warnings)
        code = result.exit_code
        if result.run is not None:
            peers = dict(result.run.meta.get("peers") or {})
            meta = {k: v for k, v in result.run.meta.items() if k != "outcomes"}
            if command.get("out"):
                saved = str(save_run(result.run.doc, Path(command["out"]), force=True))
    except KeyboardInterrupt:
        code = 130
    except BadInput as exc:
        warnings.append(str(exc))
        code = 2
    except Exception as exc:  # reported, not raised: the coordinator names the side
        warnings.append(f"{type(exc).__name__}: {exc}")
        code = 1
    listener.say(event="finished", exit_code=code, out=saved, warnings=warnings, peers=peers,
                 meta=meta)
    sys.exit(code)


if __name__ == "__main__":
    main()
