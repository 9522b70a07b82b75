"""twinbench: measure what moving I/O code from sync to async Python buys.

`harness` is the engine and knows no workload; workloads live in the `workloads` package and
import from here, never the reverse.
"""

__version__ = "0.2.0"
