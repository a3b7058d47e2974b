"""Threshold queries on the reference model: leadscore (fused into the scoring pass) next to
DuckDB and Polars doing the same. Each query is first checked to agree across engines.

Runs as plain tests in CI (benchmarks disabled, small table)."""
from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

import leadscore_fast as lf
import peers

WHERE = "total >= 40 AND tier != 'cold'"
K = 1000


def duckdb_count(con) -> int:
    sql = f"SELECT count(*) FROM ({peers.DUCKDB_SQL}) WHERE total >= 40 AND tier <> 'cold'"
    return con.execute(sql).fetchall()[0][0]


def duckdb_top_k(con) -> dict:
    sql = (f"SELECT tier::VARCHAR AS tier, lead_id FROM ({peers.DUCKDB_SQL}) "
           f"QUALIFY row_number() OVER (PARTITION BY tier ORDER BY total DESC, lead_id) <= {K}")
    out: dict = {}
    for tier, lead in con.execute(sql).fetchall():
        out.setdefault(tier, []).append(lead)
    return {t: sorted(v) for t, v in out.items()}


def polars_count(df) -> int:
    scored = peers.score_polars(df)
    hit = pc.and_(pc.greater_equal(scored["total"], 40.0), pc.not_equal(scored["tier"].cast("string"), "cold"))
    return int(pc.sum(hit.fill_null(False)).as_py() or 0)


def vm_top_k(model, leads) -> dict:
    top = lf.top_k(model, leads, K, by="total", per="tier", columns=["lead_id"])
    out: dict = {}
    for tier, lead in zip(top["tier"].to_pylist(), top["lead_id"].to_pylist()):
        out.setdefault(tier, []).append(lead)
    return {t: sorted(v) for t, v in out.items()}


@pytest.fixture(scope="module")
def duck(leads):
    import duckdb

    con = duckdb.connect()
    con.register("leads", leads)
    yield con
    con.close()


@pytest.fixture(scope="module")
def expected_count(model, leads):
    scored = lf.score(model, leads)
    hit = pc.and_(pc.greater_equal(scored["total"], 40.0), pc.not_equal(scored["tier"].cast("string"), "cold"))
    return int(pc.sum(hit.fill_null(False)).as_py() or 0)


@pytest.mark.benchmark(group="queries: count")
def test_scoring_alone(benchmark, model, leads):
    benchmark.name = "leadscore score (baseline)"
    assert benchmark(lf.score, model, leads).num_rows == leads.num_rows


@pytest.mark.benchmark(group="queries: count")
def test_count_leadscore(benchmark, model, leads, expected_count):
    benchmark.name = "leadscore count"
    assert benchmark(lf.count, model, leads, WHERE) == expected_count


@pytest.mark.benchmark(group="queries: count")
def test_count_duckdb(benchmark, duck, expected_count):
    benchmark.name = "DuckDB count"
    assert benchmark(duckdb_count, duck) == expected_count


@pytest.mark.benchmark(group="queries: count")
def test_count_polars(benchmark, leads, expected_count):
    df = peers.polars_frame(leads)
    benchmark.name = "Polars count"
    assert benchmark(polars_count, df) == expected_count


@pytest.mark.benchmark(group="queries: top_k per tier")
def test_top_k_leadscore(benchmark, model, leads, duck):
    want = duckdb_top_k(duck)
    benchmark.name = "leadscore top_k"
    got = benchmark(vm_top_k, model, leads)
    assert got == want
    assert all(len(v) == min(K, len(v)) for v in got.values()) and np.sum([len(v) for v in got.values()]) > 0


@pytest.mark.benchmark(group="queries: top_k per tier")
def test_top_k_duckdb(benchmark, duck):
    benchmark.name = "DuckDB top_k"
    assert benchmark(duckdb_top_k, duck)
