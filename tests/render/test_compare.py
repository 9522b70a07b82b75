"""Comparison reports: markdown and JSON say the same thing."""

from __future__ import annotations

import json

from harness.analysis.compare import compare_runs
from harness.render.compare import to_json_doc, to_markdown
from tests.helpers.runfiles import MACHINE, benches, make_run


def test_markdown_and_json_renderers_agree_on_a_cross_machine_run() -> None:
    other = {**MACHINE, "os": "Darwin"}
    result = compare_runs(make_run(benches()), make_run(benches(seed=2), machine=other))
    md = to_markdown(result)
    assert "Time of each twin ÷ time of its scenario's sync twin" in md
    assert "<details><summary>Absolute times (different machines" in md
    doc = to_json_doc(result)
    assert doc["mode"] == "ratio" and doc["same_machine"] is False
    assert doc["machine_differences"] == ["os 'Linux-6.1-x86_64' vs 'Darwin'"]
    json.dumps(doc, allow_nan=False)


