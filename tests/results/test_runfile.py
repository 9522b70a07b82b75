"""The run file: every field issue 5 lists is written, and the loader refuses each bad input
with one clear line (exit 2 from the CLI) — before anything is measured or overwritten."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import harness.cli
import harness.cli.run_cmds
from harness.errors import BadInput
from harness.results.files import label_path, load_run, save_run
from harness.results.meta import LIBRARIES, metadata_block
from harness.results.runfile import SCHEMA_VERSION, RunFileError, parse_run


def minimal_doc(**twinbench: Any) -> dict[str, Any]:
    rounds = [0.010, 0.011, 0.012]
    bench = {
        "group": "wl:s", "name": "test_twin[wl-s-a]", "fullname": "::test_twin[wl-s-a]",
        "extra_info": {"workload": "wl", "twin": "a", "kind": "async", "scenario": "s",
                       "params": {"n": 1}, "ops": 1, "checksum": "00"},
        "stats": {"data": rounds, "median": 0.011, "q1": 0.0105, "q3": 0.0115},
    }
    block = {"schema": SCHEMA_VERSION, "profile": "quick", **twinbench}
    return {"benchmarks": [bench], "twinbench": block}


# -- what a run file carries ------------------------------------------------------------------

def test_metadata_block_has_every_listed_field() -> None:
    meta = metadata_block(profile="default", loop="uvloop",
                          selection={"workloads": [], "twins": [], "scenarios": []})
    assert meta["schema"] == SCHEMA_VERSION and meta["harness_version"]
    assert set(meta["git"]) == {"commit", "branch", "dirty"}
    assert meta["python"]["version"].count(".") == 2
    for driver in ("requests", "httpx", "aiohttp", "psycopg", "asyncpg", "websockets",
                   "uvloop", "pytest-benchmark"):
        assert driver in LIBRARIES and driver in meta["libraries"]
    assert meta["libraries"]["aiohttp"]  # installed, so a version string
    assert {"cpu", "cores", "memory_bytes", "os"} <= set(meta["machine"])
    assert meta["machine"]["cores"] >= 1
    assert (meta["profile"], meta["loop"]) == ("default", "uvloop")


def test_save_is_atomic_redacts_secrets_and_round_trips(tmp_path: Path) -> None:
    doc = minimal_doc(peers={"pg": {"dsn": "postgresql://bench:hunter2@127.0.0.1:5432/db"}})
    path = save_run(doc, tmp_path / "results" / "v1.json", make_dir=True)
    text = path.read_text()
    assert "hunter2" not in text and "bench:***@127.0.0.1" in text
    assert not list(path.parent.glob(".*tmp"))
    run = load_run(path)
    assert run.benchmarks[0].data == (0.010, 0.011, 0.012)
    assert run.benchmarks[0].key == "wl:s:a"
    with pytest.raises(BadInput, match="exists; pass --force"):
        save_run(doc, path)


# -- the loader refuses, in one line ----------------------------------------------------------

BAD_CONTENT = [
    ("", "empty file"),
    ("   \n", "empty file"),
    ('{"benchmarks": [{"name": "x"', "not valid JSON (truncated?)"),
    ("\x00\x01", "not valid JSON"),
    ('{"benchmarks": [], "twinbench": {"schema": NaN}}', "non-finite number NaN"),
    ('{"benchmarks": [], "twinbench": {"schema": 1, "v": Infinity}}',
     "non-finite number Infinity"),
    ('{"benchmarks": [], "twinbench": {"schema": 1, "v": -Infinity}}',
     "non-finite number -Infinity"),
    ('{"benchmarks": [], "twinbench": {"schema": 99}}', "schema 99 is newer than this"),
    ('{"benchmarks": [], "twinbench": {"schema": 0}}', "unknown schema version 0"),
    ('{"benchmarks": [], "twinbench": {"schema": "1"}}', "no schema version"),
    ('{"benchmarks": [], "twinbench": {"schema": true}}', "no schema version"),
    ('{"benchmarks": [], "machine_info": {}, "version": "5.1.0"}', "written by another tool"),
    ("[1, 2, 3]", "not a benchmark run file"),
    ('{"results": []}', "not a benchmark run file"),
]


@pytest.mark.parametrize(("content", "expected"), BAD_CONTENT)
def test_load_refuses(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "run.json"
    path.write_text(content)
    with pytest.raises(RunFileError, match=re.escape(expected)) as info:
        load_run(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))


def test_load_refuses_a_missing_file_and_a_directory(tmp_path: Path) -> None:
    with pytest.raises(RunFileError, match="no such run file"):
        load_run(tmp_path / "nope.json")
    with pytest.raises(RunFileError, match="is a directory"):
        load_run(tmp_path)


def test_load_refuses_overflowing_numbers(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    doc = json.dumps(minimal_doc(peers={"http": {"capacity_rps": 1.0}}))
    path.write_text(doc.replace('"capacity_rps": 1.0', '"capacity_rps": 1e999'))
    with pytest.raises(RunFileError, match="non-finite"):
        load_run(path)


@pytest.mark.parametrize(("mutate", "expected"), [
    (lambda d: d["benchmarks"][0]["stats"].update(data=[]), "raw rounds missing"),
    (lambda d: d["benchmarks"][0]["stats"].update(data=[0.1, -1.0]),
     r"stats\.data\[1\]: Input should be greater than 0"),
    (lambda d: d["benchmarks"][0]["extra_info"].pop("workload"), "malformed benchmark entry"),
    (lambda d: d["benchmarks"][0].pop("stats"), "malformed benchmark entry"),
])
def test_parse_refuses_malformed_benchmarks(mutate: Any, expected: str) -> None:
    doc = minimal_doc()
    mutate(doc)
    with pytest.raises(RunFileError, match=expected):
        parse_run(doc)


# -- labels stay inside results/ --------------------------------------------------------------

@pytest.mark.parametrize("label", ["../x", "/abs/x", "/abs", "a/b", "..", ".hidden", "",
                                   "x" * 101, "v1/../../x", "c:\\x", "v1 2"])
def test_label_outside_results_is_refused(label: str) -> None:
    with pytest.raises(BadInput, match="invalid label"):
        label_path(label)


@pytest.mark.parametrize("label", ["v1", "v1.4", "baseline", "pr-123_b"])
def test_valid_labels_name_a_file_in_results(label: str, tmp_path: Path) -> None:
    assert label_path(label, tmp_path / "results") == tmp_path / "results" / f"{label}.json"


@pytest.mark.parametrize(("args", "label"), [
    (["run", "http_fetch", "--save", "../x"], "../x"),
    (["run", "http_fetch", "--save", "/abs/x"], "/abs/x"),
    (["all", "--save", "../../etc/x"], "../../etc/x"),
])
def test_cli_refuses_a_bad_label_before_running_anything(
        args: list[str], label: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*_: Any, **__: Any) -> Any:
        raise AssertionError("benchmarks started despite a bad label")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(harness.cli.run_cmds, "execute", must_not_run)
    result = CliRunner().invoke(harness.cli.app, args)
    assert result.exit_code == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"invalid label {label!r}" in lines[0]
    assert not list(tmp_path.rglob("*"))  # nothing written anywhere
