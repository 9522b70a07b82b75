"""Rendering: what a person reads. Rich tables for the terminal, markdown for CI job
summaries, JSON with stable keys; the HTML report when it comes.

Reads analysis results and run files; never measures. May import: `harness.analysis`,
`harness.results`, `harness.model`, `harness.errors`.
"""
