"""Server-side twins: identical answers, exactly-once broadcast, failures as counts, no
process left behind after a run or after Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil
import pytest

from harness.drivers.loadgen import Schedule
from harness.drivers.server import WorkNotDone
from harness.model.data import payload
from harness.model.workload import Workload
from harness.procs import ChildProcess, python_cmd
from harness.testing import run_rounds
from workloads import tcp_server, ws_chat
from workloads.tcp_server import HEADER, answer

TAG = "TWINBENCH_TEST_TAG"


def run_bench(workload: Workload, twin: str, params: dict[str, Any],
              rounds: int = 2) -> tuple[list[int], dict[str, Any]]:
    return run_rounds(workload, twin, params, rounds=rounds, warmup_rounds=1)


# -- tcp_server ---------------------------------------------------------------------------------

def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        assert chunk, "server closed the connection"
        data += chunk
    return data


def _exchange(port: int, bodies: list[bytes]) -> list[bytes]:
    """Send all requests in one write (pipelined), then read the answers in order."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(HEADER.pack(len(b)) + b for b in bodies))
        answers = []
        for _ in bodies:
            (size,) = HEADER.unpack(_recv_exactly(sock, 4))
            answers.append(_recv_exactly(sock, size))
        return answers


def test_tcp_twins_answer_identical_bytes() -> None:
    bodies = [payload(7, 100), payload(8, 4096), b"", bytes(range(256)), b"\xff" * 3]
    seen: dict[str, list[bytes]] = {}
    for twin in tcp_server.WORKLOAD.twins:
        cmd = python_cmd("workloads.tcp_server", "serve", "--twin", twin.name, "--params", "{}")
        with ChildProcess(cmd) as server:
            seen[twin.name] = _exchange(int(server.info["port"]), bodies)
    assert seen["threaded"] == [answer(b) for b in bodies]
    for name, answers in seen.items():
        assert answers == seen["threaded"], f"{name} answers differently"


@pytest.mark.parametrize("twin", [t.name for t in tcp_server.WORKLOAD.twins])
def test_tcp_bench_measures_a_clean_round(twin: str) -> None:
    params = {"n": 24, "concurrency": 4, "size": 100, "latency_ms": 1, "rate": 1000}
    checksums, info = run_bench(tcp_server.WORKLOAD, twin, params)
    assert checksums == [tcp_server.expected(params)] * 2
    assert info["errors"] == 0 and info["served"] == 1.0
    assert 0 < info["p50_s"] <= info["p90_s"] <= info["p99_s"] <= info["max_s"]
    assert info["samples"] == params["n"]  # the warm-up round is left out
    assert info["connected"] == 4 and info["rps"] > 0
    if twin == "threaded":  # one thread per open connection, plus the acceptor
        assert info["server_threads_peak"] >= 5


def test_a_server_too_slow_fails_the_twin_unless_overload_is_the_point() -> None:
    slow = {"n": 12, "concurrency": 3, "size": 100, "latency_ms": 300, "timeout_s": 0.05}
    with pytest.raises(WorkNotDone, match=r"12 of 12 operations failed \(timeouts 3"):
        run_bench(tcp_server.WORKLOAD, "asyncio-protocol", slow, rounds=1)
    checksums, info = run_bench(tcp_server.WORKLOAD, "asyncio-protocol",
                                {**slow, "overload": True})
    assert checksums == [tcp_server.expected(slow)] * 2  # every answer that came was right
    assert info["errors"] == 12 and info["served"] == 0 and info["timeouts"] == 3


# -- ws_chat ------------------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [0, 500], ids=["closed-loop", "open-loop"])
@pytest.mark.parametrize("twin", [t.name for t in ws_chat.WORKLOAD.twins])
def test_ws_every_client_gets_every_message_once(twin: str, rate: int) -> None:
    params = {"n": 15, "concurrency": 6, "senders": 3, "size": 64, "rate": rate}
    checksums, info = run_bench(ws_chat.WORKLOAD, twin, params)
    assert checksums == [ws_chat.expected(params)] * 2
    assert info["errors"] == 0 and info["served"] == 1.0
    assert not any(info["failures"].values()), info["failures"]
    assert info["deliveries"] == 15 * 6  # one kept round: each message to each client, once
    assert info["samples"] == 15 and info["p99_s"] > 0


def test_exactly_once_check_sees_loss_duplicates_and_corruption() -> None:
    params = {"n": 3, "concurrency": 2, "senders": 1, "size": 16}
    load = ws_chat.ChatLoad(params)
    texts = [ws_chat.message(i, 16) for i in range(3)]

    async def tally(got: list[list[str]]) -> dict[str, Any]:
        current = ws_chat._Round(texts, 2, 1)
        for client, messages in enumerate(got):
            for text in messages:
                current.receive(client, text, time.perf_counter())
        return load._tally(current, 1.0, {}, Schedule(0))

    clean = asyncio.run(tally([texts, texts[::-1]]))
    assert clean["ok"] == 6 and clean["checksum"] == ws_chat.expected(params)
    bad = asyncio.run(tally([[*texts, texts[0]], [texts[0], "m0000001|r00000|garbage"]]))
    assert bad["counts"] == {"missing": 2, "duplicates": 1, "corrupt": 1}
    assert bad["ok"] == 3 and bad["checksum"] != clean["checksum"]
    assert bad["full_checksum"] is None
    # A straggler from an earlier round is not taken for this round's delivery.
    later = ws_chat._Round([ws_chat.message(i, 16, tag=2) for i in range(3)], 2, 1)
    assert not later.receive(0, texts[0], 0.0)


# -- processes ------------------------------------------------------------------------------------

def _tagged(tag: str, exclude: int) -> list[psutil.Process]:
    """Live processes carrying our tag in their environment (children inherit it)."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != exclude and proc.environ().get(TAG) == tag:
                found.append(proc)
        except psutil.Error:  # gone, a zombie, or not ours
            continue
    return found


def _bench(args: list[str], tag: str) -> list[str]:
    return [sys.executable, "-m", "harness", "run", "tcp_server", "ws_chat", "--profile", "quick",
            *args]


def _env(tag: str) -> dict[str, str]:
    return {**os.environ, TAG: tag, "COLUMNS": "200"}


def _wait_gone(tag: str, exclude: int, seconds: float = 10) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while (left := _tagged(tag, exclude)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


# Of the quick profile's server scenarios, those of a kind the others are not (each costs about
# 3 s here): tcp_server's c10 is c1000 with fewer connections, ws_chat's room-100 is the room
# of room-100-open without the schedule; every scenario runs at tiny size in test_workloads.
QUICK_SCENARIOS = ("c1000", "backend-1ms", "open-loop", "room-100-open")


def test_quick_run_passes_and_leaves_no_process(tmp_path: Path) -> None:
    tag, out = uuid.uuid4().hex, tmp_path / "run.json"
    scenarios = [arg for name in QUICK_SCENARIOS for arg in ("-s", name)]
    done = subprocess.run(_bench([*scenarios, "--json", str(out)], tag), env=_env(tag),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not _wait_gone(tag, exclude=-1)
    doc = json.loads(out.read_text())
    outcomes = doc["twinbench"]["outcomes"]
    assert outcomes and all(o["outcome"] == "passed" for o in outcomes.values()), outcomes
    by_group: dict[str, set[str]] = defaultdict(set)
    for bench in doc["benchmarks"]:
        by_group[bench["group"]].add(bench["extra_info"]["checksum"])
        assert bench["extra_info"]["errors"] == 0, bench["name"]
    assert {g.split(":")[0] for g in by_group} == {"tcp_server", "ws_chat"}
    assert {g.split(":")[1] for g in by_group} == set(QUICK_SCENARIOS)
    assert all(len(sums) == 1 for sums in by_group.values()), by_group


def test_ctrl_c_leaves_no_process(tmp_path: Path) -> None:
    tag = uuid.uuid4().hex
    with (tmp_path / "out.txt").open("w") as log:
        bench = subprocess.Popen(_bench([], tag), env=_env(tag), cwd=tmp_path, stdout=log,
                                 stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not _tagged(tag, exclude=bench.pid):  # wait until servers are up
                assert bench.poll() is None, "bench ended before any server started"
                assert time.monotonic() < deadline, "no server process appeared"
                time.sleep(0.05)
            time.sleep(1.0)  # mid-run
            bench.send_signal(signal.SIGINT)
            code = bench.wait(timeout=60)
        finally:
            if bench.poll() is None:
                bench.kill()
                bench.wait()
    assert code == 130, (tmp_path / "out.txt").read_text()[-2000:]
    left = _wait_gone(tag, exclude=bench.pid)
    assert not left, [p.cmdline() for p in left]
