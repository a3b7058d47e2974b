"""The numeric forms of the language, case by case (the conformance grid,
tests/conformance/grid_numeric.py, compares them with DuckDB over every executor)."""
from __future__ import annotations

import re

import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402

I64_MAX, I64_MIN = (1 << 63) - 1, -(1 << 63)


def score(expr, table, **kw):
    m = {"name": "t", "scores": {"x": {"rules": [{"name": "r", "points": expr}]}},
         "segments": {"n": [{"name": "null", "when": f"({expr}) IS NULL"}, {"name": "value"}]}}
    res = lf.score(m, table, **kw)
    return [None if n == "null" else v
            for v, n in zip(res.column("x").to_pylist(), res.column("n").to_pylist())]


@pytest.fixture(params=["interpreter", "fused", "native"])
def executor(request, monkeypatch):
    monkeypatch.setenv("LEADSCORE_EXECUTOR", request.param)
    return request.param


def test_int64_overflow_is_null_never_wrapped(executor):
    # the bug: INT64_MAX + 1 wrapped to INT64_MIN, and the product below read as 0
    t = pa.table({"i": pa.array([I64_MAX, I64_MIN, 1 << 62, 5], pa.int64())})
    assert score("i + 1", t) == [None, float(I64_MIN + 1), float((1 << 62) + 1), 6.0]
    assert score("i * 2", t) == [None, None, None, 10.0]
    assert score("-i", t) == [float(-I64_MAX), None, float(-(1 << 62)), -5.0]
    assert score("i // -1", t) == [float(-I64_MAX), None, float(-(1 << 62)), -5.0]


def test_integer_flag_is_a_condition(executor):
    t = pa.table({"do_not_email": pa.array([0, 1, None, 2], pa.int8())})
    m = {"name": "t", "scores": {"x": {"rules": [{"name": "dne", "when": "do_not_email", "points": -40}]}},
         "segments": {"g": [{"name": "blocked", "when": "do_not_email"}, {"name": "open"}]}}
    res = lf.score(m, t)
    assert res.column("x").to_pylist() == [0.0, -40.0, 0.0, -40.0]
    assert res.column("g").to_pylist() == ["open", "blocked", "open", "blocked"]


def test_uint64_above_int64_is_refused_with_the_column_named():
    # the bug: 2^64 - 1 read as -1, so `u > 0` was FALSE
    ok = pa.table({"u": pa.array([0, 5, I64_MAX], pa.uint64())})
    assert score("CASE WHEN u > 0 THEN 1 ELSE 0 END", ok) == [0.0, 1.0, 1.0]
    bad = pa.table({"u": pa.array([1, (1 << 64) - 1], pa.uint64())})
    with pytest.raises(lf.errors.DataError, match=r"column 'u' holds the uint64 value 18446744073709551615"):
        score("CASE WHEN u > 0 THEN 1 ELSE 0 END", bad)
    assert score("u", bad) == [1.0, float((1 << 64) - 1)]  # read as a float it is exact enough


def test_round_and_casts(executor):
    t = pa.table({"f": [2.5, -2.5, 0.49999999999999994, 1234.5678, None],
                  "s": pa.array(["2.5", " 12 ", "0x1F", "abc", None]).dictionary_encode()})
    assert score("round(f)", t) == [3.0, -3.0, 0.0, 1235.0, None]
    assert score("round(f, 2)", t) == [2.5, -2.5, 0.5, 1234.57, None]
    assert score("CAST(f AS BIGINT)", t) == [2.0, -2.0, 0.0, 1235.0, None]  # half to even
    assert score("CAST(s AS BIGINT)", t) == [3.0, 12.0, 31.0, None, None]  # DuckDB's parsing
    assert score("s::DOUBLE", t) == [2.5, 12.0, None, None, None]


@pytest.mark.parametrize("expr, needle", [
    ("round(f, f)", "round() takes its digits as an integer literal"),
    ("CAST(f AS REAL)", "use DOUBLE"),
    ("CAST(f AS VARCHAR) = '1'", "CAST of float values to VARCHAR is not supported"),
    ("pow(f)", "pow() takes 2 arguments"),
])
def test_errors_say_what_to_write(expr, needle):
    t = pa.table({"f": [1.0]})
    with pytest.raises(lf.errors.LeadscoreError, match=re.escape(needle)):
        score(expr, t)


@pytest.mark.parametrize("dialect", ["postgres", "sqlite"])
def test_to_sql_refuses_string_casts_it_cannot_write(dialect):
    schema = pa.schema([("s", pa.string())])
    m = {"name": "t", "scores": {"x": {"rules": [{"name": "r", "points": "CAST(s AS BIGINT)"}]}}}
    with pytest.raises(lf.errors.ModelError, match=f"to_sql\\(dialect='{dialect}'\\).*CAST AS BIGINT of a string"):
        lf.to_sql(m, schema, dialect=dialect)


def test_date_literal_errors_say_what_to_write():
    t = pa.table({"f": [1.0]})
    with pytest.raises(lf.errors.LeadscoreError, match=re.escape("'2026-02-30' is not a valid DATE: write DATE 'YYYY-MM-DD'")):
        score("CASE WHEN DATE '2026-02-30' IS NULL THEN 1 END", t)
    with pytest.raises(lf.errors.LeadscoreError, match="cannot compare float with date"):
        score("CASE WHEN f > DATE '2026-01-01' THEN 1 END", t)


def test_dates_compare_with_timestamps_of_every_unit(executor):
    import datetime as dt
    ns = pa.array([0, -1, 1_767_225_600_000_000_000, None], pa.timestamp("ns"))
    days = pa.array([dt.date(1970, 1, 1), dt.date(1969, 12, 31), dt.date(2026, 1, 1), None], pa.date32())
    t = pa.table({"ns": ns, "d": days, "s": pa.array([0, -1, 1_767_225_600, None], pa.timestamp("s"))})
    expr = "CASE WHEN ns >= d THEN 1 ELSE 0 END + CASE WHEN s = d THEN 10 ELSE 0 END"
    # ns -1 floors to -1 us, after 1969-12-31 midnight
    assert score(expr, t) == [11.0, 1.0, 11.0, 0.0]


@pytest.mark.parametrize("k", [2, 3, -3, -1, 0, 7, -7, 1_000_003, -1_000_003, I64_MAX, I64_MIN + 1, 1 << 32])
def test_multiplying_by_a_constant_is_null_exactly_on_overflow(k, executor):
    # the interpreter and the native executor check x * k against bounds found once for k
    xs = [I64_MIN, I64_MIN + 1, -3_037_000_500, -7, -1, 0, 1, 7, 3_037_000_499, 3_037_000_500,
          I64_MAX - 1, I64_MAX, 1 << 40, -(1 << 40)]
    t = pa.table({"x": pa.array(xs, pa.int64())})
    m = {"name": "m", "scores": {"s": {"rules": [{"name": "r", "points": 1}]}},
         "segments": {"g": [{"name": "null", "when": f"(x * ({k})) IS NULL"}, {"name": "ok"}]}}
    got = lf.score(m, t).column("g").to_pylist()
    assert got == ["ok" if I64_MIN <= x * k <= I64_MAX else "null" for x in xs]
