"""`bench check --against REF` as a team uses it: their twins in their git repository, the REF
side from a cached worktree, both measured now, interleaved — and every bad input one line."""

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

from tests.helpers.procs import cmdline
from tests.run.test_ab import TWINS

BENCH = [sys.executable, "-m", "harness"]
PYPROJECT = '''[project]
name = "team-twins"
version = "1.0"
dependencies = []

[tool.twinbench]
workloads = ["naps.py"]
'''


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A team's repository: a first commit without the project, then the twins."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.email", "t@example.com")
    git(root, "config", "user.name", "t")
    (root / "README").write_text("before the project\n")
    git(root, "add", ".")
    git(root, "commit", "-qm", "no project yet")
    (root / "pyproject.toml").write_text(PYPROJECT)
    write_twins(root, nap_ms=2)
    git(root, "add", ".")
    git(root, "commit", "-qm", "twins")
    monkeypatch.setenv("TWINBENCH_CACHE", str(tmp_path / "cache"))
    return root


def write_twins(root: Path, nap_ms: float) -> None:
    (root / "naps.py").write_text(TWINS.format(side="x", nap_ms=nap_ms,
                                               log=str(root.parent / "rounds.log")))


def bench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=dict(os.environ))


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


CHECK = ("check", "naps", "--against", "HEAD", "--pairs", "8", "--confirm", "0", "--format",
         "json")


def test_an_unchanged_tree_passes_and_a_slower_one_fails(repo: Path, tmp_path: Path) -> None:
    same = bench(*CHECK, cwd=repo)
    assert same.returncode == 0, same.stdout + same.stderr
    doc = json.loads(same.stdout)
    assert doc["paired"] is True and doc["gate"]["passed"] is True
    assert {b["method"] for b in doc["benchmarks"]} == {"pairs"}
    assert "measuring HEAD (" in same.stderr and "against the working tree, interleaved" \
        in same.stderr
    write_twins(repo, nap_ms=6)  # the pull request makes every op 3x slower
    cur, base = tmp_path / "cur.json", tmp_path / "base.json"
    slow = bench(*CHECK, "--json", str(cur), "--base-json", str(base), cwd=repo)
    assert slow.returncode == 1, slow.stdout + slow.stderr
    doc = json.loads(slow.stdout)
    assert {b["verdict"] for b in doc["benchmarks"]} == {"slower"}
    assert all(b["pairs"] == 8 for b in doc["benchmarks"])
    # Both sides' runs are ordinary run files that compare pairs again.
    compared = bench("compare", str(base), str(cur), "--format", "json", cwd=repo)
    assert json.loads(compared.stdout)["paired"] is True
    # The REF side ran from a worktree in the cache, reused by the next check.
    cache = tmp_path / "cache" / "worktrees"
    (tree,) = [p for p in cache.glob("*/*") if p.is_dir()]
    assert (tree / "naps.py").exists() and git(repo, "rev-parse", "HEAD") == tree.name


def test_bad_refs_are_one_line(repo: Path, tmp_path: Path) -> None:
    assert "no such revision" in one_line_error(bench("check", "--against", "nope", cwd=repo))
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    assert "does not hold the project (no pyproject.toml)" in one_line_error(
        bench("check", "--against", first, cwd=repo))
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    assert "not in a git repository" in one_line_error(
        bench("check", "--against", "HEAD", cwd=elsewhere))
    assert "check against one thing" in one_line_error(
        bench("check", "--against", "HEAD", "--baseline", "x.json", cwd=repo))
    assert "--against-requirements 'aiohttp=='" in one_line_error(
        bench("check", "--against-requirements", "aiohttp==", cwd=repo))
    assert "--pairs must be 8 to 1000, not 5" in one_line_error(
        bench("check", "--against", "HEAD", "--pairs", "5", cwd=repo))
    assert "--extend must be 0 to 3600 seconds, not -1" in one_line_error(
        bench("check", "--against", "HEAD", "--extend=-1", cwd=repo))
    assert "--extend go with --against" in one_line_error(
        bench("check", "--baseline", "x.json", "--extend", "5", cwd=repo))


def test_a_dirty_cache_worktree_is_refused_and_clean_cache_empties_it(repo: Path,
                                                                      tmp_path: Path) -> None:
    assert bench(*CHECK, cwd=repo).returncode == 0
    (tree,) = [p for p in (tmp_path / "cache" / "worktrees").glob("*/*") if p.is_dir()]
    (tree / "naps.py").write_text("# edited by hand\n")
    assert "has local changes" in one_line_error(bench(*CHECK, cwd=repo))
    cleaned = bench("check", "--clean-cache", cwd=repo)
    assert cleaned.returncode == 0 and str(tree) in cleaned.stderr
    assert not tree.exists()
    assert git(repo, "worktree", "list").count("\n") == 0  # unregistered from the repo too


def test_a_failed_install_on_the_ref_side_leaves_no_half_made_venv(repo: Path,
                                                                   tmp_path: Path) -> None:
    (repo / "pyproject.toml").write_text(PYPROJECT.replace(
        "dependencies = []", 'dependencies = ["no-such-package-for-twinbench-tests==9.9"]'))
    git(repo, "commit", "-qam", "a dependency that does not exist")
    (repo / "pyproject.toml").write_text(PYPROJECT)  # the working tree drops it again
    error = one_line_error(bench(*CHECK, cwd=repo, timeout=300))
    assert "installing a side's dependencies failed" in error
    venvs = tmp_path / "cache" / "venvs"
    assert not [p for p in venvs.iterdir() if p.name != ".lock"]


def test_ctrl_c_stops_both_sides_and_their_children(repo: Path) -> None:
    proc = subprocess.Popen([*BENCH, "check", "naps", "--against", "HEAD", "--pairs", "200"],
                            cwd=repo, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 60
        workers: list[psutil.Process] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            workers = [c for c in psutil.Process(proc.pid).children(recursive=True)
                       if "harness.run.worker" in cmdline(c)]
            time.sleep(0.2)
        assert len(workers) == 2, "both workers start"
        time.sleep(2)
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=60)
        assert proc.returncode == 130, proc.stderr.read() if proc.stderr else ""
        gone = psutil.wait_procs(workers, timeout=10)[1]
        assert not gone, "a worker outlived the check"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
