"""Every workload (benchmarks/workloads.py) and every extra peer, checked against leadscore and
then timed. With ``--benchmark-disable`` (CI) each runs once on small tables, so this is a
correctness test: the generic peers (plain Python, NumPy, Polars) and DuckDB running
``leadscore_fast.to_sql`` must give leadscore's scores and tiers.
"""
from __future__ import annotations

import duckdb
import pytest
import yaml

import peers
import workloads as W
from leadscore_fast.synthetic import generate_leads

PY_ROWS = 1_500  # the row-by-row peers run on this prefix


@pytest.fixture(scope="module")
def vm():
    reason = peers.vm_unavailable()
    if reason:
        pytest.skip(reason)
    import leadscore_fast as lf

    return lf


@pytest.fixture(scope="module")
def rows(bench_rows, bench_enabled):
    # the generated/string workloads are 10-60x the reference model's work per row
    return bench_rows // 10 if bench_enabled else 20_000


@pytest.fixture(scope="module")
def tables(rows):
    plain = generate_leads(rows, seed=11, null_rate=0.2, batch_rows=max(1, rows // 3))
    strings = generate_leads(rows, seed=11, null_rate=0.2, high_cardinality=True,
                             batch_rows=max(1, rows // 3))
    return {"plain": plain, "strings": strings}


def _check(vm, spec, table, model=None):
    """Return leadscore's normalised result after checking every generic peer against it."""
    model = model or spec.model()
    outs, th = spec.outputs, (spec.hot, spec.warm)
    want = W.normalize(vm.score(model, table, keep=["lead_id"]), outs)
    py = W.normalize(W.score_python(spec, table.slice(0, PY_ROWS)), outs)
    W.assert_agree(py, {k: v[:PY_ROWS] for k, v in want.items()}, outs, "python", th)
    W.assert_agree(W.normalize(W.score_numpy(spec, W.numpy_prepare(table, spec.columns())),
                               outs), want, outs, "numpy", th)
    W.assert_agree(W.normalize(W.score_polars(spec, W.polars_frame(table, spec.columns())),
                               outs), want, outs, "polars", th)
    con = duckdb.connect()
    sql = W.duckdb_sql(model, table.schema)
    W.assert_agree(W.normalize(W.score_duckdb(con, table, sql), outs), want, outs, "duckdb", th)
    return model


def test_reference_spec_is_the_reference_model(vm, tables):
    """The spec the generic peers translate is REFERENCE_MODEL_YAML (rule for rule)."""
    spec = W.reference_spec()
    assert spec.n_rules == 16
    doc = yaml.safe_load(W.REFERENCE_MODEL_YAML)
    names = [r["name"] for s in doc["scores"].values() for r in s.get("rules", [])]
    assert names == [r[0] for _, _, rules in spec.scores for r in rules]
    _check(vm, spec, tables["plain"], peers.load_model())


def test_generated_models_are_deterministic():
    a, b = W.generated_spec(200), W.generated_spec(200)
    assert a == b and a.n_rules == 200 and len(a.scores) == 2
    assert W.generated_spec(1000).n_rules == 1000
    assert W.generated_spec(200, seed=1) != a


def test_like_regex():
    import re

    rx = W.like_regex("%_g2_%", False)
    assert re.match(rx, "2026w01_g2_brand_00009") and not re.match(rx, "g2")
    assert re.match(W.like_regex("%TECH%", True), "novatech1.io")
    assert not re.match(W.like_regex("a.c", False), "abc")  # '.' is literal in LIKE


@pytest.mark.parametrize("workload", ["rules-200", "decay", "rules-1000"])
def test_generic_peers_agree(vm, benchmark, tables, workload):
    spec = W.WORKLOADS[workload]()
    table = tables["plain"]
    model = _check(vm, spec, table)
    benchmark.group = f"workload {workload}"
    benchmark.name = "leadscore"
    benchmark(vm.score, model, table)


def test_string_heavy_peers_agree(vm, benchmark, tables):
    spec = W.string_heavy_spec()
    table = tables["strings"]
    assert {"email_domain", "utm_campaign"} <= set(spec.columns())
    model = _check(vm, spec, table)
    benchmark.group = "workload string-heavy"
    benchmark.name = "leadscore"
    benchmark(vm.score, model, table)


@pytest.mark.parametrize("rate", [0.0, 0.05, 0.5])
def test_reference_nulls_all_peers(vm, rate):
    """0 / 5 / 50 % nulls: every reference-model peer agrees with leadscore."""
    table = generate_leads(12_000, seed=5, null_rate=rate, batch_rows=5_000)
    want = peers.score_vm(peers.load_model(), table)
    peers.assert_agree(peers.score_python(table.slice(0, PY_ROWS)), want.slice(0, PY_ROWS))
    peers.assert_agree(peers.score_numba(table), want)
    arrays = peers.numpy_arrays(table)
    peers.assert_agree(peers.score_numpy(arrays), want)
    peers.assert_agree(peers.score_numexpr(arrays), want)
    if peers.cython_unavailable() is None:
        peers.assert_agree(peers.score_cython(table), want)
    con = duckdb.connect()
    sql = W.duckdb_sql(peers.load_model(), table.schema)
    peers.assert_agree(peers.in_input_order(W.score_duckdb(con, table, sql)), want)


def test_numexpr(benchmark, leads, reference):
    pytest.importorskip("numexpr")
    arrays = peers.numpy_arrays(leads)
    peers.assert_agree(peers.score_numexpr(arrays), reference)
    benchmark.group = f"core {leads.num_rows:,} rows"
    benchmark.name = "numexpr"
    benchmark(peers.score_numexpr, arrays)


def test_numpy(benchmark, leads, reference):
    arrays = peers.numpy_arrays(leads)
    peers.assert_agree(peers.score_numpy(arrays), reference)
    benchmark.group = f"core {leads.num_rows:,} rows"
    benchmark.name = "NumPy"
    benchmark(peers.score_numpy, arrays)


def test_cython(benchmark, leads, reference):
    """Compiles once into a cache dir (~20 s the first time, then loaded); skips cleanly
    without Cython or a C compiler."""
    reason = peers.cython_unavailable()
    if reason:
        pytest.skip(reason)
    peers.assert_agree(peers.score_cython(leads), reference)
    benchmark.group = f"core {leads.num_rows:,} rows"
    benchmark.name = "Cython hand-written"
    benchmark(peers.score_cython, leads)


def test_memory_read_baseline(benchmark, leads):
    assert peers.memory_read(leads, peers.REFERENCE_COLUMNS) == \
        peers.memory_read(leads, peers.REFERENCE_COLUMNS)
    benchmark.group = f"core {leads.num_rows:,} rows"
    benchmark.name = "memory read"
    benchmark(peers.memory_read, leads, peers.REFERENCE_COLUMNS)


def test_python_sample(benchmark, leads, reference):
    sample = leads.slice(0, PY_ROWS)
    peers.assert_agree(peers.score_python(sample), reference.slice(0, PY_ROWS))
    benchmark.group = f"core {leads.num_rows:,} rows"
    benchmark.name = f"plain Python ({PY_ROWS:,}-row sample, not extrapolated)"
    benchmark(peers.score_python, sample)
