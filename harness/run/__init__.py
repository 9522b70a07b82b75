"""Running benchmarks: profiles, the pytest plugin that times each case with pytest-benchmark,
the runner that builds the pytest session and owns the peers, passes, and confirmation of
suspects (`bench check`).

The measuring process runs this package. Nothing here imports the analysis or rendering code
(scipy, matplotlib stay out of the process that measures); decisions that need them come in
as callbacks.

May import: `harness.model`, `harness.drivers`, `harness.peers`, `harness.results`,
`harness.procs`, `harness.leftovers`, `harness.config`, `harness.errors`.
"""
