"""One module per workload, each defining `WORKLOAD` with both twins (see harness.registry)."""
