"""twinbench: measure what moving I/O code from sync to async Python buys.

This module is the public API for workload authors: everything a workload module needs is
importable from `harness` directly (`from harness import Workload, Scenario, client_twin`), and
workload modules import nothing else of the harness. The engine lives in the packages, along
the data flow:

    model -> drivers, peers -> run (pytest-benchmark) -> results -> analysis -> render -> cli

Names are resolved on first use (PEP 562), so importing one package of the harness does not
import the others: the measuring process never loads the analysis or rendering code.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"

# public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # declaring a workload
    "Workload": "harness.model.workload",
    "Scenario": "harness.model.workload",
    "Metric": "harness.model.workload",
    "Twin": "harness.model.workload",
    "Sweep": "harness.model.workload",
    "BenchContext": "harness.model.workload",
    "Params": "harness.model.workload",
    "Kind": "harness.model.workload",
    "CannotRun": "harness.model.workload",
    "client_twin": "harness.drivers.client",
    "server_twin": "harness.drivers.server",
    "SERVER_METRICS": "harness.drivers.server",
    # proving the work
    "fold": "harness.model.checksum",
    "digest": "harness.model.checksum",
    "combine": "harness.model.checksum",
    "MASK": "harness.model.checksum",
    "payload": "harness.model.data",
    # the scrape workload's site (what the HTTP peer serves under /site/)
    "site_links": "harness.model.site",
    "site_page": "harness.model.site",
    "site_path": "harness.model.site",
    "site_reachable": "harness.model.site",
    "site_title": "harness.model.site",
    # the database workloads' shared data and work (TechEmpower's World table)
    "WORLD_ROWS": "harness.model.world",
    "WORLD_SIGNATURE": "harness.model.world",
    "WORLD_TINY": "harness.model.world",
    "WORLD_LOOKUP": "harness.model.world",
    "WORLD_RMW_READ": "harness.model.world",
    "WORLD_RMW_WRITE": "harness.model.world",
    "world_reset_statements": "harness.model.world",
    "world_scenarios": "harness.model.world",
    "random_number": "harness.model.world",
    "next_number": "harness.model.world",
    "world_rows": "harness.model.world",
    "world_work": "harness.model.world",
    "world_answer": "harness.model.world",
    "world_expected": "harness.model.world",
    "world_ops_per_item": "harness.model.world",
    "warm": "harness.drivers.pools",
    "awarm": "harness.drivers.pools",
    # the child side of a server twin: the server and its load generator
    "announce": "harness.drivers.loadgen",
    "child_main": "harness.drivers.loadgen",
    "run_loop": "harness.drivers.loadgen",
    "clock": "harness.drivers.loadgen",
    "Conn": "harness.drivers.loadgen",
    "LoadSession": "harness.drivers.loadgen",
    "LoadParams": "harness.drivers.loadgen",
    "RequestLoad": "harness.drivers.loadgen",
    "Schedule": "harness.drivers.loadgen",
    "connect_all": "harness.drivers.loadgen",
    "percentile": "harness.drivers.latency",
    # simulated CPU work (`cpu_us`), the same steps on every side (harness.drivers.cpuwork)
    "burn": "harness.drivers.cpuwork",
    "iterations_for": "harness.drivers.cpuwork",
}

__all__ = [
    "MASK",
    "SERVER_METRICS",
    "WORLD_LOOKUP",
    "WORLD_RMW_READ",
    "WORLD_RMW_WRITE",
    "WORLD_ROWS",
    "WORLD_SIGNATURE",
    "WORLD_TINY",
    "BenchContext",
    "CannotRun",
    "Conn",
    "Kind",
    "LoadParams",
    "LoadSession",
    "Metric",
    "Params",
    "RequestLoad",
    "Scenario",
    "Schedule",
    "Sweep",
    "Twin",
    "Workload",
    "__version__",
    "announce",
    "awarm",
    "burn",
    "child_main",
    "client_twin",
    "clock",
    "combine",
    "connect_all",
    "digest",
    "fold",
    "iterations_for",
    "next_number",
    "payload",
    "percentile",
    "random_number",
    "run_loop",
    "server_twin",
    "site_links",
    "site_page",
    "site_path",
    "site_reachable",
    "site_title",
    "warm",
    "world_answer",
    "world_expected",
    "world_ops_per_item",
    "world_reset_statements",
    "world_rows",
    "world_scenarios",
    "world_work",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # resolved once
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from harness.drivers.client import client_twin
    from harness.drivers.cpuwork import burn, iterations_for
    from harness.drivers.latency import percentile
    from harness.drivers.loadgen import (
        Conn,
        LoadParams,
        LoadSession,
        RequestLoad,
        Schedule,
        announce,
        child_main,
        clock,
        connect_all,
        run_loop,
    )
    from harness.drivers.pools import awarm, warm
    from harness.drivers.server import SERVER_METRICS, server_twin
    from harness.model.checksum import MASK, combine, digest, fold
    from harness.model.data import payload
    from harness.model.site import site_links, site_page, site_path, site_reachable, site_title
    from harness.model.workload import (
        BenchContext,
        CannotRun,
        Kind,
        Metric,
        Params,
        Scenario,
        Sweep,
        Twin,
        Workload,
    )
    from harness.model.world import (
        WORLD_LOOKUP,
        WORLD_RMW_READ,
        WORLD_RMW_WRITE,
        WORLD_ROWS,
        WORLD_SIGNATURE,
        WORLD_TINY,
        next_number,
        random_number,
        world_answer,
        world_expected,
        world_ops_per_item,
        world_reset_statements,
        world_rows,
        world_scenarios,
        world_work,
    )
