"""game_server: every twin computes the same world and its figures are sane; the world's rules
(each input once, redundancy, the final state after the last tick); a server twin killed
mid-run fails its benchmark in one line while the others run, leaving no process; bad grid
values are one line and exit 2."""

from __future__ import annotations

import inspect
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
from typer.testing import CliRunner

import harness.cli
from harness.testing import run_rounds
from tests.helpers.procs import cmdline
from workloads import game_server as game
from workloads.game_server import (
    ENTRY,
    FINAL,
    HEAD,
    INPUT,
    INPUT_HEAD,
    MOVE,
    READY_MSG,
    SNAP_HEAD,
    START,
    STATE_HEAD,
    AsyncGame,
    LoopGame,
    ThreadedGame,
    World,
)

TWINS = [t.name for t in game.WORKLOAD.twins]
TAG = "TWINBENCH_GAME_TEST_TAG"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "long_game.py"


# -- the world's rules, no process ----------------------------------------------------------------

def _inputs(tag: int, player: int, seqs: list[int]) -> bytes:
    return INPUT_HEAD.pack(INPUT, tag, player, len(seqs)) + b"".join(
        MOVE.pack(s, *game.move(player, s)) for s in seqs)


def test_each_input_is_applied_once_whatever_arrives_twice_or_not_at_all() -> None:
    params = {"players": 2, "tick_hz": 20, "input_hz": 30, "duration_ms": 200}
    world = World(params)
    assert game.ticks_of(params) == 4 and game.inputs_of(params) == 4
    replies, begun = world.handle(HEAD.pack(START, 7), "ctl", now=100.0)
    assert begun and READY_MSG.unpack(replies[0][0]) == (b"R", 7, 100.0 + game.LEAD)
    assert world.handle(HEAD.pack(START, 7), "ctl", now=101.0)[1] is False  # a repeat: same epoch
    assert world.epoch == 100.0 + game.LEAD
    for seqs in ([0], [0, 1], [0, 1, 2], [1, 2, 3], [2, 3]):  # redundancy: overlaps
        world.handle(_inputs(7, 0, seqs), "p0", 0.0)
    world.handle(_inputs(7, 1, [1, 2, 3]), "p1", 0.0)  # player 1's input 0 was lost for good
    world.handle(_inputs(6, 1, [0]), "p1", 0.0)  # a straggler of another round: ignored
    want = game.final_entries(params)
    assert world.state[:ENTRY.size] == want[0]
    nxt, applied = ENTRY.unpack(world.state[ENTRY.size:])[2:]
    assert (nxt, applied) == (4, 3)
    assert world.datagrams == 6


def test_the_final_state_waits_for_the_last_tick_and_snapshots_show_the_view() -> None:
    params = {"players": 30, "tick_hz": 20, "input_hz": 30, "duration_ms": 100}
    world = World(params)
    for p in range(30):
        world.handle(HEAD.pack(b"J", p), f"p{p}", 0.0)
    world.handle(HEAD.pack(START, 1), "ctl", 0.0)
    assert world.handle(HEAD.pack(FINAL, 1), "ctl", 0.0) == ([], False)  # not yet final
    frames = world.tick(0)
    assert len(frames) == 30 and world.ticked(0) == []
    frame, to = frames[29]
    assert to == "p29" and len(frame) == SNAP_HEAD.size + game.VIEW * ENTRY.size == 297
    assert SNAP_HEAD.unpack_from(frame) == (b"N", 1, 0)
    body = frame[SNAP_HEAD.size:]  # player 29 first, then 0, 1, ... (the view wraps)
    assert body[:ENTRY.size] == world.state[29 * ENTRY.size:]
    assert body[ENTRY.size:2 * ENTRY.size] == world.state[:ENTRY.size]
    world.tick(1)
    (final, to), = world.ticked(1)  # the request that came early is answered now
    assert to == "ctl" and STATE_HEAD.unpack_from(final)[:2] == (b"E", 1)
    assert final[STATE_HEAD.size:] == bytes(world.state)


def test_server_twins_are_mirrored() -> None:
    """The same methods in the same order, so a diff of two shows only the I/O and timers."""
    def methods(cls: type) -> list[str]:
        return [n for n, v in vars(cls).items() if inspect.isfunction(v)]

    assert methods(ThreadedGame) == methods(LoopGame) == methods(AsyncGame) == [
        "__init__", "serve", "received", "start_ticks", "tick"]
    assert inspect.iscoroutinefunction(AsyncGame.serve)


# -- every twin, for real ------------------------------------------------------------------------

@pytest.mark.parametrize("twin", TWINS)
def test_every_twin_reaches_the_expected_world_and_measures_it(twin: str) -> None:
    params = {"players": 4, "tick_hz": 60, "input_hz": 30, "duration_ms": 250}
    checksums, info = run_rounds(game.WORKLOAD, twin, params, rounds=2, warmup_rounds=1)
    assert checksums == [game.expected(params)] * 2
    assert info["errors"] == 0 and info["served"] == 1.0, info["failures"]
    assert 0 <= info["p50_s"] <= info["p99_s"] <= info["max_s"] < 0.5  # tick lateness
    assert 0 <= info["input_p50_s"] <= info["input_p99_s"] < 0.5
    assert info["input_samples"] > 0
    ticks = game.ticks_of(params)
    assert info["snapshots"] + info["snapshots_lost"] == 4 * ticks  # one kept round
    assert info["snapshots_lost"] >= 0 and info["samples"] == info["snapshots"]
    assert info["server_cpu_per_op"] >= 0 and info["connected"] == 4  # CPU: 10 ms clock ticks
    assert info["server_threads_peak"] >= (2 if twin == "threaded" else 1)  # + tick thread


# -- a server twin killed mid-run ----------------------------------------------------------------

def _tagged(tag: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(TAG) == tag:
                found.append(proc)
        except psutil.Error:  # gone, a zombie, or not ours
            continue
    return found


def _server_of(twin: str, tag: str) -> psutil.Process | None:
    for proc in _tagged(tag):
        line = cmdline(proc)
        if " serve " in f"{line} " and f"--twin {twin} " in f"{line} ":
            return proc
    return None


def _default_signals() -> None:
    """The child handles signals as bench does when a user starts it, however pytest was
    started (a shell's `&` ignores SIGINT in what it starts)."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


def test_a_server_killed_mid_run_fails_its_twin_in_one_line_and_the_others_run(
        tmp_path: Path) -> None:
    tag, out = uuid.uuid4().hex, tmp_path / "run.json"
    args = [sys.executable, "-m", "harness", "run", "game_long", "--workloads", str(FIXTURE),
            "--profile", "quick", "--json", str(out)]
    bench = subprocess.Popen(args, env={**os.environ, TAG: tag, "COLUMNS": "200"},
                             cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, preexec_fn=_default_signals)
    try:
        deadline = time.monotonic() + 60
        while (server := _server_of("threaded", tag)) is None:
            assert bench.poll() is None, "bench ended before the threaded server started"
            assert time.monotonic() < deadline, "no threaded server appeared"
            time.sleep(0.02)
        time.sleep(1.0)  # set-up (~0.4 s), then into its 400 ms rounds
        server.kill()
        output, progress = bench.communicate(timeout=120)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
        for proc in _tagged(tag):  # whatever a failure here left behind
            proc.kill()
    assert bench.returncode == 1, output[-3000:] + progress[-3000:]
    failed = [line for line in output.splitlines() if line.startswith("failed ")]
    assert len(failed) == 1, output[-3000:]
    assert "threaded" in failed[0] and failed[0].endswith(
        "WorkNotDone: server twin threaded was killed by signal 9 during the run"), failed
    outcomes = json.loads(out.read_text())["twinbench"]["outcomes"]
    by_twin = {twin: o["outcome"] for case, o in outcomes.items()
               for twin in ("threaded", "asyncio") if case.endswith(twin)}
    assert by_twin == {"threaded": "failed", "asyncio": "passed"}, outcomes
    deadline = time.monotonic() + 10
    while (left := _tagged(tag)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, [cmdline(p) for p in left]


# -- bad grid values -----------------------------------------------------------------------------

@pytest.mark.parametrize(("vary", "message"), [
    ("players=0,16", "players must be 1 to 5,000, not 0"),
    ("tick_hz=0,20", "tick_hz must be above 0 and at most 1000 Hz, not 0"),
    ("tick_hz=20,100000", "tick_hz must be above 0 and at most 1000 Hz, not 100000"),
    ("cpu_us=60000", "cpu_us must be at least 0 and less than one tick (50 ms at 20 Hz)"),
])
def test_bad_grid_values_are_one_line_and_exit_2(vary: str, message: str) -> None:
    result: Any = CliRunner().invoke(harness.cli.app,
                                     ["sweep", "game_server", "--vary", vary])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert lines[0].startswith("error: --vary: crowded["), lines[0]
