"""`bench compare` / `bench check` as commands: exit codes, formats, bad input, a real run end
to end, and the gate-quality experiment's injected slowdown."""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from harness.analysis.compare import compare_runs
from harness.cli.compare_cmds import check, compare
from harness.config import Thresholds
from harness.errors import BadInput
from harness.results.merge import merge_passes
from tests.helpers.runfiles import (
    MACHINE,
    TWINS,
    benches,
    by_key,
    paired_runs,
    run_doc,
    write,
)

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
    assert doc["format"] == "twinbench-compare" and doc["version"] == 5
    assert doc["timed"] is True and doc["instructions"] == [] and doc["io"] == []
    assert doc["paired"] is False
    assert doc["mode"] == "absolute" and doc["regressions"] == ["wl:s1:aiohttp"]
    b = {x["key"]: x for x in doc["benchmarks"]}["wl:s1:aiohttp"]
    assert set(b) == {"key", "workload", "scenario", "twin", "kind", "label", "status",
                      "verdict", "threshold", "base_median_s", "current_median_s", "change",
                      "ci_low", "ci_high", "p_value", "method", "passes", "pairs",
                      "detectable", "n_base", "n_current", "underpowered", "detail"}
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
        (("--passes", "0"), "--passes must be between 1 and 100, not 0"),
        (("--confirm", "-1"), "--confirm must be between 0 and 100, not -1"),
        (("--passes", "99999999999999999999"), "--passes must be between 1 and 100"),
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

def test_real_quick_runs_compare_and_check(saved_run: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Two real runs against the real HTTP peer, then compare and check (also measuring now).
    The first is `bench run` of tests.helpers.cli.QUICK_OVERHEAD (the saved_run fixture)."""
    base = saved_run
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
    path = Path(__file__).resolve().parents[2] / "scripts" / "gate_quality.py"
    spec = importlib.util.spec_from_file_location("gate_quality", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["gate_quality"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_injected_slowdown_is_exact_and_caught() -> None:
    from harness.drivers.client import client_twin
    from harness.model.registry import Selection
    from harness.model.workload import Scenario, Workload
    from harness.run.runner import RunRequest, execute

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




def kept_trial(directory: Path, number: int, tag: str, slower: float, seed: int,
               confirmed: bool) -> None:
    """One `--against --keep` trial: both sides' run files, the second pass (suspects'
    confirmation) merged in when `confirmed`."""
    noise, seconds = {"tasks": 0.02, "nap": 0.02}, {"tasks": 0.01, "nap": 0.02}
    docs = [run.doc for run in paired_runs(noise, seconds, seed=seed, slower={"tasks": slower})]
    if confirmed:
        more = paired_runs(noise, seconds, n=24, seed=seed + 1, slower={"tasks": slower})
        docs = [merge_passes([doc, again.doc]) for doc, again in zip(docs, more, strict=True)]
        for doc in docs:
            doc["twinbench"]["confirmation"] = {"passes": 2, "cases": ["wl-s1-tasks"]}
    for side, doc in zip(("base", "current"), docs, strict=True):
        write(directory / f"trial-{number:03d}-{tag}-{side}.json", doc)


def test_rescore_judges_kept_trials_again_and_pools_directories(tmp_path: Path) -> None:
    gq = load_gate_quality()
    one, two = tmp_path / "one", tmp_path / "two"
    kept_trial(one, 1, "aa", 1.0, seed=1, confirmed=False)
    kept_trial(one, 1, "slow", 1.10, seed=2, confirmed=True)
    kept_trial(two, 1, "aa", 1.0, seed=3, confirmed=False)
    (one / "report.json").write_text(json.dumps({
        "plain_run_seconds": 10.0,
        "trials": [{"number": 1, "experiment": "A/A", "seconds": 21.0},
                   {"number": 1, "experiment": "slowdown", "seconds": 25.0}]}))
    rescored = gq.rescore_trials([one, two], "tasks", Thresholds(0.05))
    trials, plain = rescored.trials, rescored.plain_seconds
    assert [(t.number, t.experiment) for t in trials] == [(1, "A/A"), (1, "slowdown"),
                                                          (2, "A/A")]
    assert plain == [10.0] and trials[1].seconds == 25.0 and math.isnan(trials[2].seconds)
    slow = trials[1]
    assert slow.slowed_keys == ("wl:s1:tasks",) and slow.caught("interleaved") == ["wl:s1:tasks"]
    first = {d.key: d.comparison.pairs for d in slow.results[("interleaved", "first")].compared}
    final = {d.key: d.comparison.pairs
             for d in slow.results[("interleaved", "confirmed")].compared}
    assert first == {"wl:s1:tasks": 12, "wl:s1:nap": 12}
    assert final == {"wl:s1:tasks": 36, "wl:s1:nap": 36}
    assert not trials[0].alarms("interleaved") and not trials[2].alarms("interleaved")
    with pytest.raises(BadInput, match="needs --slow-twin"):
        gq.rescore_trials([one], None, Thresholds(0.05))
    # What seeing 10% would take, from the A/A trials: 2 trials, sd near the 2% put in.
    _, md = gq.noise(rescored.first)
    row = next(line for line in md.splitlines() if "`wl:s1:tasks`" in line).split(" | ")
    assert row[1] == "2" and row[2] == "0.02 s" and 0.01 < float(row[3]) < 0.04
