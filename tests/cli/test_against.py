"""`bench check --against REF` as a team uses it: their twins in their git repository, the REF
side from a cached worktree, both measured now, interleaved — and every bad input one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from tests.helpers.cli import invoke, one_line_error
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


def make_repo(root: Path) -> Path:
    """A team's repository: a first commit without the project, then the twins."""
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
    return root


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TWINBENCH_CACHE", str(tmp_path / "cache"))
    return make_repo(tmp_path / "repo")


@dataclass(frozen=True)
class Checked:
    repo: Path
    cache: Path
    first: subprocess.CompletedProcess[str]  # `bench check --against HEAD` of that tree


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Checked]:
    """A team's repository that one `bench check --against HEAD` of its unchanged tree has
    been run in (it made the REF side's worktree in the cache): shared by the tests that
    need such a check to have run, at about 4 s each. Neither relies on what the other
    leaves: the slower tree is checked afresh, the cache is emptied by the other."""
    where = tmp_path_factory.mktemp("against")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TWINBENCH_CACHE", str(where / "cache"))
        root = make_repo(where / "repo")
        yield Checked(root, where / "cache", bench(*CHECK, cwd=root))


def write_twins(root: Path, nap_ms: float) -> None:
    (root / "naps.py").write_text(TWINS.format(side="x", nap_ms=nap_ms,
                                               log=str(root.parent / "rounds.log")))


def bench(*args: str, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL, env=dict(os.environ))


CHECK = ("check", "naps", "--against", "HEAD", "--pairs", "8", "--confirm", "0", "--format",
         "json")


def test_an_unchanged_tree_passes_and_a_slower_one_fails(checked: Checked, tmp_path: Path
                                                         ) -> None:
    repo, same = checked.repo, checked.first
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
    cache = checked.cache / "worktrees"
    (tree,) = [p for p in cache.glob("*/*") if p.is_dir()]
    assert (tree / "naps.py").exists() and git(repo, "rev-parse", "HEAD") == tree.name


def test_bad_refs_are_one_line(repo: Path, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert "no such revision" in one_line_error(bench("check", "--against", "nope", cwd=repo))
    # the rest in this process (a child's start-up each is most of their time), in the repo
    monkeypatch.chdir(repo)
    first = git(repo, "rev-list", "--max-parents=0", "HEAD")
    assert "does not hold the project (no pyproject.toml)" in one_line_error(
        invoke("check", "--against", first))
    assert "check against one thing" in one_line_error(
        invoke("check", "--against", "HEAD", "--baseline", "x.json"))
    assert "--against-requirements 'aiohttp=='" in one_line_error(
        invoke("check", "--against-requirements", "aiohttp=="))
    assert "--pairs must be 8 to 1000, not 5" in one_line_error(
        invoke("check", "--against", "HEAD", "--pairs", "5"))
    assert "--extend must be 0 to 3600 seconds, not -1" in one_line_error(
        invoke("check", "--against", "HEAD", "--extend=-1"))
    assert "--extend go with --against" in one_line_error(
        invoke("check", "--baseline", "x.json", "--extend", "5"))
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert "not in a git repository" in one_line_error(invoke("check", "--against", "HEAD"))


def test_a_dirty_cache_worktree_is_refused_and_clean_cache_empties_it(checked: Checked
                                                                      ) -> None:
    repo = checked.repo
    assert checked.first.returncode == 0, checked.first.stdout + checked.first.stderr
    (tree,) = [p for p in (checked.cache / "worktrees").glob("*/*") if p.is_dir()]
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
