"""Discovery: the built-in workloads, and a team's own twins kept in its own repository
(`--workloads PATH_OR_MODULE`, `[tool.twinbench] workloads`), run and tested like ours."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import harness.testing
from harness.errors import BadInput
from harness.model.registry import RegistryError, Selection, discover, select

BENCH = [sys.executable, "-m", "harness"]

# A team's twins: sleeps stand in for I/O, so no peer is needed and timings are physics.
TEAM_TWINS = '''
import asyncio
import time

from harness import BenchContext, Scenario, Workload, client_twin, fold


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


class NapClient:
    def open(self, ctx: BenchContext) -> None:
        self.delay = ctx.params["latency_ms"] / 1000

    def op(self, item: int) -> int:
        time.sleep(self.delay)
        return item

    def close(self) -> None:
        pass


class AsyncNapClient:
    async def open(self, ctx: BenchContext) -> None:
        self.delay = ctx.params["latency_ms"] / 1000

    async def op(self, item: int) -> int:
        await asyncio.sleep(self.delay)
        return item

    async def close(self) -> None:
        pass


WORKLOAD = Workload(
    name="{name}", description="a team's own twins",
    twins=(client_twin("nap", "sync", "nap", NapClient, items),
           client_twin("nap-tasks", "async", "{{concurrency}} naps", AsyncNapClient, items)),
    scenarios=(Scenario("short", {{"n": 40, "concurrency": 10, "latency_ms": 2}}),),
    tiny={{"n": 4}}, expected=lambda p: fold(range(p["n"])),
)
'''

# A team's server twin: the module is started as `python -m team_server serve|load` in
# children, so it must be importable there too.
TEAM_SERVER = '''
from harness import Scenario, Workload, child_main, server_twin
from workloads.tcp_server import expected, load, serve

WORKLOAD = Workload(
    name="team_tcp", description="a team's server twins",
    twins=(server_twin("threaded", "threads", "threaded", "team_server"),
           server_twin("asyncio-streams", "async", "streams", "team_server", loop="asyncio")),
    scenarios=(Scenario("c4", {"n": 400, "concurrency": 4, "size": 64}),),
    tiny={"n": 40, "concurrency": 4}, expected=expected,
)

if __name__ == "__main__":
    child_main(serve, load)
'''


def team_repo(root: Path, name: str = "team_naps") -> Path:
    bench = root / "bench"
    bench.mkdir(parents=True)
    path = bench / f"{name}.py"
    path.write_text(TEAM_TWINS.format(name=name))
    return path


def bench(*args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BENCH, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def test_builtin_workloads_are_found() -> None:
    assert {"http_fetch", "pg_queries", "tcp_server", "ws_chat"} <= set(discover())


def test_a_twin_out_of_a_profile_runs_there_only_when_named() -> None:
    """A variant kept out of the quick smoke run (httpx-async) is not selected under quick,
    is under default, and runs under quick when the user names it."""
    registry = discover()

    def twins(profile: str, *named: str) -> set[str]:
        cases = select(registry, Selection(("http_fetch",), named), profile)
        return {c.twin.name for c in cases}

    assert "httpx-async" not in twins("quick") and "aiohttp" in twins("quick")
    assert "httpx-async" in twins("default")
    assert twins("quick", "httpx-async") == {"httpx-async"}


def test_a_file_a_directory_and_a_module_name(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    file = team_repo(tmp_path / "a")
    assert "team_naps" in discover([str(file)], builtin=None)
    other = team_repo(tmp_path / "b", "team_more")
    found = discover([str(other.parent)], builtin=None)
    assert set(found) == {"team_more"}
    monkeypatch.syspath_prepend(str(file.parent))
    assert set(discover(["team_naps"], builtin=None)) == {"team_naps"}


def test_bad_sources_are_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BadInput, match="no such file or directory"):
        discover([str(tmp_path / "missing.py")])
    empty = tmp_path / "empty.py"
    empty.write_text("X = 1\n")
    with pytest.raises(BadInput, match="defines no WORKLOAD"):
        discover([str(empty)])
    with pytest.raises(BadInput, match="cannot import it"):
        discover(["no_such_module_anywhere"])
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_dependency\n")
    with pytest.raises(BadInput, match="cannot import it"):
        discover([str(broken)])
    clash = tmp_path / "clash.py"
    clash.write_text(TEAM_TWINS.format(name="http_fetch"))
    with pytest.raises(RegistryError, match="'http_fetch' is declared twice"):
        discover([str(clash)])


def test_bench_runs_a_teams_twins_from_the_command_line_and_pyproject(tmp_path: Path) -> None:
    path = team_repo(tmp_path)
    listed = bench("list", "--workloads", str(path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "team_naps" in listed.stdout and "http_fetch" in listed.stdout
    out = tmp_path / "run.json"
    ran = bench("run", "team_naps", "--workloads", "bench/team_naps.py", "--profile", "quick",
                "--json", str(out), cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "team_naps · short" in ran.stdout
    assert {b["extra_info"]["twin"] for b in json.loads(out.read_text())["benchmarks"]} == {
        "nap", "nap-tasks"}
    # The same from [tool.twinbench] in the team's pyproject.toml, paths relative to it.
    (tmp_path / "pyproject.toml").write_text(
        '[tool.twinbench]\nworkloads = ["bench/team_naps.py"]\n')
    again = bench("run", "team_naps", "--profile", "quick", cwd=tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    bad = bench("run", "team_naps", "--workloads", "bench/nope.py", cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "bench/nope.py: no such file or directory" in bad.stderr


def test_a_teams_server_twin_runs_in_children_that_can_import_it(tmp_path: Path) -> None:
    (tmp_path / "team_server.py").write_text(TEAM_SERVER)
    ran = bench("run", "team_tcp", "--workloads", "team_server.py", "--profile", "quick",
                cwd=tmp_path, timeout=180)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "team_tcp · c4" in ran.stdout


def docstring_example(module: object) -> str:
    """The indented code block of a module's docstring."""
    lines = (module.__doc__ or "").splitlines()
    block = [line for line in lines if line.startswith("    ") or not line.strip()]
    start = next(i for i, line in enumerate(block) if line.strip())
    return textwrap.dedent("\n".join(block[start:]))


def test_harness_testing_checks_a_teams_twins_in_its_own_suite(tmp_path: Path) -> None:
    """The snippet in harness.testing's docstring, as a team's test file, run by pytest: the
    documentation is what a team copies, so it is what is tested."""
    team_repo(tmp_path).rename(tmp_path / "bench" / "twins.py")
    tests = tmp_path / "tests"
    tests.mkdir()
    (tests / "test_team.py").write_text(docstring_example(harness.testing))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(tests)], capture_output=True, text=True, cwd=tmp_path,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
