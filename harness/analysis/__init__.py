"""Analysis: pure functions of runs. Statistics (scipy, imported lazily), per-scenario
summaries (best sync and best async twin, speedups), run-vs-run comparison, the gate's
decisions and trends over many runs.

May import: `harness.results`, `harness.model`, `harness.config`, `harness.errors`. Never the
runner or the renderers: analysis can be re-done on any saved run, anywhere.
"""
