"""Confirmation of suspects against real runs, and requests rebuilt from a saved run."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.analysis.compare import compare_runs
from harness.analysis.gate import to_confirm
from harness.errors import BadInput
from harness.model.registry import Selection
from harness.results.runfile import Run, parse_run
from harness.run.confirm import measure_and_confirm
from harness.run.runner import RunRequest, execute, request_like
from tests.helpers.runfiles import benches, by_key, run_doc


def test_request_like_reuses_the_baseline_profile_loop_and_selection() -> None:
    doc = run_doc(benches(), profile="quick")
    doc["twinbench"]["selection"] = {"workloads": ["http_fetch"], "twins": ["aiohttp"],
                                     "scenarios": ["overhead"]}
    request = request_like(parse_run(doc).meta)
    assert (request.profile, request.loop) == ("quick", "asyncio")
    assert request.selection.twins == ("aiohttp",)
    doc["twinbench"]["profile"] = "huge"
    with pytest.raises(BadInput, match="unknown profile 'huge'"):
        request_like(parse_run(doc).meta)


def test_request_like_passes_the_peer_options_of_the_check_itself_on() -> None:
    """`bench check --mysql-dsn ... --tmpdir ...`: the re-run uses this machine's servers and
    directory, never anything recorded in the baseline."""
    meta = parse_run(run_doc(benches(), profile="quick")).meta
    request = request_like(meta, "postgresql://a@h/db", 2, mysql_dsn="mysql://b@h/",
                           tmpdir="/var/tmp")
    assert (request.pg_dsn, request.mysql_dsn, request.tmpdir, request.passes) == (
        "postgresql://a@h/db", "mysql://b@h/", "/var/tmp", 2)


def test_check_confirms_a_suspect_with_more_passes_of_just_it(tmp_path: Path) -> None:
    """Real runs: a baseline made to look twice as fast makes every benchmark a suspect; the
    check then measures just those again and judges them on all their passes. The baseline
    is a run of the very request measured again (one twin, alone), so that only the halving
    sets the two apart."""
    only_aiohttp = RunRequest(Selection(("http_fetch",), ("aiohttp",), ("overhead",)),
                              profile="quick")
    made = execute(only_aiohttp)
    assert made.run is not None
    doc = made.run.doc
    for bench in doc["benchmarks"]:
        bench["stats"]["data"] = [x / 2 for x in bench["stats"]["data"]]
        for key in ("median", "q1", "q3"):
            bench["stats"][key] /= 2
    base = parse_run(doc)
    announced: list[str] = []

    def suspects(run: Run) -> tuple[tuple[str, ...], str]:
        return to_confirm(compare_runs(base, run, mode="absolute", estimate=True))

    measured = measure_and_confirm(only_aiohttp, suspects, confirm=2,
                                   announce=announced.append)
    assert measured.confirmed == ("http_fetch-overhead-aiohttp",)
    assert announced and "confirming with 2 more pass(es) of 1 benchmark(s)" in announced[0]
    assert measured.run is not None
    record = {r.twin: r for r in measured.run.benchmarks}["aiohttp"]
    assert len(record.passes) == 3 and measured.run.meta["confirmation"]["passes"] == 2
    comparison = compare_runs(base, measured.run, mode="absolute")
    delta = by_key(comparison.absolute)["http_fetch:overhead:aiohttp"]
    assert delta.comparison.passes == (1, 3) and delta.comparison.method == "passes"
    none = measure_and_confirm(only_aiohttp, suspects, confirm=0)
    assert none.confirmed == () and none.run is not None
    assert len({r.twin: r for r in none.run.benchmarks}["aiohttp"].passes) == 1
