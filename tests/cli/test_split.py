"""The answer split in two, as a user sees it: `bench list` names each twin's core, the
libraries that serve both models and the twins that cannot run here; a run says what the async
model alone buys, and when a pair's other side was skipped it says that instead of a ratio
against another library."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.cli import bench
from tests.model.test_registry import TEAM_TWINS

# A team's nap twins (tests/model/test_registry.py), declared one library both ways, and a
# second library whose async twin cannot run here.
SPLIT_TWINS = TEAM_TWINS.format(name="split") + '''
import dataclasses

from harness import CannotRun


def no_turbo() -> str:
    return "turbo is not installed: pip install nap-turbo"


class TurboClient(AsyncNapClient):
    async def open(self, ctx: BenchContext) -> None:
        raise CannotRun(no_turbo())


nap, nap_tasks = (dataclasses.replace(t, core="C", library="nap") for t in WORKLOAD.twins)
WORKLOAD = dataclasses.replace(WORKLOAD, twins=(
    nap, nap_tasks,
    client_twin("turbo-threads", "threads", "turbo on threads", NapClient, items,
                core="Rust", library="turbo"),
    client_twin("turbo-async", "async", "turbo as tasks", TurboClient, items,
                core="Rust", library="turbo", missing=no_turbo)))
'''


def test_list_and_run_split_the_model_from_the_library(tmp_path: Path) -> None:
    path = tmp_path / "split_twins.py"
    path.write_text(SPLIT_TWINS)
    listed = bench("list", "--workloads", str(path), cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    out = " ".join(listed.stdout.split())  # rich wraps long lines
    assert "nap (sync · C)" in out and "turbo-async (async · Rust)" in out
    assert ("one library in both models (the async model alone): nap: nap, nap-tasks; "
            "turbo: turbo-threads, turbo-async") in out
    assert "turbo-async cannot run here: turbo is not installed: pip install nap-turbo" in out

    ran = bench("run", "split", "--workloads", str(path), "--profile", "quick", cwd=tmp_path,
                timeout=120)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    out = " ".join(ran.stdout.split())
    assert "no async-model-alone figure for turbo: its async twin turbo-async skipped " \
           "(turbo is not installed: pip install nap-turbo)" in out
    assert "async model alone" in out  # the answer's column, from nap's own pair
