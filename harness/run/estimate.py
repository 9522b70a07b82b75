"""What each benchmark will take, known before it starts: for the progress line's time left.

Extrapolating from what ran so far misleads: a run's first benchmarks are not like its last
(measured: "~3m54s left" after 16 of 132 benchmarks of a run that took 12 minutes). So every
case gets a prior before the run starts, from the newest run file under results/ with the
same case and profile (its median round times its rounds), else from physics: N·L for a
sequential twin, ceil(N/C)·L for the others, plus a per-operation overhead, times the rounds
the profile expects. The progress line then scales the priors still ahead by how the
finished ones compared with theirs (harness.cli.progress).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.config import FAR_BEHIND
from harness.model.case import Case
from harness.model.physics import ideal_seconds
from harness.model.workload import SYNC_KINDS
from harness.results.files import RESULTS_DIR, load_run
from harness.results.runfile import RunFileError
from harness.run.profiles import Profile

# Per operation beyond the physics (measured from this machine's default runs, order of
# magnitude only: the calibration against finished benchmarks does the rest).
CLIENT_OP_S = 300e-6
SERVER_OP_S = 50e-6
SETUP_S = {"client": 0.3, "server": 2.0}


@dataclass(frozen=True)
class Prior:
    seconds: float
    source: str  # "previous run" | "physics"


def previous_runs(profile: str, results_dir: Path = RESULTS_DIR, limit: int = 20
                  ) -> dict[str, tuple[float, int]]:
    """Per case id: (median round in seconds, rounds timed) from the newest run files under
    `results_dir` measured with `profile` (a damaged or foreign file is passed over)."""
    out: dict[str, tuple[float, int]] = {}
    try:
        files = sorted(results_dir.glob("*.json"), key=lambda p: p.stat().st_mtime,
                       reverse=True)[:limit]
    except OSError:
        return out
    for path in files:
        try:
            run = load_run(path)
        except (RunFileError, OSError, ValueError):
            continue
        if run.meta.get("profile") != profile:
            continue
        for record in run.benchmarks:
            case_id = record.case.test_id
            if case_id not in out and record.median > 0:
                passes = max(len(record.pass_rounds), 1)
                out[case_id] = (record.median, max(len(record.data) // passes, 1))
    return out


def priors(cases: Iterable[Case], profile: Profile,
           previous: Mapping[str, tuple[float, int]]) -> dict[str, Prior]:
    """A prior for every case: its previous run's rounds at its previous pace, else physics
    (`round_physics`) at the rounds the profile expects: the middle look, one for a twin the
    physics puts FAR_BEHIND its side's best (it stops after its first), and no more than its
    share of the scenario's time cap (an open-loop scenario: the profile's fixed rounds).
    Warm-ups at the share of a round a client twin's take."""
    looks = profile.looks
    expected = looks[len(looks) // 2] if len(looks) > 1 else looks[0]
    adaptive = len(looks) > 1
    by_group: dict[str, list[Case]] = {}
    for case in cases:
        by_group.setdefault(case.group, []).append(case)
    out = {}
    for group in by_group.values():
        physics = {c.id: round_physics(c, profile) for c in group}
        best = {side: min((physics[c.id] for c in group if _sync(c) == side), default=0.0)
                for side in (True, False)}
        behind = {c.id for c in group if adaptive and len(group) > 1
                  and physics[c.id] > FAR_BEHIND * best[_sync(c)] > 0}
        contenders = max(len(group) - len(behind), 1)
        for case in group:
            side = case.twin.side
            setup = SETUP_S.get(side, 0.3)
            warmups = profile.warmup_rounds * (profile.warmup_share if side == "client" else 1)
            if case.id in previous:
                median, rounds = previous[case.id]
                out[case.id] = Prior(median * (rounds + warmups) + setup, "previous run")
                continue
            per_round = physics[case.id]
            judged = case.scenario.judged_by is not None  # the profile's fixed rounds
            rounds = (profile.rounds if judged else 1 if case.id in behind else expected)
            if case.scenario.max_rounds:
                rounds = min(rounds, case.scenario.max_rounds)
            timed = per_round * rounds
            if adaptive and not judged and case.id not in behind:  # the cap, from a look on
                timed = min(timed, max(profile.scenario_seconds / contenders,
                                       per_round * looks[0]))
            out[case.id] = Prior(timed + per_round * warmups + setup, "physics")
    return out


def round_physics(case: Case, profile: Profile) -> float:
    """A round's seconds by physics: a fixed duration (a game's), N requests on an open-loop
    schedule (N / rate), else N·L sequentially and ceil(N/C)·L otherwise; plus CPU work and a
    per-operation overhead."""
    params = case.workload.params_for(case.scenario, profile.scale)
    n = int(params.get("n") or 1)
    if params.get("duration_ms"):
        return float(params["duration_ms"]) / 1000
    if params.get("rate"):
        return n / float(params["rate"])
    latency = float(params.get("latency_ms") or 0) / 1000
    ideal = n * latency if case.twin.kind == "sync" else (ideal_seconds(params) or 0.0)
    cpu = float(params.get("cpu_us") or 0) / 1e6
    return ideal + n * (cpu + (SERVER_OP_S if case.twin.side == "server" else CLIENT_OP_S))


def _sync(case: Case) -> bool:
    return case.twin.kind in SYNC_KINDS


def spread(ratios: list[float]) -> float:
    """The geometric standard deviation of actual/prior ratios, as a fraction."""
    if len(ratios) < 2:
        return math.inf
    logs = [math.log(r) for r in ratios if r > 0]
    mean = sum(logs) / len(logs)
    return math.expm1(math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1)))
