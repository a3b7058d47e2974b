"""DuckDB running ``to_sql(model)`` vs the plain-Python reference vs the VM, on generated
models/data and on the real X Education leads. Same float policy as test_differential."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from reference import mismatches, needs_tolerance, table_results  # noqa: E402
from strategies import cases, examples  # noqa: E402
from test_differential import (BOOL_CASES, INF_CASES, INF_TABLE, NUM_CASES, ONE,  # noqa: E402
                               UNICODE_CASES, decode, expr_model, output_names, ref, vm)

DATA = Path(__file__).resolve().parents[1].parent / "shared/data/x_education_leads.csv"


_CON = []


def duck(model, table: pa.Table, as_of=None) -> dict:
    if not _CON:  # one connection for the module: a new one costs ~40 ms
        _CON.append(duckdb.connect())
        _CON[0].execute("SET threads = 1")
    con = _CON[0]
    con.register("leads", table)
    try:
        sql = lf.to_sql(model, table.schema, relation="leads", as_of=as_of)
        return table_results(con.sql(sql).to_arrow_table(), output_names(model))
    finally:
        con.unregister("leads")


def check_three(model, table, as_of=None):
    tol = needs_tolerance(model)
    want = ref(model, table, as_of)
    got_sql = duck(model, table, as_of)
    got_vm = vm(model, table, as_of=as_of)
    bad = [f"duckdb: {m}" for m in mismatches(got_sql, want, tol)]
    bad += [f"vm vs duckdb: {m}" for m in mismatches(got_vm, got_sql, tol)]
    assert not bad, "\n".join(bad) + "\nSQL:\n" + lf.to_sql(model, table.schema, as_of=as_of)
    return want


@pytest.mark.parametrize("expr, expected, boolean", INF_CASES)
def test_duckdb_infinite_inputs(expr, expected, boolean):
    assert decode(duck(expr_model(expr, boolean), INF_TABLE), boolean) == expected


def test_null_inside_a_dictionary():
    d = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None], pa.int8()),
                                       pa.array(["a", None, "b"]))
    model = expr_model("w IS NULL", True)
    assert decode(duck(model, pa.table({"w": d})), True) == [False, True, False, True]


def test_days_since_on_nanosecond_timestamps():
    us = int(dt.datetime(2026, 10, 31, 12, tzinfo=dt.timezone.utc).timestamp()) * 10**6
    t = pa.table({"tz": pa.array([us * 1000], pa.timestamp("ns", tz="UTC")),
                  "naive": pa.array([us * 1000], pa.timestamp("ns")),
                  "secs": pa.array([us // 10**6], pa.timestamp("s", tz="Europe/Berlin"))})
    for c in t.column_names:
        assert decode(duck(expr_model(f"days_since({c})", False), t), False) == [0.5], c


@examples(0.7)
@given(cases(max_rows=30))
def test_duckdb_matches_reference_and_vm(case):
    check_three(case.model, case.table, case.as_of)


@examples(0.5)
@given(cases(max_rows=10, depth=4, max_scores=3, max_rules=3, max_segments=3))
def test_duckdb_matches_reference_deep_expressions(case):
    check_three(case.model, case.table, case.as_of)


@pytest.mark.parametrize("expr, expected", NUM_CASES)
def test_duckdb_constant_semantics(expr, expected):
    assert decode(duck(expr_model(expr, False), ONE), False) == [expected]


@pytest.mark.parametrize("expr, expected", BOOL_CASES + UNICODE_CASES)
def test_duckdb_constant_predicates(expr, expected):
    assert decode(duck(expr_model(expr, True), ONE), True) == [expected]


# ---- the real X Education leads -------------------------------------------------------------

X_EDUCATION_MODEL = {
    "name": "x-education",
    "as_of": "2026-11-01T00:00:00Z",
    "scores": {
        "fit": {"range": [0, 100], "rules": [
            {"name": "working professional", "points": 30,
             "when": "\"What is your current occupation\" = 'Working Professional'"},
            {"name": "student", "points": -15,
             "when": "\"What is your current occupation\" IN ('Student', 'Housewife')"},
            {"name": "add form", "points": 25,
             "when": "\"Lead Origin\" IN ('Lead Add Form', 'Lead Import')"},
            {"name": "referral", "points": 15,
             "when": "lower(\"Lead Source\") IN ('reference', 'welingak website')"},
            {"name": "quality", "points": "CASE \"Lead Quality\" WHEN 'High in Relevance' THEN 25 "
                                          "WHEN 'Might be' THEN 10 WHEN 'Worst' THEN -20 ELSE 0 END"},
            {"name": "activity index", "points": "coalesce(\"Asymmetrique Activity Score\", 14) - 14",
             "cap": 4, "floor": -7},
            {"name": "india", "points": 3, "when": "Country = 'India' OR Country IS NULL"},
            {"name": "do not email", "points": -10, "when": "\"Do Not Email\" = 'Yes'"},
        ]},
        "engagement": {"range": [0, 100], "rules": [
            {"name": "time on site", "points": "\"Total Time Spent on Website\" / 30", "cap": 40},
            {"name": "visits", "points": "2 * TotalVisits", "cap": 15,
             "when": "TotalVisits BETWEEN 1 AND 50"},
            {"name": "page depth", "points": "ln(1 + \"Page Views Per Visit\") * 4", "cap": 10},
            {"name": "sms", "points": 20, "when": "\"Last Activity\" ILIKE '%sms%'"},
            {"name": "phone", "points": 15, "when": "contains(\"Last Activity\", 'Phone')"},
            {"name": "email opened", "points": 5, "when": "\"Last Notable Activity\" LIKE 'Email O%'"},
            {"name": "bounced", "points": -10,
             "when": "\"Last Activity\" IN ('Email Bounced', 'Unsubscribed', 'Unreachable')"},
            {"name": "tag revert", "points": 20, "when": "starts_with(Tags, 'Will revert')"},
            {"name": "tag lost", "points": -25,
             "when": "Tags LIKE 'Lost%' OR Tags IN ('switched off', 'Ringing', 'Already a student')"},
        ]},
        "total": {"expr": "0.55 * fit + 0.45 * engagement"},
    },
    "segments": {
        "tier": [{"name": "hot", "when": "total >= 45"}, {"name": "warm", "when": "total >= 25"},
                 {"name": "cold"}],
        "route": [{"name": "sales", "when": "fit >= 40 AND engagement >= 30"},
                  {"name": "nurture", "when": "TotalVisits > 0"}],
    },
}


def x_education() -> pa.Table:
    if not DATA.exists():
        pytest.skip(f"{DATA} not present")
    from pyarrow import csv
    opts = csv.ConvertOptions(null_values=["", "Select"], strings_can_be_null=True)
    return csv.read_csv(DATA, convert_options=opts)


def test_x_education_vm_duckdb_reference_agree():
    table = x_education()
    assert table.num_rows == 9240
    want = check_three(X_EDUCATION_MODEL, table)
    # the model is meant to rank: hot leads convert far more often than cold ones
    conv = table.column("Converted").to_pylist()
    rate = {t: sum(c for c, x in zip(conv, want["tier"]) if x == t) / want["tier"].count(t)
            for t in ("hot", "cold")}
    assert rate["hot"] > 2 * rate["cold"], rate


def test_x_education_dictionary_encoded_and_chunked():
    table = x_education()
    enc = pa.table({n: (c.dictionary_encode() if pa.types.is_string(c.type) else c)
                    for n, c in zip(table.column_names, table.columns)})
    enc = pa.Table.from_batches(enc.to_batches(max_chunksize=1000))
    as_of = dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)
    check_three(X_EDUCATION_MODEL, enc, as_of)
