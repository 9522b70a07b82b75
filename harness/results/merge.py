"""Passes: the same benchmarks measured again, later, and merged into one run file.

Rounds of one benchmark run back to back and share that moment's machine state (CPU clock,
other tenants' load, the peers' warm-up), so they are not independent replicates of the
benchmark: on this project's 2-core machines the medians of unchanged code moved 2-25% from one
run to the next while each run's rounds looked tight. A *pass* is one sweep over every selected
benchmark; a benchmark's passes are minutes apart, and the spread of its per-pass medians is
what a regression test must be measured against (Kalibera & Jones, "Rigorous benchmarking in
reasonable time", 2013: replicate at the level where the variance is).

In the file a benchmark stays one pytest-benchmark entry, so `pytest-benchmark compare` and
github-action-benchmark still read it: `stats.data` holds every round, pass after pass, `stats`
is recomputed over all of them, and `extra_info.pass_rounds` says how many rounds each pass
contributed. A file without `pass_rounds` is one pass.
"""

from __future__ import annotations

import copy
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pytest_benchmark.stats import Stats

from harness.model.physics import efficiency
from harness.results.runfile import WarningJson, key_of, warnings_json

PASS_ROUNDS = "pass_rounds"
# Per-benchmark numbers that summarise a pass and how passes combine. The worst value is kept
# where a single bad pass matters (errors, lost work, a saturated peer); the median elsewhere.
_WORST_HIGH = frozenset({"errors", "timeouts", "refused", "failures", "threads_peak",
                         "rss_delta_bytes", "loop_lag_max_s"})
# Events counted over each pass's rounds: the passes' total (a count stays an integer).
_SUMMED = frozenset({"loop_stalls", "tasks_leaked"})
STALL_SITES = "stall_sites"  # [{where, count}]: summed place by place
# Per-round samples (a list, or a dict of lists per peer) follow the rounds: concatenated pass
# after pass, like stats.data, and only when every pass has them (else they would misalign).
PER_ROUND = "_per_round"
_WORST_LOW = frozenset({"served"})
_NOT_MERGED = frozenset({"ops", "ideal_s", "efficiency", PASS_ROUNDS})
WARNINGS = "warnings"  # summed over the passes, message by message


def _stats_dict(data: list[float], iterations: int) -> dict[str, Any]:
    stats = Stats()  # type: ignore[no-untyped-call]
    for value in data:
        stats.update(value)  # type: ignore[no-untyped-call]
    summary: dict[str, Any] = stats.as_dict()  # type: ignore[no-untyped-call]
    return {**summary, "data": data, "iterations": iterations}


def _combine(key: str, values: list[Any]) -> Any:
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values) or key in _NOT_MERGED:
        return values[-1]
    if key in _WORST_HIGH:
        return max(numbers)
    if key in _WORST_LOW:
        return min(numbers)
    if key in _SUMMED:
        return sum(numbers)
    return statistics.median(numbers)


def _concat(values: list[Any], passes: int) -> Any:
    if len(values) != passes:
        return None
    if all(isinstance(v, list) for v in values):
        return [x for v in values for x in v]
    if all(isinstance(v, dict) for v in values):
        keys = set(values[0])
        if all(set(v) == keys for v in values):
            return {k: [x for v in values for x in v[k]] for k in values[0]}
    return None


def _merge_benchmark(entries: list[dict[str, Any]]) -> dict[str, Any]:
    merged = copy.deepcopy(entries[0])
    infos = [e["extra_info"] for e in entries]
    data: list[float] = []
    pass_rounds: list[int] = []
    for entry in entries:
        data.extend(entry["stats"]["data"])
        pass_rounds.extend(entry["extra_info"].get(PASS_ROUNDS) or [len(entry["stats"]["data"])])
    merged["stats"] = _stats_dict(data, entries[0]["stats"].get("iterations", 1))
    info = merged["extra_info"]
    for key in dict.fromkeys(k for i in infos for k in i):
        values = [i[key] for i in infos if key in i]
        if key == "peer_busy":
            peers = dict.fromkeys(p for v in values for p in v)
            info[key] = {p: max(v.get(p, 0.0) for v in values) for p in peers}
        elif key.endswith(PER_ROUND):
            info[key] = _concat(values, len(entries))
        elif key == WARNINGS:
            info[key] = _merge_warnings(values)
        elif key == STALL_SITES:
            info[key] = _merge_sites(values)
        else:
            info[key] = _combine(key, values)
    info["efficiency"] = efficiency(info.get("ideal_s"), merged["stats"]["median"])
    info[PASS_ROUNDS] = pass_rounds
    return merged


def _merge_sites(lists: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    counts: Counter[str] = Counter()
    for sites in lists:
        for site in sites:
            counts[str(site["where"])] += int(site["count"])
    return [{"where": where, "count": n} for where, n in counts.most_common()]


def _merge_warnings(lists: list[list[WarningJson]]) -> list[WarningJson]:
    counts: Counter[tuple[str, str]] = Counter()
    for entries in lists:
        for w in entries:
            counts[(w["kind"], w["message"])] += w["count"]
    return warnings_json(counts)


_PASS_PREFIX = re.compile(r"^pass (\d+): ")


def _merge_outcomes(blocks: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """A benchmark failed if it failed in any pass; else skipped if skipped in any.

    Details name the pass ("pass 4: ..."), counting on from the passes of earlier documents
    (a document may itself be a merge of several)."""
    merged: dict[str, dict[str, str]] = {}
    rank = {"failed": 2, "skipped": 1, "passed": 0}
    offset = 0
    for block in blocks:
        for case, outcome in (block.get("outcomes") or {}).items():
            old = merged.get(case)
            if old is None or rank.get(outcome["outcome"], 0) > rank.get(old["outcome"], 0):
                detail = outcome.get("detail", "")
                if len(blocks) > 1 and outcome["outcome"] != "passed":
                    own = _PASS_PREFIX.match(detail)
                    number = offset + (int(own.group(1)) if own else 1)
                    detail = f"pass {number}: {detail[own.end():] if own else detail}"
                merged[case] = {"outcome": outcome["outcome"], "detail": detail}
        offset += int(block.get("passes") or 1)
    return merged


def merge_passes(docs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One run document from the documents of successive passes (the first one's metadata).

    A benchmark that failed in any pass is dropped, like a failed benchmark of a single pass:
    its other passes timed a twin known to misbehave. Twins whose checksum changed between
    passes fail here, since each pass only checks its own rounds.
    """
    if not docs:
        raise ValueError("no passes to merge")
    if len(docs) == 1:
        return docs[0]
    out = copy.deepcopy(docs[0])
    blocks = [d["twinbench"] for d in docs]
    outcomes = _merge_outcomes(blocks)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for doc in docs:
        for bench in doc["benchmarks"]:
            by_name.setdefault(bench["name"], []).append(bench)
    benchmarks = []
    for entries in by_name.values():
        case = key_of(entries[0]["extra_info"]).test_id
        checksums = {e["extra_info"].get("checksum") for e in entries}
        if len(checksums) > 1:
            outcomes[case] = {"outcome": "failed",
                              "detail": f"checksum changed between passes "
                                        f"({', '.join(sorted(map(str, checksums)))})"}
        if outcomes.get(case, {}).get("outcome") == "failed":
            continue
        benchmarks.append(_merge_benchmark(entries))
    out["benchmarks"] = benchmarks
    out["twinbench"]["outcomes"] = outcomes
    out["twinbench"]["complete"] = all(b.get("complete", True) for b in blocks)
    # Passes run in all; a benchmark's own count is in its pass_rounds (a confirmation
    # re-measures only some benchmarks).
    out["twinbench"]["passes"] = sum(int(b.get("passes") or 1) for b in blocks)
    return out


def first_pass(doc: dict[str, Any]) -> dict[str, Any]:
    """The run document as its first pass left it: every benchmark's rounds (and per-round
    samples) of that pass alone, its stats recomputed, no confirmation block. What `bench
    check` decided before it confirmed suspects can so be judged again from the merged file
    (scripts/gate_quality.py --rescore)."""
    out = copy.deepcopy(doc)
    out["twinbench"].pop("confirmation", None)
    out["twinbench"]["passes"] = 1
    for bench in out["benchmarks"]:
        info = bench["extra_info"]
        rounds = info.get(PASS_ROUNDS) or []
        if len(rounds) < 2:
            continue
        data = bench["stats"]["data"]
        keep = rounds[0]
        for key, value in info.items():
            if key.endswith(PER_ROUND) and isinstance(value, list) and len(value) == len(data):
                info[key] = value[:keep]
            elif key.endswith(PER_ROUND) and isinstance(value, dict):
                info[key] = {k: v[:keep] if isinstance(v, list) and len(v) == len(data) else v
                             for k, v in value.items()}
        info[PASS_ROUNDS] = [keep]
        bench["stats"] = _stats_dict(data[:keep], bench["stats"].get("iterations", 1))
        info["efficiency"] = efficiency(info.get("ideal_s"), bench["stats"]["median"])
    return out
