"""`bench compare` / `bench check`: matching, verdicts, cross-machine ratios, thresholds, the
gate's exit codes and all three output formats — on synthetic run files with known answers,
plus one real quick run against the real HTTP peer."""

from __future__ import annotations

import copy
import importlib.util
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from harness.cli_compare import check, compare
from harness.compare import (
    CompareResult,
    Mode,
    Status,
    Thresholds,
    compare_runs,
    machine_differences,
)
from harness.compare_report import to_json_doc, to_markdown
from harness.errors import BadInput
from harness.gate import (
    confirmation_cases,
    decide,
    load_thresholds,
    measure_and_confirm,
    parse_fraction,
    request_like,
    suspects,
)
from harness.passes import merge_passes
from harness.registry import Selection
from harness.results import SCHEMA_VERSION, Run, parse_run
from harness.runner import RunRequest, execute
from harness.stats import Verdict, compare_ratios

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


# -- compare_runs: known answers --------------------------------------------------------------

def test_unchanged_runs_give_unchanged_verdicts_on_the_same_machine() -> None:
    result = compare_runs(make_run(benches(seed=0)), make_run(benches(seed=100)))
    assert result.same_machine and result.mode is Mode.ABSOLUTE
    assert [d.verdict for d in result.absolute] == ["unchanged"] * 3
    assert not result.regressions
    assert [w.split(":")[0] for w in result.warnings] == ["one pass on each side"]
    assert decide(result, Thresholds()).exit_code == 0


def test_a_real_slowdown_beyond_threshold_is_slower_and_fails_the_gate() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 1.3}, seed=50)))
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.verdict == "slower" and delta.regression
    assert delta.comparison.change == pytest.approx(0.3, abs=0.03)
    assert delta.comparison.ci_low > 1.2
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1 and "wl:s1:aiohttp is +" in gate.reasons[0]


def test_significant_but_below_threshold_passes() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 1.05}, seed=50)))
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.comparison.significant and delta.verdict == "unchanged"
    assert decide(result, Thresholds()).passed


def test_per_benchmark_threshold_decides() -> None:
    base, cur = make_run(benches()), make_run(benches({"aiohttp": 1.3}, seed=50))
    loose = Thresholds(0.10, (("wl:*:aiohttp", 0.5),))
    assert decide(compare_runs(base, cur, thresholds=loose), loose).passed
    strict = Thresholds(0.50, (("wl:s1:aiohttp", 0.2), ("wl:*", 0.9)))  # exact key wins
    assert strict.for_key("wl:s1:aiohttp") == 0.2 and strict.for_key("wl:s1:requests") == 0.9
    assert not decide(compare_runs(base, cur, thresholds=strict), strict).passed


def test_faster_is_reported_and_passes() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"requests": 0.7}, seed=9)))
    assert by_key(result.absolute)["wl:s1:requests"].verdict == "faster"
    assert decide(result, Thresholds()).passed


def test_added_and_removed_benchmarks_are_listed_not_gated() -> None:
    base = make_run(benches()[:2])
    cur = make_run([*benches()[1:], *benches(scenario="s2")[:1]])
    deltas = by_key(compare_runs(base, cur).absolute)
    assert deltas["wl:s1:requests"].status is Status.REMOVED
    assert deltas["wl:s1:aiohttp"].status is Status.ADDED
    assert deltas["wl:s2:requests"].status is Status.ADDED
    assert deltas["wl:s1:requests-threads"].status is Status.COMPARED


def test_a_failed_twin_fails_the_gate_and_a_skipped_one_is_removed() -> None:
    outcomes = {"wl-s1-aiohttp": {"outcome": "failed", "detail": "checksum 1 != 2"},
                "wl-s1-requests-threads": {"outcome": "skipped", "detail": "no peer"}}
    cur = make_run(benches()[:1], outcomes=outcomes)
    result = compare_runs(make_run(benches()), cur)
    deltas = by_key(result.absolute)
    assert deltas["wl:s1:aiohttp"].status is Status.FAILED
    assert deltas["wl:s1:requests-threads"].status is Status.REMOVED
    assert "skipped: no peer" in deltas["wl:s1:requests-threads"].detail
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1 and gate.reasons == ["failed: wl-s1-aiohttp: checksum 1 != 2"]


def test_changed_parameters_are_marked_not_compared() -> None:
    cur = make_run(benches({"aiohttp": 3.0}), params={**PARAMS, "n": 50})
    result = compare_runs(make_run(benches()), cur)
    assert {d.status for d in result.absolute} == {Status.PARAMS_DIFFER}
    assert "n 100 → 50" in result.absolute[0].detail
    assert any("different parameters" in w for w in result.warnings)
    assert all(s.params_differ and s.change is None for s in result.speedups)
    with pytest.raises(BadInput, match="share no comparable benchmark"):
        decide(result, Thresholds())


def test_too_few_rounds_warns_and_never_calls_a_change() -> None:
    result = compare_runs(make_run(benches(n=3), profile="quick"),
                          make_run(benches({"aiohttp": 2.0}, n=3, seed=4), profile="quick"))
    aio = by_key(result.absolute)["wl:s1:aiohttp"]
    assert aio.underpowered and aio.verdict == "unchanged"
    assert any("too few rounds" in w and "p = 0.1" in w for w in result.warnings)


def test_profile_loop_incomplete_and_library_changes_are_reported() -> None:
    base = make_run(benches(), profile="full")
    cur = make_run(benches(seed=3), complete=False,
                   libraries={"aiohttp": "3.10.0", "requests": "2.31.0"})
    result = compare_runs(base, cur, base_name="b", current_name="c")
    text = " ".join(result.warnings)
    assert "profiles differ (full vs default)" in text
    assert "c is an incomplete run" in text
    assert "library versions changed: aiohttp 3.9.0 → 3.10.0" in result.notes


def test_async_speedup_per_run_and_its_change() -> None:
    result = compare_runs(make_run(benches()), make_run(benches({"aiohttp": 2.0}, seed=8)))
    (s,) = result.speedups
    assert s.base_pair == ("aiohttp", "requests-threads")
    assert s.base == pytest.approx(0.040 / 0.025, rel=0.02)
    assert s.current == pytest.approx(0.040 / 0.050, rel=0.02)
    assert s.change == pytest.approx(-0.5, abs=0.02)


# -- machines and in-run ratios ---------------------------------------------------------------

def test_machine_differences() -> None:
    assert machine_differences(MACHINE, dict(MACHINE)) == []
    wobble = {**MACHINE, "memory_bytes": int(MACHINE["memory_bytes"] * 0.99)}
    assert machine_differences(MACHINE, wobble) == []
    other = {**MACHINE, "cpu": "Other CPU", "cores": 4}
    assert machine_differences(MACHINE, other) == ["cpu 'Test CPU 3000' vs 'Other CPU'",
                                                   "cores 2 vs 4"]


def test_a_uniformly_slower_machine_fails_absolute_but_not_ratio_gating() -> None:
    other = {**MACHINE, "cpu": "Slow CPU"}
    slow = {t: 2.0 for t, _ in TWINS}
    result = compare_runs(make_run(benches()), make_run(benches(slow, seed=7), machine=other))
    assert not result.same_machine and result.mode is Mode.RATIO
    assert any("different machines" in w and "in-run ratios" in w for w in result.warnings)
    assert all(d.verdict == "slower" for d in result.absolute)
    ratios = by_key(result.ratios)
    assert ratios["wl:s1:requests"].status is Status.REFERENCE
    assert ratios["wl:s1:aiohttp"].verdict == "unchanged"
    assert ratios["wl:s1:aiohttp"].comparison.ratio == pytest.approx(1.0, abs=0.03)
    assert decide(result, Thresholds()).passed
    forced = compare_runs(make_run(benches()), make_run(benches(slow, seed=7), machine=other),
                          mode="absolute")
    assert not decide(forced, Thresholds()).passed


def test_ratio_gating_catches_an_async_regression_across_machines() -> None:
    other = {**MACHINE, "cpu": "Slow CPU"}
    slower_machine_and_regression = {"requests": 2.0, "requests-threads": 2.0, "aiohttp": 2.6}
    cur = make_run(benches(slower_machine_and_regression, seed=7), machine=other)
    result = compare_runs(make_run(benches()), cur)
    delta = by_key(result.ratios)["wl:s1:aiohttp"]
    assert delta.verdict == "slower" and delta.reference == "requests"
    assert delta.comparison.change == pytest.approx(0.3, abs=0.04)
    assert [d.key for d in result.regressions] == ["wl:s1:aiohttp"]


def test_reference_falls_back_to_fastest_sync_twin_by_name() -> None:
    items = [b for b in benches() if b[3] != "sync"]
    result = compare_runs(make_run(items), make_run(items), mode="ratio")
    deltas = by_key(result.ratios)
    assert deltas["wl:s1:requests-threads"].status is Status.REFERENCE
    assert deltas["wl:s1:aiohttp"].reference == "requests-threads"


def test_compare_ratios_known_answers() -> None:
    twin, ref = rounds(0.05, seed=1), rounds(0.2, seed=2)
    same = compare_ratios(twin, ref, [x * 3 for x in twin], [x * 3 for x in ref])
    assert same.ratio == pytest.approx(1.0) and same.verdict is Verdict.UNCHANGED
    assert same.ci_low <= 1.0 <= same.ci_high
    worse = compare_ratios(twin, ref, [x * 1.5 for x in rounds(0.05, seed=3)], ref)
    assert worse.ratio == pytest.approx(1.5, rel=0.03) and worse.verdict is Verdict.SLOWER


def lognormal(rng: random.Random, n: int, scale: float, sigma: float = 0.05) -> list[float]:
    return [scale * rng.lognormvariate(0, sigma) for _ in range(n)]


def test_ratio_test_error_rates_on_synthetic_samples() -> None:
    """False positives under no change stay below alpha; a 30% shift is found nearly always."""
    rng = random.Random(42)
    trials, false_pos, found = 60, 0, 0
    for _ in range(trials):
        def sample(scale: float) -> list[float]:
            return lognormal(rng, 10, scale)

        null = compare_ratios(sample(1), sample(4), sample(1), sample(4), resamples=400)
        false_pos += null.verdict is not Verdict.UNCHANGED
        shifted = compare_ratios(sample(1), sample(4), sample(1.3), sample(4), resamples=400)
        found += shifted.verdict is Verdict.SLOWER
    assert false_pos <= 1  # alpha 0.01 and a 10% effect floor: expect ~0
    assert found >= trials * 0.9


# -- thresholds -------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "value"), [("10%", 0.1), ("0.1", 0.1), (" 12.5% ", 0.125),
                                             ("0", 0.0), (0.2, 0.2), ("150%", 1.5)])
def test_parse_fraction_accepts(text: str | float, value: float) -> None:
    assert parse_fraction(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["abc", "-5%", "nan", "inf", "10", "", "%", True, "2000%"])
def test_parse_fraction_refuses(text: str | float) -> None:
    with pytest.raises(BadInput, match="--max-regression"):
        parse_fraction(text)


def test_thresholds_from_pyproject(tmp_path: Path) -> None:
    toml = tmp_path / "pyproject.toml"
    toml.write_text('[tool.twinbench]\nmax-regression = 0.2\n[tool.twinbench.thresholds]\n'
                    '"wl:s1:aiohttp" = "30%"\n"wl:*" = 0.25\n')
    t = load_thresholds(toml)
    assert (t.default, t.for_key("wl:s1:aiohttp"), t.for_key("wl:s2:x")) == (0.2, 0.3, 0.25)
    assert t.for_key("other:s:x") == 0.2
    assert load_thresholds(toml, override="5%").default == 0.05
    assert load_thresholds(tmp_path / "missing.toml").default == 0.10
    toml.write_text("[tool.twinbench\n")
    with pytest.raises(BadInput, match="invalid TOML"):
        load_thresholds(toml)
    toml.write_text('[tool.twinbench.thresholds]\n"wl:*" = "lots"\n')
    with pytest.raises(BadInput, match="thresholds 'wl:\\*'"):
        load_thresholds(toml)


def test_repo_pyproject_thresholds_parse() -> None:
    root = Path(__file__).resolve().parents[1]
    assert load_thresholds(root / "pyproject.toml").default == pytest.approx(0.10)


def test_request_like_reuses_the_baseline_profile_loop_and_selection() -> None:
    doc = run_doc(benches(), profile="quick")
    doc["twinbench"]["selection"] = {"workloads": ["http_fetch"], "twins": ["aiohttp"],
                                     "scenarios": ["overhead"]}
    request = request_like(parse_run(doc))
    assert (request.profile, request.loop) == ("quick", "asyncio")
    assert request.selection.twins == ("aiohttp",)
    doc["twinbench"]["profile"] = "huge"
    with pytest.raises(BadInput, match="unknown profile 'huge'"):
        request_like(parse_run(doc))


# -- the commands -----------------------------------------------------------------------------

def make_app() -> typer.Typer:
    """cli.py registers these commands on the real app; the tests register them the same way."""
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(compare)
    app.command()(check)
    return app


APP = make_app()


def invoke(*args: str) -> Any:
    return CliRunner().invoke(APP, list(args))


def one_line_error(result: Any) -> str:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """base, an unchanged current and a regressed current, under tmp_path/results/."""
    monkeypatch.chdir(tmp_path)  # no pyproject here: built-in 10% threshold
    base = write(tmp_path / "results" / "v1.json", run_doc(benches()))
    same = write(tmp_path / "results" / "v2.json", run_doc(benches(seed=40)))
    slow = write(tmp_path / "results" / "v3.json", run_doc(benches({"aiohttp": 1.3}, seed=40)))
    return base, same, slow


def test_compare_table_by_label(runs: tuple[Path, Path, Path]) -> None:
    result = invoke("compare", "v1", "v3")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "wl · s1 · aiohttp" in out and "slower" in out and "+30" in out
    assert "async over best sync" in out and "1 slower, 2 unchanged" in out


def test_compare_markdown(runs: tuple[Path, Path, Path]) -> None:
    base, _, slow = runs
    result = invoke("compare", str(base), str(slow), "--format", "markdown")
    assert result.exit_code == 0
    md = result.stdout
    assert md.startswith("## twinbench compare")
    assert ("| benchmark | base | current | change | 95% CI | p | passes | detects | threshold "
            "| verdict |") in md
    assert "| `wl:s1:aiohttp` |" in md and "**🔴 slower**" in md


def test_compare_json_has_stable_keys(runs: tuple[Path, Path, Path]) -> None:
    base, _, slow = runs
    result = invoke("compare", str(base), str(slow), "-f", "json")
    assert result.exit_code == 0
    doc = json.loads(result.stdout)
    assert doc["format"] == "twinbench-compare" and doc["version"] == 2
    assert doc["mode"] == "absolute" and doc["regressions"] == ["wl:s1:aiohttp"]
    b = {x["key"]: x for x in doc["benchmarks"]}["wl:s1:aiohttp"]
    assert set(b) == {"key", "workload", "scenario", "twin", "kind", "label", "status",
                      "verdict", "threshold", "base_median_s", "current_median_s", "change",
                      "ci_low", "ci_high", "p_value", "method", "passes", "detectable",
                      "n_base", "n_current", "underpowered", "detail"}
    assert b["verdict"] == "slower" and b["change"] == pytest.approx(0.3, abs=0.03)
    r = {x["key"]: x for x in doc["ratios"]}["wl:s1:aiohttp"]
    assert r["reference"] == "requests" and "base_ratio" in r
    assert set(doc["speedups"][0]) >= {"base", "current", "change", "base_best_async"}
    assert "gate" not in doc


def test_check_passes_on_noise_and_writes_markdown(runs: tuple[Path, Path, Path],
                                                   tmp_path: Path) -> None:
    base, same, _ = runs
    md = tmp_path / "summary.md"
    result = invoke("check", "--baseline", str(base), "--current", str(same),
                    "--markdown", str(md))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout
    assert md.read_text().startswith("## ✅ twinbench check: passed")


def test_check_fails_on_a_regression_in_every_format(runs: tuple[Path, Path, Path]) -> None:
    base, _, slow = runs
    for fmt in ("table", "markdown", "json"):
        result = invoke("check", "--baseline", str(base), "--current", str(slow),
                        "--format", fmt)
        assert result.exit_code == 1, result.stderr
        assert "wl:s1:aiohttp" in result.stdout
    doc = json.loads(result.stdout)
    assert doc["gate"]["passed"] is False and doc["gate"]["exit_code"] == 1


def test_check_threshold_option_and_pyproject(runs: tuple[Path, Path, Path],
                                              tmp_path: Path) -> None:
    base, _, slow = runs
    assert invoke("check", "--baseline", str(base), "--current", str(slow),
                  "--max-regression", "50%").exit_code == 0
    (tmp_path / "pyproject.toml").write_text(
        '[tool.twinbench]\nmax-regression = 0.5\n[tool.twinbench.thresholds]\n'
        '"wl:*:aiohttp" = 0.2\n')
    result = invoke("check", "--baseline", str(base), "--current", str(slow))
    assert result.exit_code == 1 and "threshold 20%" in result.stdout


def test_check_across_machines_gates_on_ratios(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    base = write(tmp_path / "base.json", run_doc(benches()))
    other = {**MACHINE, "cpu": "CI runner CPU", "cores": 4}
    cur = write(tmp_path / "cur.json",
                run_doc(benches({t: 1.8 for t, _ in TWINS}, seed=5), machine=other))
    result = invoke("check", "--baseline", str(base), "--current", str(cur))
    assert result.exit_code == 0, result.stdout
    assert "different machines" in result.stdout and "in-run ratios" in result.stdout
    assert invoke("check", "--baseline", str(base), "--current", str(cur),
                  "--mode", "absolute").exit_code == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--format", "html"), "unknown format 'html'; choose from: table, markdown, json"),
        (("--mode", "fast"), "unknown mode 'fast'"),
        (("--max-regression", "lots"), "--max-regression: 'lots' is not a fraction"),
        (("--max-regression", "10"), "'10' is ambiguous; write 10%"),
        (("--markdown", "/nonexistent-dir/x.md"), "directory /nonexistent-dir does not exist"),
        (("--json", "out.json"), "--json saves the run measured now"),
        (("--passes", "0"), "--passes must be at least 1"),
        (("--confirm", "-1"), "--confirm at least 0"),
    ],
)
def test_check_bad_options_exit_2(runs: tuple[Path, Path, Path], args: tuple[str, ...],
                                  expected: str) -> None:
    base, same, _ = runs
    result = invoke("check", "--baseline", str(base), "--current", str(same), *args)
    assert expected in one_line_error(result)


BAD_FILES: list[tuple[str | None, str]] = [
    (None, "no such run file"),
    ("", "empty file"),
    ('{"benchmarks": [', "not valid JSON (truncated?)"),
    ('{"benchmarks": [], "twinbench": {"schema": NaN}}', "non-finite number NaN"),
    ('{"benchmarks": [], "twinbench": {"schema": 1, "x": Infinity}}', "non-finite number"),
    ('{"benchmarks": [], "twinbench": {"schema": 99}}', "schema 99 is newer"),
    ('{"benchmarks": [], "twinbench": {"schema": 0}}', "unknown schema version 0"),
    ('{"benchmarks": [], "twinbench": {}}', "no schema version"),
    ('{"benchmarks": [], "machine_info": {}}', "written by another tool"),
    ('{"results": {}}', "not a benchmark run file"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_FILES)
def test_compare_and_check_refuse_bad_run_files(runs: tuple[Path, Path, Path], tmp_path: Path,
                                                content: str | None, expected: str) -> None:
    good = runs[0]
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_text(content)
    assert expected in one_line_error(invoke("compare", str(good), str(bad)))
    assert expected in one_line_error(invoke("compare", str(bad), str(good)))
    assert expected in one_line_error(invoke("check", "--baseline", str(bad)))
    assert expected in one_line_error(invoke("check", "--baseline", str(good), "--current",
                                             str(bad)))


def test_unknown_label_is_a_missing_file(runs: tuple[Path, Path, Path]) -> None:
    assert "results/nope.json: no such run file" in one_line_error(invoke("compare", "v1",
                                                                          "nope"))


def test_a_malformed_benchmark_entry_is_refused(runs: tuple[Path, Path, Path],
                                                tmp_path: Path) -> None:
    doc = run_doc(benches())
    broken = copy.deepcopy(doc)
    broken["benchmarks"][0]["stats"]["data"] = []
    path = write(tmp_path / "broken.json", broken)
    assert "raw rounds missing" in one_line_error(invoke("compare", str(runs[0]), str(path)))


# -- end to end on a real run -----------------------------------------------------------------

REAL_ARGS = ("run", "http_fetch", "--profile", "quick", "--scenario", "overhead",
             "--twin", "requests", "--twin", "aiohttp")


def test_real_quick_runs_compare_and_check(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real runs against the real HTTP peer, then compare and check (also measuring now)."""
    base = tmp_path / "base.json"
    made = subprocess.run([sys.executable, "-m", "harness", *REAL_ARGS, "--json", str(base)],
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert made.returncode == 0, made.stdout + made.stderr
    monkeypatch.chdir(tmp_path)
    for fmt in ("table", "markdown", "json"):
        result = invoke("compare", str(base), str(base), "--format", fmt)
        assert result.exit_code == 0, result.stderr
        assert "http_fetch" in result.stdout
    current = tmp_path / "current.json"
    result = invoke("check", "--baseline", str(base), "--json", str(current), "-f", "json",
                    "--confirm", "0")
    # Quick runs have 3 rounds: never significant, so only a failed twin could fail the gate.
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = json.loads(result.stdout)
    assert doc["gate"]["passed"] is True and doc["current"]["name"] == "measured now"
    keys = {b["key"]: b for b in doc["benchmarks"]}
    assert set(keys) == {"http_fetch:overhead:requests", "http_fetch:overhead:aiohttp"}
    assert all(b["status"] == "compared" and b["underpowered"] for b in keys.values())
    assert any("too few rounds" in w for w in doc["warnings"])
    saved = json.loads(current.read_text())  # the fresh run, as github-action-benchmark reads it
    assert all(b["stats"]["ops"] > 0 and b["fullname"] for b in saved["benchmarks"])
    assert saved["twinbench"]["selection"]["twins"] == ["requests", "aiohttp"]


def test_markdown_and_json_renderers_agree_on_a_cross_machine_run() -> None:
    other = {**MACHINE, "os": "Darwin"}
    result = compare_runs(make_run(benches()), make_run(benches(seed=2), machine=other))
    md = to_markdown(result)
    assert "Time of each twin ÷ time of its scenario's sync twin" in md
    assert "<details><summary>Absolute times (different machines" in md
    doc = to_json_doc(result)
    assert doc["mode"] == "ratio" and doc["same_machine"] is False
    assert doc["machine_differences"] == ["os 'Linux-6.1-x86_64' vs 'Darwin'"]
    json.dumps(doc, allow_nan=False)


# -- the gate-quality experiment's injected slowdown ------------------------------------------

class NapClient:
    """A sync 'client' whose op sleeps: stable timings, no peer needed."""

    def open(self, ctx: Any) -> None:
        self.delay = ctx.params["latency_ms"] / 1000

    def op(self, item: int) -> int:
        time.sleep(self.delay)
        return item

    def close(self) -> None:
        pass


def load_gate_quality() -> Any:
    path = Path(__file__).resolve().parents[1] / "scripts" / "gate_quality.py"
    spec = importlib.util.spec_from_file_location("gate_quality", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gate_quality"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_injected_slowdown_is_exact_and_caught() -> None:
    from harness.drive import client_twin
    from harness.registry import Scenario, Selection, Workload
    from harness.runner import RunRequest, execute

    gq = load_gate_quality()
    workload = Workload(
        name="nap", description="sleeps",
        twins=(client_twin("seq", "sync", "seq", NapClient, lambda ctx: range(ctx.params["n"])),
               client_twin("pool", "threads", "pool", NapClient,
                           lambda ctx: range(ctx.params["n"]))),
        scenarios=(Scenario("s", {"n": 5, "concurrency": 5, "latency_ms": 4}),),
    )
    registry = {"nap": workload}
    request = RunRequest(Selection(("nap",)), profile="default")
    baseline = execute(request, registry=registry).run
    slowed, keys = gq.slowed_registry(registry, baseline, "seq", 0.3)
    assert keys == ["nap:s:seq"]
    with pytest.raises(BadInput, match="--slow-twin 'nope' is not in the baseline"):
        gq.slowed_registry(registry, baseline, "nope", 0.3)
    assert registry["nap"].twins[0].bind is workload.twins[0].bind  # original untouched
    current = execute(request, registry=slowed).run
    result = compare_runs(baseline, current, mode="absolute")
    seq = by_key(result.absolute)["nap:s:seq"]
    assert seq.comparison.change == pytest.approx(0.3, abs=0.1)
    assert seq.verdict == "slower"
    trials = gq.run_trials(baseline, request, registry, slowed, keys, 1, Thresholds(), 2)
    assert [t.experiment for t in trials] == ["A/A", "slowdown"]
    summary = gq.summary(trials)["absolute, confirmed"]
    assert summary["slowdown_checks_failed"] == 1 and summary["slowdown_benchmarks"] == 1
    _, _, markdown = gq.render(trials, {"description": "test"})
    assert "| absolute |" in markdown and "s +" in markdown and "caught" in markdown


def with_extra(doc: dict[str, Any], twin: str, **extra: Any) -> Run:
    for bench in doc["benchmarks"]:
        if bench["extra_info"]["twin"] == twin:
            bench["extra_info"].update(extra)
    return parse_run(doc)


def test_open_loop_scenarios_are_shown_not_gated() -> None:
    """Open-loop wall time is the schedule's; a p99 that is one value per run cannot be
    tested on rounds, so the gate must not pretend to have checked it."""
    base, cur = run_doc(benches()), run_doc(benches({"aiohttp": 3.0}))
    for doc, p99 in ((base, 0.002), (cur, 0.2)):
        for bench in doc["benchmarks"]:
            bench["extra_info"].update(judged_by="p99_s", p99_s=p99)
    result = compare_runs(parse_run(base), parse_run(cur))
    deltas = by_key(result.absolute)
    assert {d.status for d in deltas.values()} == {Status.NOT_GATED}
    assert deltas["wl:s1:aiohttp"].current_value == pytest.approx(0.2)
    assert not result.regressions


def test_an_overload_twin_that_served_less_fails_the_gate() -> None:
    base = with_extra(run_doc(benches()), "aiohttp", served=1.0)
    cur = with_extra(run_doc(benches({"aiohttp": 0.5})), "aiohttp", served=0.7)
    result = compare_runs(base, cur)
    delta = by_key(result.absolute)["wl:s1:aiohttp"]
    assert delta.status is Status.LOST_WORK and delta.regression
    gate = decide(result, Thresholds())
    assert gate.exit_code == 1
    assert any("served 70% of the work" in reason for reason in gate.reasons)


# -- passes and confirmation ----------------------------------------------------------------------

def passes_doc(pass_scales: Sequence[dict[str, float]], seed: int = 0, **kw: Any
               ) -> dict[str, Any]:
    """A run of several passes, pass k scaled by pass_scales[k] per twin (1.0 if absent)."""
    docs = [run_doc(benches(scale, seed=seed + 10 * k), **kw)
            for k, scale in enumerate(pass_scales)]
    for doc in docs:
        doc["twinbench"]["passes"] = 1
    return merge_passes(docs)


def test_pass_to_pass_drift_is_not_a_regression_but_a_consistent_slowdown_is() -> None:
    """Each pass drifts by up to 8% as a whole (the machine), rounds within a pass are tight:
    a rounds-only test calls that drift significant, the pass-level test does not."""
    drift = [{t: f for t in BASE_TIMES} for f in (1.0, 1.08, 0.95)]
    base = parse_run(passes_doc(drift))
    shifted = parse_run(passes_doc([{t: 1.08 for t in BASE_TIMES}], seed=99))
    result = compare_runs(base, shifted, thresholds=Thresholds(default=0.05), mode="absolute")
    assert all(d.comparison.method == "passes" for d in result.compared)
    assert all(d.comparison.passes == (3, 1) for d in result.compared)
    assert not result.regressions  # +8% is within the baseline's own pass-to-pass spread
    rounds_only = compare_runs(make_run(benches()), shifted,
                               thresholds=Thresholds(default=0.05), mode="absolute")
    assert len(rounds_only.regressions) == 3  # ...which a one-pass baseline cannot know
    slow = parse_run(passes_doc([{t: f * 1.6 for t in BASE_TIMES} for f in (1.0, 1.05, 0.97)],
                                seed=50))
    caught = compare_runs(base, slow, mode="absolute")
    assert {d.key for d in caught.regressions} == {f"wl:s1:{t}" for t in BASE_TIMES}
    assert all(d.comparison.detectable is not None and d.comparison.detectable < 0.6
               for d in caught.compared)


def test_noisy_passes_are_flagged_as_unable_to_see_the_threshold() -> None:
    base = parse_run(passes_doc([{t: f for t in BASE_TIMES} for f in (1.0, 1.4, 0.7)]))
    result = compare_runs(base, parse_run(passes_doc([{}], seed=7)), mode="absolute")
    assert all(d.underpowered and d.comparison.detectable > 0.10 for d in result.compared)
    assert any("vary too much from pass to pass" in w for w in result.warnings)
    assert not any(w.startswith("one pass on each side") for w in result.warnings)
    md = to_markdown(result)
    assert "| 3/1 |" in md and "≥" in md


def test_confirmation_re_measures_suspects_and_their_references() -> None:
    base = make_run(benches())
    current = make_run(benches({"aiohttp": 1.5, "requests-threads": 1.02}, seed=3))
    absolute = compare_runs(base, current, mode="absolute")
    assert [d.key for d in suspects(absolute)] == ["wl:s1:aiohttp"]
    assert confirmation_cases(absolute, suspects(absolute)) == ("wl-s1-aiohttp",)
    ratio = compare_runs(base, current, mode="ratio")
    assert confirmation_cases(ratio, suspects(ratio)) == ("wl-s1-aiohttp", "wl-s1-requests")


def test_check_confirms_a_suspect_with_more_passes_of_just_it(tmp_path: Path) -> None:
    """Real runs: a baseline made to look twice as fast makes every benchmark a suspect; the
    check then measures just those again and judges them on all their passes."""
    request = RunRequest(Selection(("http_fetch",), ("requests", "aiohttp"), ("overhead",)),
                         profile="quick")
    made = execute(request)
    assert made.run is not None
    doc = made.run.doc
    for bench in doc["benchmarks"]:
        bench["stats"]["data"] = [x / 2 for x in bench["stats"]["data"]]
        bench["stats"]["median"] /= 2
    base = parse_run(doc)
    announced: list[str] = []

    def against_base(run: Run) -> CompareResult:
        return compare_runs(base, run, mode="absolute")

    only_aiohttp = replace(request, selection=replace(request.selection, twins=("aiohttp",)))
    measured = measure_and_confirm(only_aiohttp, against_base, confirm=2,
                                   announce=announced.append)
    assert measured.confirmed == ("http_fetch-overhead-aiohttp",)
    assert announced and "confirming with 2 more pass(es) of 1 benchmark(s)" in announced[0]
    assert measured.run is not None and measured.comparison is not None
    record = {r.twin: r for r in measured.run.benchmarks}["aiohttp"]
    assert len(record.passes) == 3 and measured.run.meta["confirmation"]["passes"] == 2
    delta = by_key(measured.comparison.absolute)["http_fetch:overhead:aiohttp"]
    assert delta.comparison.passes == (1, 3) and delta.comparison.method == "passes"
    none = measure_and_confirm(only_aiohttp, against_base, confirm=0)
    assert none.confirmed == () and none.comparison is not None
    assert len({r.twin: r for r in none.run.benchmarks}["aiohttp"].passes) == 1
