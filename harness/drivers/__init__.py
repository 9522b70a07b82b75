"""Drivers: the harness-owned loops that run a twin's work.

Owns the client loop for client-side twins (`client`: sequential, a thread pool of C, C tasks
on one event loop), server twins and their load generator (`server`: the parent side, in the
measuring process; `loadgen`: what runs in the load child), the latency summaries both sides
share (`latency`) and event loops (`aio`).

May import: `harness.model`, `harness.procs`, `harness.leftovers`, `harness.errors`.
"""
