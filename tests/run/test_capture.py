"""Warnings, unraisable exceptions and log records raised during a benchmark are collected,
counted in the run file, listed after the tables, and fail a --strict run (issue 14)."""

from __future__ import annotations

import gc
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.drivers.client import client_twin
from harness.model.registry import Selection
from harness.model.workload import BenchContext, Scenario, Workload
from harness.results.merge import merge_passes
from harness.run.capture import capture
from harness.run.runner import RunRequest, execute

BENCH = [sys.executable, "-m", "harness"]


class Unraisable:
    def __del__(self) -> None:
        raise RuntimeError("closing failed")


def test_capture_counts_warnings_unraisables_thread_errors_and_log_records() -> None:
    into: dict[str, Any] = {}
    with capture(into):
        for _ in range(3):
            warnings.warn("old api", DeprecationWarning, stacklevel=1)
        Unraisable()
        thread = threading.Thread(target=lambda: 1 / 0, name="worker")
        thread.start()
        thread.join()
        logging.getLogger("urllib3.connectionpool").warning(
            "Connection pool is full, discarding connection: %s", "127.0.0.1")
        logging.getLogger("quiet").info("not a warning")
    by_kind = {w["kind"]: w for w in into["warnings"]}
    assert by_kind["warning"]["count"] == 3
    assert by_kind["warning"]["message"].startswith("DeprecationWarning: old api (")
    assert "RuntimeError: closing failed" in by_kind["unraisable"]["message"]
    assert by_kind["thread"]["message"] == "in thread worker: ZeroDivisionError: division by zero"
    assert by_kind["log"]["message"] == ("WARNING urllib3.connectionpool: Connection pool is "
                                         "full, discarding connection: 127.0.0.1")
    assert set(by_kind) == {"warning", "unraisable", "thread", "log"}


class SwallowsCtrlC:
    def __del__(self) -> None:
        raise KeyboardInterrupt  # as a Ctrl-C landing in psycopg_pool's ConnectionPool.__del__


def test_a_ctrl_c_lost_in_a_del_is_raised_when_the_benchmark_ends() -> None:
    into: dict[str, Any] = {}
    after: list[str] = []
    with pytest.raises(KeyboardInterrupt), capture(into):
        SwallowsCtrlC()
        after.append("the benchmark went on")
    assert after == ["the benchmark went on"] and into == {}


def test_capture_records_nothing_when_nothing_happens_and_restores_the_hooks() -> None:
    hooks = sys.unraisablehook, threading.excepthook, warnings.showwarning
    handlers = list(logging.getLogger().handlers)
    into: dict[str, Any] = {}
    with pytest.raises(ValueError), capture(into):
        raise ValueError("the benchmark failed")
    assert into == {}
    assert (sys.unraisablehook, threading.excepthook, warnings.showwarning) == hooks
    assert logging.getLogger().handlers == handlers


def test_many_distinct_messages_are_folded() -> None:
    into: dict[str, Any] = {}
    with capture(into):
        for i in range(25):
            logging.getLogger("x").error("error number %d", i)
    entries = into["warnings"]
    assert len(entries) == 11 and entries[-1]["message"] == "15 more distinct messages"
    assert sum(w["count"] for w in entries) == 25


# -- a twin that leaks a socket, end to end ---------------------------------------------------

class LeakyClient:
    """Opens a socket per op and never closes it: a ResourceWarning each time it is freed."""

    def open(self, ctx: BenchContext) -> None: ...

    def op(self, item: int) -> int:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        return item

    def close(self) -> None:
        gc.collect()


class TidyClient(LeakyClient):
    def op(self, item: int) -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM):
            return item


class AsyncTidy:
    async def open(self, ctx: BenchContext) -> None: ...

    async def op(self, item: int) -> int:
        return item

    async def close(self) -> None: ...


def items(ctx: BenchContext) -> list[int]:
    return list(range(ctx.params["n"]))


LEAKY = Workload(
    name="leaky", description="one twin leaks a socket per op",
    twins=(client_twin("leaks", "sync", "leaks", LeakyClient, items),
           client_twin("tidy", "sync", "tidy", TidyClient, items),
           client_twin("tasks", "async", "tasks", AsyncTidy, items)),
    scenarios=(Scenario("s", {"n": 20, "concurrency": 2}),), tiny={"n": 4})


def test_a_twin_that_leaks_a_socket_is_named_in_the_run_file() -> None:
    result = execute(RunRequest(profile="quick"), registry={"leaky": LEAKY})
    assert result.run is not None and result.exit_code == 0
    records = {r.twin: r for r in result.run.benchmarks}
    leaks = records["leaks"].warnings  # one entry per fd number the sockets had
    assert all(w["kind"] == "warning" and w["message"].startswith(
        "ResourceWarning: unclosed <socket.socket") for w in leaks)
    count = sum(w["count"] for w in leaks)
    assert count >= 2 * 4  # ops x rounds at least
    assert records["tidy"].warnings == () and records["tasks"].warnings == ()
    assert result.run.warning_count == count
    assert result.run.doc["twinbench"]["schema"] == 4
    # Passes add up.
    merged = merge_passes([result.run.doc, result.run.doc])
    info = next(b["extra_info"] for b in merged["benchmarks"]
                if b["extra_info"]["twin"] == "leaks")
    assert sum(w["count"] for w in info["warnings"]) == 2 * count


LEAKY_MODULE = """
import socket
from harness import BenchContext, Scenario, Workload, client_twin

class Leaky:
    def open(self, ctx): ...
    def op(self, item):
        socket.socket()
        return item
    def close(self): ...

class AsyncOk:
    async def open(self, ctx): ...
    async def op(self, item):
        return item
    async def close(self): ...

def items(ctx):
    return list(range(ctx.params["n"]))

WORKLOAD = Workload(name="leaky", description="leaks", tiny={"n": 4},
    twins=(client_twin("leaks", "sync", "leaks", Leaky, items),
           client_twin("tasks", "async", "tasks", AsyncOk, items)),
    scenarios=(Scenario("s", {"n": 20, "concurrency": 2}),))
"""


@pytest.mark.parametrize(("strict", "code"), [(False, 0), (True, 1)])
def test_warnings_are_listed_after_the_tables_and_strict_fails_the_run(
        tmp_path: Path, strict: bool, code: int) -> None:
    module = tmp_path / "leaky_twins.py"
    module.write_text(textwrap.dedent(LEAKY_MODULE))
    out = tmp_path / "run.json"
    result = subprocess.run([*BENCH, "run", "leaky", "--profile", "quick", "--workloads",
                             str(module), "--json", str(out), *(["--strict"] * strict)],
                            capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == code, result.stdout + result.stderr
    tables_end = result.stdout.index("→ ")
    listing = result.stdout.index("warning(s) during 1 benchmark(s)")
    assert listing > tables_end
    assert "leaky:s:leaks: " in result.stdout and "ResourceWarning: unclosed" in result.stdout
    assert ("--strict: " in result.stderr) == strict
    saved = {b["extra_info"]["twin"]: b["extra_info"] for b in
             json.loads(out.read_text())["benchmarks"]}
    assert saved["leaks"]["warnings"][0]["count"] > 0 and "warnings" not in saved["tasks"]


# -- a library's own log line, from a real peer ------------------------------------------------

class SmallPool:
    """requests with a pool smaller than its thread count: urllib3 discards connections and
    says so in a log record nobody would ever see."""

    def open(self, ctx: BenchContext) -> None:
        self.url = ctx.peers["http"].url
        self.session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_connections=1, pool_maxsize=1)
        self.session.mount("http://", adapter)

    def op(self, item: int) -> int:
        with self.session.get(f"{self.url}/item/{item}?delay_ms=5&size=8") as response:
            return len(response.content) + item

    def close(self) -> None:
        self.session.close()


class AsyncNoop(AsyncTidy):
    async def op(self, item: int) -> int:
        return 8 + item


def test_urllib3_pool_full_log_lines_are_counted() -> None:
    workload = Workload(
        name="pool", description="pool smaller than the threads", peers=("http",),
        twins=(client_twin("threads", "threads", "threads", SmallPool, items),
               client_twin("tasks", "async", "tasks", AsyncNoop, items,
                           io_differs={"requests": "a stand-in that makes none"})),
        scenarios=(Scenario("s", {"n": 80, "concurrency": 8}),), tiny={"n": 8})
    result = execute(RunRequest(selection=Selection(), profile="quick"),
                     registry={"pool": workload})
    assert result.run is not None, result.outcomes
    (record,) = [r for r in result.run.benchmarks if r.twin == "threads"]
    messages = [w["message"] for w in record.warnings if w["kind"] == "log"]
    assert any("WARNING urllib3.connectionpool: Connection pool is full" in m
               for m in messages), record.warnings
