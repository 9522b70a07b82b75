"""The run file: pytest-benchmark's JSON plus a `twinbench` block, and its one owner.

Owns the schema (`runfile`: typed blocks, the version and its changelog, every builder and
mutator of a run document, strict validation, the loaded view `Run` / `BenchRecord`), merging
passes (`merge`), the environment a run records (`meta`: git, machine, libraries) and files on
disk (`files`: labels, atomic save, capped strict load).

May import: `harness.model`, `harness.redact`, `harness.errors`.
"""
