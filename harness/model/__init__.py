"""The model: what a workload declares and how one benchmark is named.

Owns the declaration types (`Workload`, `Twin`, `Scenario`, `Metric`, `BenchContext`, the
`Bench` protocol), case identity (`CaseKey`), discovery and selection, order-independent
checksums, deterministic payloads and the physics yardstick ceil(N/C)·L.

May import: `harness.errors` only. Everything else in the harness builds on this package.
"""
