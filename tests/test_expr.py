"""expr.py: Python values → SQL expression text."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from leadscore_fast.expr import (Expr, abs_, case, coalesce, col, contains, days_since, decay,
                                 greatest, has_any, least, lit, ln, lower, sql, starts_with,
                                 to_expr_text)


def test_col_quotes_only_when_needed():
    assert col("visits").text == "visits"
    assert col("_a1").text == "_a1"
    assert col("Lead Source").text == '"Lead Source"'
    assert col('say "hi"').text == '"say ""hi"""'
    assert col("1st").text == '"1st"'
    assert col("end").text == '"end"'  # reserved word
    with pytest.raises(TypeError):
        col("")


def test_lit():
    assert lit("it's").text == "'it''s'"
    assert lit(None).text == "NULL"
    assert lit(True).text == "TRUE" and lit(False).text == "FALSE"
    assert lit(15).text == "15"
    assert lit(0.6).text == "0.6"
    assert lit(2.0).text == "2.0"  # stays a float literal
    assert lit(1e20).text == "100000000000000000000.0"
    assert lit(1.5e-7).text == "0.00000015"
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(ValueError, match="NaN or infinity"):
            lit(bad)
    with pytest.raises(TypeError):
        lit(object())


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_literals_round_trip(x):
    text = lit(x).text
    assert "e" not in text.lower() and "." in text
    assert float(text) == x


def test_operators_parenthesise_composites():
    a, b = col("a"), col("b")
    assert (a + b * 2).text == "a + (b * 2)"
    assert ((a + b) * 2).text == "(a + b) * 2"
    assert (0.6 * col("fit") + 0.4 * col("eng")).text == "(0.6 * fit) + (0.4 * eng)"
    assert (1 - a).text == "1 - a"
    assert (a - (-5)).text == "a - (-5)"
    assert (-(a + 1)).text == "-(a + 1)"
    assert (a / 2 % 3).text == "(a / 2) % 3"


def test_comparisons_and_logic():
    a = col("a")
    assert (a >= 80).text == "a >= 80"
    assert (a == "x").text == "a = 'x'"
    assert (a != 1).text == "a <> 1"
    assert (a == None).text == "a IS NULL"  # noqa: E711
    assert (a != None).text == "a IS NOT NULL"  # noqa: E711
    assert ((a > 1) & (col("b") < 2)).text == "(a > 1) AND (b < 2)"
    assert ((a > 1) | ~col("c")).text == "(a > 1) OR (NOT c)"
    assert (~((a > 1) & col("c"))).text == "NOT ((a > 1) AND c)"


def test_expr_has_no_truth_value():
    with pytest.raises(TypeError, match="truth value"):
        bool(col("a") > 1)
    with pytest.raises(TypeError):
        _ = 1 < col("a") < 3


def test_predicates():
    x = col("industry")
    assert x.isin("software", "fintech").text == "industry IN ('software', 'fintech')"
    assert x.isin(["a"]).text == "industry IN ('a')"
    assert col("n").between(1, 10).text == "n BETWEEN 1 AND 10"
    assert (col("n") + 1).between(1, 10).text == "(n + 1) BETWEEN 1 AND 10"
    assert x.is_null().text == "industry IS NULL"
    assert x.is_not_null().text == "industry IS NOT NULL"
    assert x.like("soft%").text == "industry LIKE 'soft%'"
    assert lower(x).ilike("%TECH").text == "lower(industry) ILIKE '%TECH'"
    with pytest.raises(ValueError):
        x.isin()


def test_functions():
    assert least(col("a"), 10).text == "least(a, 10)"
    assert greatest(col("a") + 1, 0).text == "greatest(a + 1, 0)"
    assert coalesce(col("a"), 0).text == "coalesce(a, 0)"
    assert abs_(col("a") - 3).text == "abs(a - 3)"
    assert ln(col("rev")).text == "ln(rev)"
    assert starts_with(col("t"), "VP").text == "starts_with(t, 'VP')"
    assert contains(col("t"), "Head").text == "contains(t, 'Head')"
    # days_since and has_any take a column name as a str
    assert days_since("last_activity_at").text == "days_since(last_activity_at)"
    assert (decay(20, days_since(col("last_activity_at")), 30).text
            == "decay(20, days_since(last_activity_at), 30)")
    assert has_any("technologies", "aws", "gcp").text == "has_any(technologies, 'aws', 'gcp')"
    assert (2 * least(col("a"), 3)).text == "2 * least(a, 3)"  # calls are atomic
    with pytest.raises(ValueError):
        least(col("a"))


def test_case_and_sql():
    e = case((col("a") > 1, "big"), ("b IS NULL", "none"), else_="small")
    assert e.text == "CASE WHEN a > 1 THEN 'big' WHEN b IS NULL THEN 'none' ELSE 'small' END"
    assert (sql("a + b") * 2).text == "(a + b) * 2"


def test_to_expr_text():
    assert to_expr_text("  total >= 40 ") == "total >= 40"  # a str is SQL text here
    assert to_expr_text(col("a") + 1) == "a + 1"
    assert to_expr_text(15) == "15"
    assert to_expr_text(-40) == "-40"
    assert to_expr_text(True) == "TRUE"
    with pytest.raises(ValueError):
        to_expr_text("   ")
    with pytest.raises(TypeError):
        to_expr_text(None)
    assert repr(col("a") + 1) == "Expr('a + 1')" and str(col("a")) == "a"
    assert isinstance(col("a") + 1, Expr)


def test_builder_numeric_date_and_string_functions_match_their_text():
    # each builder call scores exactly like the SQL text it stands for
    import datetime as dt

    import pyarrow as pa

    import leadscore_fast as lf
    from leadscore_fast import expr as E

    t = pa.table({"x": [7.25, -2.5, None], "n": pa.array([7, -3, 4], pa.int64()),
                  "s": ["a@gmail.com", "b@x.org", None],
                  "d": pa.array([dt.date(2026, 1, 2), dt.date(2025, 1, 1), None], pa.date32())})
    pairs = [
        (E.round_(E.col("x")), "round(x)"), (E.round_(E.col("x"), 1), "round(x, 1)"),
        (E.floor(E.col("x")), "floor(x)"), (E.ceil(E.col("x")), "ceil(x)"),
        (E.sign(E.col("n")), "sign(n)"), (E.pow_(E.col("n"), 2), "pow(n, 2)"),
        (E.log10(E.abs_(E.col("x"))), "log10(abs(x))"), (E.mod(E.col("n"), 2), "mod(n, 2)"),
        (E.col("n") // 2, "n // 2"), (E.cast(E.col("x"), "bigint"), "CAST(x AS BIGINT)"),
        (E.length(E.split_part(E.col("s"), "@", 2)), "length(split_part(s, '@', 2))"),
        (E.case((E.col("d") >= E.date("2026-01-01"), 1), else_=0), "CASE WHEN d >= DATE '2026-01-01' THEN 1 ELSE 0 END"),
        (E.case((E.col("n").is_distinct_from(7), 1), else_=0), "CASE WHEN n IS DISTINCT FROM 7 THEN 1 ELSE 0 END"),
    ]
    for built, text in pairs:
        m = {"name": "t", "scores": {"a": {"rules": [{"name": "r", "points": built}]},
                                     "b": {"rules": [{"name": "r", "points": text}]}}}
        res = lf.score(m, t)
        assert res.column("a").to_pylist() == res.column("b").to_pylist(), (str(built), text)
