"""Rendering: what a person reads. Rich tables for the terminal, markdown for CI job
summaries, JSON with stable keys, and the HTML report (`html`: one self-contained page;
`charts`: its figures, matplotlib as inline SVG, imported only when a report is drawn).

Reads analysis results and run files; never measures. May import: `harness.analysis`,
`harness.results`, `harness.model`, `harness.errors`.
"""
