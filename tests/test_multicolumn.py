"""Conditions whose string value reads several columns (engine lookup.rs keys, vm/keys.py):
DuckDB running the same expressions, ``to_sql`` through DuckDB, the plain-Python reference and
every executor (the interpreter with ``LEADSCORE_FUSED=0``, the fused kernels from the first
row) agree, for plain and dictionary-encoded strings, NULLs, dictionaries that change from
batch to batch, and dictionaries too large for a dense table (the distinct-tuples layout)."""
from __future__ import annotations

import random

import numpy as np
import pyarrow as pa
import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.vm import fused, keys  # noqa: E402
from reference import table_results  # noqa: E402
from test_conformance import decode, grid_model  # noqa: E402  (the harness's encoding)
from test_differential import ref  # noqa: E402
from test_sql_dialects import pg, run_pg, run_sqlite  # noqa: E402,F401  (pg: a fixture)

VOCAB = ["gmail.com", "Gmail.com", "", "saas", "saas ", "straße", "ΣΑΣ", "σας", "a_b", "a%",
         "%", "_", "x@y", "😀", "fintech", None]
CASES = [
    ("coalesce(s, t) = 'saas'", "bool"),
    ("s = t", "bool"), ("s <> t", "bool"), ("s < t", "bool"), ("s >= t", "bool"),
    ("CASE WHEN b THEN s ELSE t END IN ('saas', 'gmail.com', '')", "bool"),
    ("CASE WHEN b THEN s END IS NULL", "bool"),
    ("s LIKE t", "bool"), ("s LIKE p", "bool"), ("t NOT LIKE s", "bool"),
    ("contains(s, t)", "bool"), ("starts_with(t, s)", "bool"),
    ("coalesce(s, t, 'none') IN ('none', 'σας')", "bool"),
    ("s = t OR s IS NULL", "bool"), ("s = t AND b", "bool"),
    ("coalesce(s, t) LIKE '%a%' AND coalesce(t, p) = '_'", "bool"),
    ("CASE WHEN s = t THEN b ELSE NOT b END", "bool"),
    ("CASE WHEN s = t THEN 10 ELSE 1 END", "num"),
    ("CASE WHEN coalesce(s, t) LIKE '%a%' THEN 2.5 WHEN b THEN 1 END", "num"),
    ("CASE WHEN contains(s, p) THEN n ELSE -n END", "num"),
]


def names(cases):
    return [*(f"n{k}" for k in range(len(cases))), *(f"z{k}" for k in range(len(cases)))]


def leads(n: int, seed: int, vocab=VOCAB) -> pa.Table:
    rnd = random.Random(seed)
    pick = lambda: [rnd.choice(vocab) for _ in range(n)]  # noqa: E731
    return pa.table({
        "s": pa.array(pick(), pa.string()), "t": pa.array(pick(), pa.string()),
        "p": pa.array(pick(), pa.string()),
        "b": pa.array([rnd.choice([True, False, None]) for _ in range(n)], pa.bool_()),
        "n": pa.array([float(rnd.randint(-5, 5)) for _ in range(n)], pa.float64())})


def dictionary_encoded(table: pa.Table) -> pa.Table:
    return pa.table({c: (table[c].combine_chunks().dictionary_encode() if pa.types.is_string(table[c].type)
                         else table[c]) for c in table.column_names})


def batches_with_their_own_dictionaries(table: pa.Table, size: int) -> pa.Table:
    """The table as batches of ``size`` rows, each string column encoded per batch (so every
    batch has another dictionary, in another order)."""
    parts = [dictionary_encoded(table.slice(lo, size)) for lo in range(0, table.num_rows, size)]
    return pa.concat_tables(parts, promote_options="permissive") if len(
        {str(p.schema) for p in parts}) > 1 else pa.concat_tables(parts)


def duckdb_direct(cases, table: pa.Table) -> list[list]:
    con = duckdb.connect()
    con.register("t", table)
    sel = ", ".join(f"({e}) AS c{k}" for k, (e, _) in enumerate(cases))
    rows = con.sql(f"SELECT {sel} FROM t").fetchall()
    return [[None if r[k] is None else (float(r[k]) if kind == "num" else bool(r[k])) for r in rows]
            for k, (_, kind) in enumerate(cases)]


def via_to_sql(cases, table: pa.Table) -> list[list]:
    con = duckdb.connect()
    con.register("leads", table)
    model = grid_model(cases)
    sql = lf.to_sql(model, table.schema, relation="leads", as_of=model["as_of"])
    return decode(table_results(con.sql(sql).to_arrow_table(), names(cases)), cases)


def engine(cases, table, monkeypatch, how: str, **kw) -> list[list]:
    with monkeypatch.context() as m:
        if how in ("interpreter", "native"):
            m.setenv("LEADSCORE_FUSED", "0")
            m.setenv("LEADSCORE_EXECUTOR", how)
        else:
            m.delenv("LEADSCORE_FUSED", raising=False)
            m.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
            m.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
        calls = []
        real = fused.Kernel.run
        m.setattr(fused.Kernel, "run", lambda self, *a: (calls.append(1), real(self, *a))[1])
        model = grid_model(cases)
        res = lf.score(model, table, as_of=model["as_of"], **kw)
        assert bool(calls) == (how == "fused"), f"{how}: {len(calls)} fused kernel runs"
        return decode(table_results(res, names(cases)), cases)


def assert_same(cases, got, want, what):
    bad = [f"{cases[k][0]!r} rows {[i for i, (x, y) in enumerate(zip(g, w)) if x != y][:5]}"
           for k, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{what} differs on:\n" + "\n".join(bad)


@pytest.fixture(scope="module")
def data():
    return leads(3000, seed=1)


@pytest.fixture(scope="module")
def want(data):
    return duckdb_direct(CASES, data)


def test_reference_and_to_sql_match_duckdb(data, want):
    model = grid_model(CASES)
    assert_same(CASES, decode(ref(model, data, model["as_of"]), CASES), want, "reference")
    assert_same(CASES, via_to_sql(CASES, data), want, "to_sql")


def test_to_sql_in_sqlite_and_postgres_matches_duckdb(data, want, pg):
    model = grid_model(CASES)
    assert_same(CASES, decode(run_sqlite(model, data, model["as_of"]), CASES), want, "SQLite")
    assert_same(CASES, decode(run_pg(pg, model, data, model["as_of"]), CASES), want, "PostgreSQL")


@pytest.mark.parametrize("how", ["interpreter", "fused", "native"])
@pytest.mark.parametrize("shape", ["plain", "dictionary", "per-batch dictionaries"])
def test_executors_match_duckdb(data, want, monkeypatch, how, shape):
    table = {"plain": data, "dictionary": dictionary_encoded(data),
             "per-batch dictionaries": batches_with_their_own_dictionaries(data, 700)}[shape]
    assert_same(CASES, engine(CASES, table, monkeypatch, how, chunk_rows=512), want, f"{how} ({shape})")


def test_dense_and_distinct_layouts_agree(data, want, monkeypatch):
    """DENSE_MAX 0 sends every key down the distinct-tuples path."""
    monkeypatch.setattr(keys, "DENSE_MAX", 0)
    assert_same(CASES, engine(CASES, data, monkeypatch, "interpreter"), want, "distinct layout")


LARGE = [("s = t", "bool"), ("coalesce(s, t) = 'v17'", "bool"), ("s LIKE t", "bool"),
         ("CASE WHEN b THEN s ELSE t END IN ('v1', 'v4999')", "bool"),
         ("CASE WHEN s = t THEN 3 WHEN contains(s, t) THEN 1 END", "num")]


@pytest.mark.parametrize("how", ["interpreter", "fused", "native"])
def test_two_large_dictionaries_take_the_distinct_path(monkeypatch, how):
    """Two 5,000-value columns: 25M tuples is past DENSE_MAX, so each batch numbers the tuples
    it holds (and equal values are frequent enough to test the equal case)."""
    rng = np.random.default_rng(7)
    n = 40_000
    vocab = np.array([f"v{i}" for i in range(5000)], object)
    s = vocab[rng.integers(0, 5000, n)]
    t = np.where(rng.random(n) < 0.3, s, vocab[rng.integers(0, 5000, n)])
    s = [None if rng.random() < 0.05 else x for x in s]
    table = pa.table({"s": pa.array(s, pa.string()), "t": pa.array(list(t), pa.string()),
                      "b": pa.array(rng.random(n) < 0.5)})
    seen = []
    real = keys.key_codes
    monkeypatch.setattr("leadscore_fast.runner.key_codes",
                        lambda *a: seen.append(r := real(*a)) or r)
    want = duckdb_direct(LARGE, table)
    assert_same(LARGE, engine(LARGE, table, monkeypatch, how), want, how)
    assert seen and all(k.combos is not None for k in seen), "expected the distinct layout"
    assert sum(x is True for x in want[0]) > n // 5  # s = t holds often


def test_one_string_column_programs_have_no_keys():
    schema = pa.schema([("s", pa.string()), ("t", pa.string()), ("b", pa.bool_())])
    one = lf.compile(grid_model([("s = 'a' AND b", "bool"), ("lower(t) LIKE '%x%'", "bool")]), schema)
    assert list(one.keys) == []
    two = lf.compile(grid_model([("s = t", "bool"), ("coalesce(t, s) = 'a'", "bool")]), schema)
    assert [sorted(k) for k in two.keys] == [[0, 1]] or len(two.keys) == 1


def test_a_string_value_over_a_number_column_is_a_compile_error():
    schema = pa.schema([("s", pa.string()), ("x", pa.int64())])
    with pytest.raises(lf.errors.LeadscoreError, match=r"computed from column 'x' \(int\)"):
        lf.compile(grid_model([("CASE WHEN x > 1 THEN s ELSE 'a' END = 'a'", "bool")]), schema)


@pytest.mark.parametrize("how", ["interpreter", "fused", "native"])
def test_sliced_columns_with_unaligned_validity(data, want, monkeypatch, how):
    """A slice starting mid-byte: codes and validity bits are read from the array's offset."""
    table = dictionary_encoded(data).slice(3, 2000)
    assert_same(CASES, engine(CASES, table, monkeypatch, how), [w[3:2003] for w in want],
                f"{how} (sliced)")


def test_switching_layouts_between_calls_refills_the_tables(data, want, monkeypatch):
    """The same program scored with the distinct layout, then the dense one, then distinct
    again: each reads tables of its own layout (the cache tells them apart)."""
    for dense_max in (0, keys.DENSE_MAX, 0):
        with monkeypatch.context() as m:
            m.setattr(keys, "DENSE_MAX", dense_max)
            assert_same(CASES, engine(CASES, data, monkeypatch, "interpreter"), want,
                        f"DENSE_MAX {dense_max}")
