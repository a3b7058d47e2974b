"""Core benchmark: the reference model on one synthetic table, leadscore VM vs peers.

Every implementation is first checked to agree with the reference scores (the VM's once the
engine is built), then timed. With ``--benchmark-disable`` (the default addopts) each runs once
on a small table, so this doubles as a correctness test in CI.
"""
from __future__ import annotations

import statistics

import pytest

import peers
from leadscore_fast.synthetic import generate_leads


def _bench(benchmark, name, rows, fn, *args):
    benchmark.group = f"core {rows:,} rows"
    benchmark.name = name
    benchmark.extra_info["rows"] = rows
    return benchmark(fn, *args)


def test_peers_agree_on_nulls():
    """Null-heavy data, every peer (and the VM when built) against the literal Python one."""
    table = generate_leads(20_000, seed=7, null_rate=0.3, batch_rows=6_000)
    want = peers.score_python(table)
    peers.assert_agree(peers.score_numba(table), want)
    peers.assert_agree(peers.score_polars(peers.polars_frame(table)), want)
    peers.assert_agree(peers.in_input_order(peers.score_duckdb(table)), want)
    peers.assert_agree(peers.score_pandas(peers.pandas_frame(table)), want)
    if peers.vm_unavailable() is None:
        peers.assert_agree(peers.score_vm(peers.load_model(), table), want)


def test_leadscore_vm(benchmark, model, leads):
    # The reference is the VM itself here, so check it against the hand-fused kernel.
    peers.assert_agree(peers.score_vm(model, leads), peers.score_numba(leads))
    _bench(benchmark, "leadscore VM", leads.num_rows, peers.score_vm, model, leads)


def test_numba_hand_fused(benchmark, leads, reference):
    peers.assert_agree(peers.score_numba(leads), reference)
    _bench(benchmark, "numba hand-fused", leads.num_rows, peers.score_numba, leads)


def test_polars(benchmark, leads, reference):
    df = peers.polars_frame(leads)  # Arrow → Polars conversion is not timed (generous)
    peers.assert_agree(peers.score_polars(df), reference)
    _bench(benchmark, "polars", leads.num_rows, peers.score_polars, df)


def test_duckdb(benchmark, leads, reference):
    import duckdb

    con = duckdb.connect()
    peers.assert_agree(peers.in_input_order(peers.score_duckdb(leads, con)), reference)
    _bench(benchmark, "duckdb", leads.num_rows, peers.score_duckdb, leads, con)


def test_pandas(benchmark, leads, reference):
    df = peers.pandas_frame(leads)  # Arrow → pandas conversion is not timed (generous)
    peers.assert_agree(peers.score_pandas(df), reference)
    _bench(benchmark, "pandas", leads.num_rows, peers.score_pandas, df)


def test_cold_start(benchmark, model, bench_enabled):
    """A fresh interpreter: import, load the model, score a first batch (numba cache warm;
    the synthetic batch's generation is excluded)."""
    peers.cold_start()  # populates the numba cache
    runs = []
    benchmark.group = "cold start"
    benchmark.pedantic(lambda: runs.append(peers.cold_start()), rounds=3, iterations=1)
    total = statistics.median(r["total_s"] for r in runs)
    benchmark.extra_info.update(runs[-1])
    if bench_enabled:
        assert total < 1.0, runs
