"""`bench` as a user runs it: a real quick run against the real peer, and every bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from harness.results.runfile import SCHEMA_VERSION
from tests.helpers.cli import BENCH, QUICK_OVERHEAD, bench, invoke, one_line_error
from tests.helpers.procs import cmdline


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str, Path]:
    out = tmp_path_factory.mktemp("run") / "quick.json"
    # The plain-HTTP scenarios of the quick profile (its TLS one has tests of its own), a
    # sequential and a thread-pool sync twin, and one same-library pair (curl-cffi's; the other
    # twins are left out, for time: each costs about a second here).
    twins = ("requests", "curl-cffi-threads", "aiohttp", "curl-cffi-async")
    result = bench("run", "http_fetch", "--profile", "quick", "--json", str(out),
                   "--html", str(out.with_suffix(".html")), "-s", "latency-bound",
                   "-s", "many-quick", "-s", "overhead",
                   *(arg for twin in twins for arg in ("-t", twin)), timeout=240)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout, result.stderr, out


def test_html_writes_the_report_of_the_run_just_made(quick_run: tuple[str, str, Path]
                                                     ) -> None:
    _, stderr, path = quick_run
    page = path.with_suffix(".html")
    assert f"wrote the report {page} (" in stderr
    text = page.read_text()
    assert "<h1>twinbench report: quick.json</h1>" in text
    assert text.count("<figure>") == 3  # one chart per scenario
    assert "CPU per operation" in text  # this run recorded it: the chart has its panel


def test_quick_run_prints_tables_verdicts_and_peer_capacity(quick_run: tuple[str, str, Path]
                                                            ) -> None:
    stdout, _, _ = quick_run
    for scenario in ("latency-bound", "many-quick", "overhead"):
        assert f"http_fetch · {scenario}" in stdout
    assert stdout.count("→ ") == 3
    assert "than the best sync twin" in stdout
    # Twins in turn: even 3 rounds each are 3 pairs, whose interval the verdict reads (an
    # unpaired test of 3 and 3 rounds could never call anything)
    assert "3 and 3 rounds cannot show" not in stdout
    assert stdout.count("95% CI") + stdout.count("reaches across the smallest effect") >= 3
    assert stdout.count("With the library held fixed (curl-cffi: curl-cffi-async against "
                        "curl-cffi-threads)") == 3
    assert "HTTP peer capacity at L=0" in stdout


def test_quick_run_shows_what_each_twin_costs_and_the_answer(quick_run: tuple[str, str, Path]
                                                             ) -> None:
    stdout, stderr, path = quick_run
    assert "CPU/op" in stdout and "CPU vs best sync" in stdout
    assert "what each twin cost over its timed rounds" in stdout and "http CPU/op" in stdout
    answer = stdout[stdout.index("the answer: best async twin vs best sync twin"):]
    assert all(f"http_fetch · {s}" in answer for s in ("latency-bound", "many-quick",
                                                       "overhead"))
    # No terminal: one plain progress line per finished benchmark, on stderr.
    lines = [line for line in stderr.splitlines() if line.startswith("[")]  # not "wrote"
    assert len(lines) == 12 and lines[-1].startswith("[12/12] http_fetch · overhead")
    for b in json.loads(path.read_text())["benchmarks"]:
        info = b["extra_info"]
        assert len(info["cpu_s_per_round"]) == len(b["stats"]["data"])
        assert info["threads_peak"] >= 1 and info["rss_delta_bytes"] >= 0
        assert set(info["peer_cpu_s_per_round"]) == {"http"}


def test_an_old_run_file_still_renders_with_its_answer() -> None:
    """results/baseline.json is schema 2: no costs recorded, so those columns stay out."""
    result = bench("show", str(Path(__file__).resolve().parents[2] / "results" /
                                "baseline.json"))
    assert result.returncode == 0, result.stderr
    assert "the answer: best async twin vs best sync twin" in result.stdout
    assert "CPU vs best sync" not in result.stdout and "threads (peak)" not in result.stdout


def test_quick_run_file_is_complete_and_readable_by_pytest_benchmark(
        quick_run: tuple[str, str, Path]) -> None:
    _, _, path = quick_run
    doc = json.loads(path.read_text())
    assert len(doc["benchmarks"]) == 12  # 3 scenarios x the 4 twins chosen
    for b in doc["benchmarks"]:
        info = b["extra_info"]
        assert {"workload", "twin", "kind", "scenario", "params", "ops", "checksum", "ideal_s",
                "efficiency"} <= set(info)
        assert len(b["stats"]["data"]) == 3
    meta = doc["twinbench"]
    assert meta["complete"] is True and meta["profile"] == "quick"
    assert meta["libraries"]["aiohttp"] and meta["machine"]["cores"]
    assert meta["peers"]["http"]["capacity_rps"] > 0
    script = "from pytest_benchmark.cli import main; main()"
    compare = subprocess.run([sys.executable, "-c", script, "compare", str(path)],
                             capture_output=True, text=True, timeout=60)
    assert compare.returncode == 0, compare.stderr
    assert "test_twin[http_fetch-overhead-aiohttp]" in compare.stdout


def test_show_renders_a_saved_run(quick_run: tuple[str, str, Path]) -> None:
    _, _, path = quick_run
    result = bench("show", str(path))
    assert result.returncode == 0
    assert "http_fetch · overhead" in result.stdout
    assert "the answer: best async twin vs best sync twin" in result.stdout


def test_save_writes_results_label_and_refuses_to_overwrite(saved_run: Path) -> None:
    """`--save v1` wrote results/v1.json (the saved_run fixture ran it, shared with the compare
    tests); the same command again refuses to overwrite it."""
    results = saved_run.parent
    before = saved_run.read_bytes()
    assert json.loads(before)["twinbench"]["schema"] == SCHEMA_VERSION
    again = bench(*QUICK_OVERHEAD, "--save", "v1", cwd=results.parent)
    assert "exists; pass --force" in one_line_error(again)
    assert saved_run.read_bytes() == before
    assert not list(results.glob(".*tmp"))


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("run", "nope"), "unknown workload nope; choose from: "),
        (("run", "http_fetch", "--twin", "curl"), "unknown twin curl; choose from: aiohttp"),
        (("run", "http_fetch", "--scenario", "x"), "unknown scenario x; choose from: "),
        (("run", "http_fetch", "--profile", "huge"), "unknown profile 'huge'; choose from: "
                                                     "quick, default, full"),
        (("run", "http_fetch", "--loop", "trio"), "unknown event loop 'trio'"),
        (("run", "http_fetch", "--save", "../x"), "invalid label '../x'"),
        (("all", "--save", "/abs/x"), "invalid label '/abs/x'"),
        (("run", "http_fetch", "--passes", "0"), "--passes must be between 1 and 100, not 0"),
        (("all", "--passes", "99999999999999999999"), "--passes must be between 1 and 100"),
    ],
)
def test_bad_names_get_one_line_and_exit_2(args: tuple[str, ...], expected: str) -> None:
    assert expected in one_line_error(invoke(*args))


def test_the_command_itself_refuses_a_bad_name_in_one_line() -> None:
    """The refusals above, in this process; here through the real `python -m harness`."""
    assert "unknown workload nope; choose from: " in one_line_error(bench("run", "nope"))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "no such run file"),
        ("", "empty file"),
        ('{"benchmarks": [', "not valid JSON (truncated?)"),
        ('{"benchmarks": [], "machine_info": {}}', "written by another tool"),
        ('{"benchmarks": [], "twinbench": {"schema": 99}}', "schema 99 is newer"),
        ('{"benchmarks": [], "twinbench": {"schema": NaN}}', "non-finite number NaN"),
    ],
)
def test_show_refuses_bad_files(tmp_path: Path, content: str | None, expected: str) -> None:
    path = tmp_path / "run.json"
    if content is not None:
        path.write_text(content)
    assert expected in one_line_error(invoke("show", str(path)))


def peer_children(pid: int) -> list[psutil.Process]:
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [c for c in children if "harness.peers" in cmdline(c)]


def test_ctrl_c_stops_the_peer_and_exits_130(tmp_path: Path) -> None:
    proc = subprocess.Popen([*BENCH, "run", "http_fetch", "--profile", "quick"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        peers: list[psutil.Process] = []
        while not peers and time.monotonic() < deadline:
            peers = peer_children(proc.pid)
            time.sleep(0.1)
        assert peers, "the HTTP peer never started"
        time.sleep(1.0)  # let a benchmark start
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""
        for peer in peers:
            assert not peer.is_running() or peer.status() == psutil.STATUS_ZOMBIE
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_nothing_ran_is_said_once_in_our_words(tmp_path: Path) -> None:
    """pytest-benchmark's own "Not saving anything" warning used to leak into the output."""
    env = {k: v for k, v in os.environ.items() if k != "TWINBENCH_PG_DSN"}
    env["TWINBENCH_PG_BINDIR"] = ""  # no PostgreSQL anywhere: every case is skipped
    result = subprocess.run([*BENCH, "run", "pg_queries", "--profile", "quick", "--scenario",
                             "point-lookups"], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL, env=env, cwd=tmp_path)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Not saving anything" not in out and "PytestBenchmarkWarning" not in out, out
    assert "no benchmark produced a result (" in result.stderr and "skipped)" in result.stderr
