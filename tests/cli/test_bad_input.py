"""Crafted run files and odd output paths (issue 14): one line on stderr and exit 2 from every
command, before anything is measured or written; text from a file is printed, never obeyed."""

from __future__ import annotations

import copy
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import harness.cli
import harness.cli.compare_cmds
import harness.cli.run_cmds
from harness.leftovers import MARKER, Owner, this_process
from harness.results.files import save_run
from harness.results.runfile import MAX_FILE_BYTES, parse_run
from harness.run.runner import RunResult
from tests.helpers.runfiles import benches, run_doc, write


def invoke(*args: str) -> Any:
    return CliRunner().invoke(harness.cli.app, list(args))


def one_line_error(result: Any) -> str:
    assert result.exit_code == 2, (result.exit_code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- run files that crashed the loader or passed silently ---------------------------------------

BIG = 10**400


def _each_bench(key: str, fn: Callable[[float], Any]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        for bench in doc["benchmarks"]:
            stats = bench["stats"]
            stats[key] = [fn(x) for x in stats[key]] if key == "data" else fn(stats[key])
    return mutate


def _all(*mutations: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        for m in mutations:
            m(doc)
    return mutate


def _duplicate_slow_first(doc: dict[str, Any]) -> None:
    slow = copy.deepcopy(doc["benchmarks"][-1])
    for key in ("median", "q1", "q3"):
        slow["stats"][key] *= 10
    slow["stats"]["data"] = [x * 10 for x in slow["stats"]["data"]]
    doc["benchmarks"].insert(0, slow)


def _extra(**values: Any) -> Callable[[dict[str, Any]], None]:
    return lambda doc: doc["benchmarks"][0]["extra_info"].update(values)


CRAFTED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("ops-too-big", _extra(ops=BIG), "integer too large at benchmarks[0].extra_info.ops"),
    ("median-too-big", lambda d: d["benchmarks"][0]["stats"].update(median=BIG),
     "integer too large at benchmarks[0].stats.median"),
    ("capacity-too-big", lambda d: d["twinbench"].update(peers={"http": {"capacity_rps": BIG}}),
     "integer too large at twinbench.peers.http.capacity_rps"),
    ("outcomes-a-string", lambda d: d["twinbench"].update(outcomes="all good"),
     "twinbench.outcomes: Input should be a valid dictionary"),
    ("machine-a-list", lambda d: d["twinbench"].update(machine=["x"]),
     "twinbench.machine: Input should be a valid dictionary"),
    ("warnings-an-int", _extra(warnings=3), "extra_info.warnings: Input should be a valid list"),
    ("zero-rounds", _all(*(_each_bench(k, lambda x: 0.0) for k in ("data", "median", "q1", "q3"))),
     "Input should be greater than 0"),
    ("negative-median", _each_bench("median", lambda x: -x),
     "stats.median: Input should be greater than 0"),
    ("median-not-of-its-rounds", _each_bench("median", lambda x: x * 100),
     "is not the middle of its raw rounds"),
    ("no-benchmarks", lambda d: d.update(benchmarks=[]), "holds no benchmark"),
    ("duplicate", _duplicate_slow_first, "benchmark wl:s1:aiohttp appears 2 times"),
    ("deep", lambda d: d["twinbench"].update(x=json.loads("[" * 40 + "]" * 40)),
     "nested deeper than 32 levels at twinbench.x"),
]


@pytest.fixture
def good(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return write(tmp_path / "good.json", run_doc(benches()))


@pytest.mark.parametrize(("mutate", "expected"), [(m, e) for _, m, e in CRAFTED],
                         ids=[name for name, _, _ in CRAFTED])
def test_a_crafted_file_is_one_line_and_exit_2_from_every_command(
        good: Path, mutate: Callable[[dict[str, Any]], None], expected: str) -> None:
    doc = run_doc(benches())
    mutate(doc)
    bad = write(good.parent / "bad.json", doc)
    for args in (["show", str(bad)], ["compare", str(good), str(bad)],
                 ["compare", str(bad), str(good)], ["check", "--baseline", str(bad),
                                                    "--current", str(good)],
                 ["check", "--baseline", str(good), "--current", str(bad)]):
        line = one_line_error(invoke(*args))
        assert expected in line and str(bad) in line, (args, line)


@pytest.mark.parametrize(("text", "expected"), [
    ('{"benchmarks": [], "twinbench": {"schema": 3, "x": ' + "[" * 100_000 + "]" * 100_000
     + "}}", "nested too deeply"),
    ('{"benchmarks": [], "benchmarks": [], "twinbench": {"schema": 3}}',
     "key 'benchmarks' appears twice in one object"),
    ('{"benchmarks": [], "twinbench": {"schema": 3, "n": 1' + "0" * 5000 + "}}",
     "Exceeds the limit"),
])
def test_raw_json_that_crashed_the_parser(good: Path, text: str, expected: str) -> None:
    bad = good.parent / "bad.json"
    bad.write_text(text)
    assert expected in one_line_error(invoke("show", str(bad)))


def test_a_file_beyond_the_size_cap_says_the_cap(good: Path) -> None:
    big = good.parent / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_FILE_BYTES + 1)
    line = one_line_error(invoke("show", str(big)))
    assert f"larger than {MAX_FILE_BYTES // 2**20} MiB" in line


def test_old_schemas_still_load() -> None:
    for schema in (1, 2):
        doc = run_doc(benches())
        doc["twinbench"]["schema"] = schema
        assert parse_run(doc).benchmarks
    committed = Path(__file__).resolve().parents[2] / "results" / "baseline.json"
    if committed.exists():
        assert invoke("show", str(committed)).exit_code == 0


HOSTILE = "\x1b[31mred\x1b[0m [bold]bold[/bold] [/] [link=http://x]x[/link] \r\u202eevil"


def test_text_from_a_file_is_printed_as_plain_text(good: Path) -> None:
    doc = run_doc(benches())
    doc["twinbench"]["machine"] = {**doc["twinbench"]["machine"], "cpu": HOSTILE}
    doc["twinbench"]["profile"] = "[red]quick"
    doc["twinbench"]["outcomes"] = {"wl-s1-x": {"outcome": "failed", "detail": HOSTILE}}
    for bench in doc["benchmarks"]:
        bench["extra_info"]["label"] = HOSTILE
        bench["extra_info"]["warnings"] = [{"kind": "log", "message": HOSTILE, "count": 1}]
    bad = write(good.parent / "hostile.json", doc)
    for args in (["show", str(bad)], ["compare", str(good), str(bad)],
                 ["compare", str(good), str(bad), "--format", "markdown"],
                 ["check", "--baseline", str(good), "--current", str(bad)]):
        result = invoke(*args)
        assert result.exit_code in (0, 1), (args, result.stdout, result.stderr)
        out = result.stdout + result.stderr
        for control in ("\x1b", "\r", "\u202e"):
            assert control not in out, (args, out)
        if "markdown" not in args:
            assert "[bold]bold[/bold]" in out and "[/]" in out, (args, out)
    show = invoke("show", str(bad)).stdout
    assert "[red]quick" in show and "[31mred" in show


# -- output paths, checked before anything is measured -------------------------------------------

def must_not_run(*_: Any, **__: Any) -> Any:
    raise AssertionError("benchmarks started despite a bad output path")


@pytest.fixture
def nothing_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(harness.cli.run_cmds, "execute", must_not_run)
    monkeypatch.setattr(harness.cli.compare_cmds, "measure_and_confirm", must_not_run)
    return tmp_path


def _partial_exists(tmp: Path) -> None:
    (tmp / "results").mkdir()
    (tmp / "results" / "v1.partial.json").write_text("{}")


def _dir(tmp: Path) -> None:
    (tmp / "adir").mkdir()


def _results(tmp: Path) -> None:
    (tmp / "results").mkdir()


OUTPUTS: list[tuple[list[str], Callable[[Path], None] | None, str]] = [
    (["--json", "missing/dir/run.json"], None, "directory missing/dir does not exist"),
    (["--json", "/proc/run.json"], None, "--json /proc/run.json: cannot write in /proc"),
    (["--json", "adir"], _dir, "--json adir: is a directory"),
    (["--json", ""], None, "--json needs a file path, not ''"),
    (["--json", "/dev/null"], None, "--json /dev/null: exists and is not a regular file"),
    (["--save", ""], None, "invalid label ''"),
    (["--save", "v1.partial"], None, "the suffix .partial is reserved"),
    (["--save", "v1"], _partial_exists, "results/v1.partial.json exists; pass --force"),
    (["--save", "v1", "--json", "results/v1.json"], _results, "is the file --save writes"),
]


@pytest.mark.parametrize("command", [["run", "http_fetch"], ["all"]])
@pytest.mark.parametrize(("args", "prepare", "expected"), OUTPUTS,
                         ids=[" ".join(a) or "empty" for a, _, _ in OUTPUTS])
def test_run_and_all_refuse_an_output_path_before_measuring(
        nothing_runs: Path, command: list[str], args: list[str],
        prepare: Callable[[Path], None] | None, expected: str) -> None:
    if prepare is not None:
        prepare(nothing_runs)
    before = sorted(nothing_runs.rglob("*"))
    assert expected in one_line_error(invoke(*command, *args))
    assert sorted(nothing_runs.rglob("*")) == before  # nothing made, nothing written


@pytest.mark.parametrize(("args", "expected"), [
    (["--json", ""], "--json needs a file path, not ''"),
    (["--json", "/proc/run.json"], "cannot write in /proc"),
    (["--json", "missing/run.json"], "directory missing does not exist"),
    (["--markdown", ""], "--markdown needs a file path, not ''"),
    (["--markdown", "/proc/summary.md"], "cannot write in /proc"),
    (["--markdown", "."], "--markdown .: is a directory"),
])
def test_check_refuses_an_output_path_before_measuring(
        nothing_runs: Path, args: list[str], expected: str) -> None:
    base = write(nothing_runs / "base.json", run_doc(benches()))
    before = sorted(nothing_runs.rglob("*"))
    assert expected in one_line_error(invoke("check", "--baseline", str(base), *args))
    assert sorted(nothing_runs.rglob("*")) == before


def test_an_interrupted_save_keeps_what_finished_as_partial(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = parse_run(run_doc(benches()))
    monkeypatch.setattr(harness.cli.run_cmds, "execute",
                        lambda *_, **__: RunResult(run=run, interrupted=True))
    result = invoke("run", "http_fetch", "--save", "v1")
    assert result.exit_code == 130, result.stderr
    assert (tmp_path / "results" / "v1.partial.json").is_file()
    assert not (tmp_path / "results" / "v1.json").exists()
    again = invoke("run", "http_fetch", "--save", "v1")  # the partial run is not lost
    assert "v1.partial.json exists; pass --force" in one_line_error(again)
    assert invoke("run", "http_fetch", "--save", "v1", "--force").exit_code == 130


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_a_saved_run_is_as_readable_as_any_file_the_user_makes(
        tmp_path: Path, umask: int) -> None:
    old = os.umask(umask)
    try:
        path = save_run(run_doc(benches()), tmp_path / "results" / "v1.json", make_dir=True)
        (tmp_path / "other").touch()
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == (tmp_path / "other").stat().st_mode & 0o777
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


# -- leftovers of killed runs are reclaimed by the next run -------------------------------------

def test_the_next_run_reclaims_what_a_killed_run_left_and_says_so(nothing_runs: Path) -> None:
    me = this_process()
    dead = Owner(999_999_999, me.started, me.host, me.boot)  # beyond pid_max: never alive
    left = Path(tempfile.mkdtemp(prefix="twinbench-pg-"))
    (left / MARKER).write_text(dead.tag())
    mine = Path(tempfile.mkdtemp(prefix="twinbench-load-"))
    (mine / MARKER).write_text(me.tag())
    try:
        result = invoke("run", "http_fetch")  # execute is refused by the fixture
        assert isinstance(result.exception, AssertionError)  # reached execute: inputs fine
        assert not left.exists() and mine.exists()
        assert result.stderr.strip().splitlines() == [
            f"reclaimed what killed twinbench runs left (pid {dead.pid}): 1 temp dir(s), "
            "0.1 KiB"]
    finally:
        for path in (left, mine):
            shutil.rmtree(path, ignore_errors=True)


# -- rounds and the smallest effect (issue 21) ----------------------------------------------------

@pytest.mark.parametrize(("args", "says"), [
    (["--min-effect", "150%"], "--min-effect must be between 0% and 100%"),
    (["--min-effect", "-1%"], "--min-effect"),
    (["--min-effect", "lots"], "is not a fraction"),
    (["--rounds", "2"], "--rounds must be between 3 and 1000, not 2"),
    (["--rounds", "100000"], "--rounds must be between 3 and 1000"),
])
def test_rounds_and_min_effect_out_of_range(args: list[str], says: str) -> None:
    assert says in one_line_error(invoke("run", "http_fetch", *args))


def test_a_bad_min_effect_in_pyproject_is_one_line(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.twinbench]\nmin-effect = "200%"\n')
    monkeypatch.chdir(tmp_path)
    assert "min-effect must be between 0% and 100%" in one_line_error(
        invoke("all", "--profile", "quick"))
