"""Rule health and drift next to plain scoring on the reference model (the README's figures:
``LEADSCORE_BENCH_ROWS=1000000 pytest benchmarks/test_bench_trust.py --benchmark-enable``).
Runs as plain tests in CI (benchmarks disabled, small table); each answer is checked first."""
from __future__ import annotations

import pytest

import leadscore_fast as lf


@pytest.fixture(scope="module")
def current(bench_rows):
    from leadscore_fast.synthetic import generate_leads

    return generate_leads(bench_rows, seed=7)


@pytest.mark.benchmark(group="trust")
def test_scoring_alone(benchmark, model, leads):
    benchmark.name = "leadscore score (baseline)"
    assert benchmark(lf.score, model, leads).num_rows == leads.num_rows


@pytest.mark.benchmark(group="trust")
def test_rule_stats(benchmark, model, leads):
    benchmark.name = "rule_stats"
    h = benchmark(lf.rule_stats, model, leads)
    assert h.leads == leads.num_rows and all(
        r["true"] + r["false"] + r["null"] == leads.num_rows for r in h.rules)


@pytest.mark.benchmark(group="trust")
def test_rule_stats_with_label(benchmark, model, leads):
    benchmark.name = "rule_stats, label"
    assert benchmark(lf.rule_stats, model, leads, label="converted").conversion_rate > 0


@pytest.mark.benchmark(group="trust")
def test_drift(benchmark, model, leads, current):
    benchmark.name = "drift (two inputs of that size)"
    d = benchmark(lf.drift, model, leads, current)
    assert all(s["psi"] is not None and s["psi"] < 0.1 for s in d.scores)  # same generator
