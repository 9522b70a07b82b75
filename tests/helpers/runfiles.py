"""Run files built by hand, with known answers: the factories the analysis, render and CLI
tests share."""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from harness.results.merge import merge_passes
from harness.results.runfile import SCHEMA_VERSION, Run, parse_run, set_ab

MACHINE = {"cpu": "Test CPU 3000", "cores": 2, "memory_bytes": 8 * 2**30,
           "os": "Linux-6.1-x86_64", "arch": "x86_64"}
PARAMS = {"n": 100, "concurrency": 10, "latency_ms": 2}
TWINS = (("requests", "sync"), ("requests-threads", "threads"), ("aiohttp", "async"))
BASE_TIMES = {"requests": 0.200, "requests-threads": 0.040, "aiohttp": 0.025}

Bench = tuple[str, str, str, str, Sequence[float]]  # workload, scenario, twin, kind, rounds


# -- a factory of run files -------------------------------------------------------------------

def rounds(centre: float, n: int = 10, noise: float = 0.01, seed: int = 0) -> list[float]:
    """`n` rounds around `centre` with small multiplicative noise (known, reproducible)."""
    rng = random.Random(seed)
    return [centre * (1 + rng.uniform(-noise, noise)) for _ in range(n)]


def benches(scale: dict[str, float] | None = None, n: int = 10, seed: int = 0,
            scenario: str = "s1") -> list[Bench]:
    scale = scale or {}
    return [("wl", scenario, twin, kind,
             rounds(BASE_TIMES[twin] * scale.get(twin, 1.0), n, seed=seed + i))
            for i, (twin, kind) in enumerate(TWINS)]


def run_doc(items: Iterable[Bench], *, machine: dict[str, Any] | None = None,
            profile: str = "default", params: dict[str, Any] | None = None,
            outcomes: dict[str, dict[str, str]] | None = None, complete: bool = True,
            libraries: dict[str, str] | None = None) -> dict[str, Any]:
    """A pytest-benchmark-shaped run file with a twinbench block."""
    out = []
    for workload, scenario, twin, kind, data in items:
        s = sorted(data)
        mid = len(s) // 2
        med = s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2
        out.append({
            "group": f"{workload}:{scenario}", "name": f"test_twin[{workload}-{scenario}-{twin}]",
            "fullname": f"::test_twin[{workload}-{scenario}-{twin}]",
            "extra_info": {"workload": workload, "twin": twin, "kind": kind, "label": twin,
                           "scenario": scenario, "params": dict(params or PARAMS), "ops": 100,
                           "checksum": "00", "ideal_s": None, "efficiency": None},
            "stats": {"data": list(data), "median": med, "q1": s[0], "q3": s[-1],
                      "min": s[0], "max": s[-1], "mean": sum(s) / len(s), "stddev": 0.0,
                      "rounds": len(s), "ops": 1 / med},
        })
    return {
        "machine_info": {}, "commit_info": {}, "datetime": "2026-01-01T00:00:00",
        "version": "5.1.0", "benchmarks": out,
        "twinbench": {
            "schema": SCHEMA_VERSION, "harness_version": "0.1.0",
            "created": "2026-01-01T00:00:00+00:00", "profile": profile, "loop": "asyncio",
            "selection": {"workloads": ["wl"], "twins": [], "scenarios": []},
            "git": {"commit": "abc123", "branch": "main", "dirty": False},
            "python": {"version": "3.11.7", "implementation": "CPython"},
            "libraries": libraries or {"aiohttp": "3.9.0", "requests": "2.31.0"},
            "machine": machine or MACHINE, "outcomes": outcomes or {}, "complete": complete,
        },
    }


def make_run(items: Iterable[Bench], **kw: Any) -> Run:
    return parse_run(run_doc(items, **kw))


def write(path: Path, doc: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc))
    return path


def by_key(deltas: Iterable[Any]) -> dict[str, Any]:
    return {d.key: d for d in deltas}


def with_extra(doc: dict[str, Any], twin: str, **extra: Any) -> Run:
    for bench in doc["benchmarks"]:
        if bench["extra_info"]["twin"] == twin:
            bench["extra_info"].update(extra)
    return parse_run(doc)


def passes_doc(pass_scales: Sequence[dict[str, float]], seed: int = 0, **kw: Any
               ) -> dict[str, Any]:
    """A run of several passes, pass k scaled by pass_scales[k] per twin (1.0 if absent)."""
    docs = [run_doc(benches(scale, seed=seed + 10 * k), **kw)
            for k, scale in enumerate(pass_scales)]
    for doc in docs:
        doc["twinbench"]["passes"] = 1
    return merge_passes(docs)


def lognormal(rng: random.Random, n: int, scale: float, sigma: float = 0.05) -> list[float]:
    return [scale * rng.lognormvariate(0, sigma) for _ in range(n)]



# -- single-scenario runs for the summary and the verdict line --------------------------------

SUMMARY_PARAMS = {"n": 200, "concurrency": 50, "latency_ms": 20}


def summary_bench(twin: str, kind: str, median: float, scenario: str = "latency",
          **extra: Any) -> dict[str, Any]:
    data = [median * 0.9, median, median * 1.1]
    return {
        "name": f"test_twin[w-{scenario}-{twin}]", "group": f"w:{scenario}",
        "stats": {"median": median, "q1": median * 0.95, "q3": median * 1.05, "data": data},
        "extra_info": {"workload": "w", "twin": twin, "kind": kind, "label": f"{twin} label",
                       "scenario": scenario, "params": SUMMARY_PARAMS, "ops": 200, "checksum": "ab",
                       "ideal_s": 0.08, "efficiency": 0.08 / median, **extra},
    }


def summary_run(*benches: dict[str, Any]) -> Any:
    return parse_run({"benchmarks": list(benches),
                      "twinbench": {"schema": SCHEMA_VERSION, "profile": "default"}})


# -- a sweep with known answers -----------------------------------------------------------------

LATENCIES = (0, 1, 2, 5, 10)


def sweep_run(speedups: dict[int, dict[int, float]], n: int = 10, sigma: float = 0.02) -> Any:
    """A sweep over latency_ms x concurrency whose async twin is `speedups[C][L]` times
    faster than its sync twin at every point, with 5% noise."""
    rng = random.Random(7)
    items, points = [], []
    for c, row in speedups.items():
        for latency, speedup in row.items():
            name = f"base[latency_ms={latency},concurrency={c}]"
            points.append({"scenario": name, "values": {"latency_ms": latency,
                                                        "concurrency": c}})
            items.append(("wl", name, "pool", "threads", lognormal(rng, n, 0.1, sigma)))
            items.append(("wl", name, "tasks", "async", lognormal(rng, n, 0.1 / speedup, sigma)))
    doc = run_doc(items)
    doc["twinbench"]["schema"] = 3
    doc["twinbench"]["sweep"] = {
        "workload": "wl", "scenario": "base", "waves": None, "points": points,
        "axes": [{"name": "latency_ms", "values": list(LATENCIES)},
                 {"name": "concurrency", "values": sorted(speedups)}],
        "skipped": [{"values": {"latency_ms": 10, "concurrency": 99}, "reason": "too big"}]}
    return parse_run(doc)


def paired_runs(noise: dict[str, float], seconds: dict[str, float], n: int = 12,
                seed: int = 5, slower: dict[str, float] | None = None) -> tuple[Run, Run]:
    """The two sides of one interleaved session: per twin, rounds of `seconds` whose pair
    log ratios scatter with a standard deviation of `noise` (around `slower`[twin], 1.0 if
    absent)."""
    rng = random.Random(seed)
    base_items, current_items = [], []
    for twin, sd in noise.items():
        b = [seconds[twin] * math.exp(rng.gauss(0, 0.01)) for _ in range(n)]
        c = [x * (slower or {}).get(twin, 1.0) * math.exp(rng.gauss(0, sd)) for x in b]
        base_items.append(("wl", "s1", twin, "async", b))
        current_items.append(("wl", "s1", twin, "async", c))
    docs = [run_doc(base_items), run_doc(current_items)]
    for doc, name in zip(docs, ("base", "current"), strict=True):
        set_ab(doc, {"session": "s", "side": name, "label": name, "order": "ABBA",
                     "rounds": n, "warmup_rounds": 1})
    return parse_run(docs[0]), parse_run(docs[1])
