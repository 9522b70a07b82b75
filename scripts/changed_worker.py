"""A worker whose TWIN was changed, for `gate_quality.py --counted` only: the candidate side of
a counted trial.

    python scripts/changed_worker.py costlier TWIN STEPS_JSON
    python scripts/changed_worker.py no-keepalive TWIN

`costlier`: each operation of TWIN does extra deterministic CPU work after its own, so many
steps of harness.drivers.cpuwork.burn per scenario (STEPS_JSON maps a scenario's parameters,
as JSON with sorted keys, to its steps: gate_quality computes them so that the extra work is a
given fraction of the twin's instructions per operation). `no-keepalive`: TWIN's HTTP session
closes its connection after every request (aiohttp's force_close), a behaviour change of the
kind the counted gate must catch: a connection opened per operation where there were none.

Runs harness.run.worker with the changed registry. Production code has no knob for either:
the patch lives here, in the experiment.
"""

from __future__ import annotations

import inspect
import json
import sys
from dataclasses import replace
from typing import Any

from slowed_worker import run_worker_changing

from harness.drivers.cpuwork import burn
from harness.model.workload import BenchContext, Twin


def params_key(params: Any) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def costlier(bench: Any, steps: int) -> None:
    """After set-up: TWIN's client does `steps` more burn steps after every operation."""
    client = bench.client
    op = client.op
    if inspect.iscoroutinefunction(op):
        async def slower(item: Any) -> Any:
            result = await op(item)
            burn(1, steps)
            return result
        client.op = slower
    else:
        def slower_sync(item: Any) -> Any:
            result = op(item)
            burn(1, steps)
            return result
        client.op = slower_sync


async def _reopen_without_keepalive(client: Any, ctx: BenchContext) -> None:
    import aiohttp

    await client.session.close()
    connector = aiohttp.TCPConnector(limit=ctx.params["concurrency"], force_close=True)
    client.session = aiohttp.ClientSession(connector=connector)


def changed(twin: Twin, mode: str, steps: dict[str, int]) -> Twin:
    def bind(ctx: BenchContext) -> Any:
        bench = twin.bind(ctx)
        setup = bench.setup

        def setup_then_change() -> None:
            setup()
            if mode == "costlier":
                costlier(bench, steps.get(params_key(ctx.params), 0))
            else:
                bench.bridge.run(_reopen_without_keepalive(bench.client, ctx))

        bench.setup = setup_then_change
        return bench

    return replace(twin, bind=bind)


def main() -> None:
    mode, name = sys.argv[1], sys.argv[2]
    steps = {k: int(v) for k, v in json.loads(sys.argv[3]).items()} if mode == "costlier" \
        else {}
    run_worker_changing(name, lambda twin: changed(twin, mode, steps))


if __name__ == "__main__":
    main()
