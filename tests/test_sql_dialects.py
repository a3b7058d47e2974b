"""``to_sql(model, dialect=...)`` for PostgreSQL and SQLite against the engine: the same numbers
on generated models and data (scores bit-equal, or within test_differential's tolerance where
a model uses decay/exp/ln; segments identical), on examples/b2b_inbound.yaml, on the constant
semantics cases, and with names and strings made to break quoting.

SQLite is Python's sqlite3, over a table with declared types (BIGINT, DOUBLE, BOOLEAN 0/1,
TEXT, DATE and TIMESTAMP as ISO-8601 text in several of the spellings SQLite reads).
PostgreSQL is a real server (the ``postgres_uri`` fixture), loaded with ADBC's ingest.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import sqlite3
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import errors  # noqa: E402
from leadscore_fast.schema import kind_of  # noqa: E402
from reference import mismatches, needs_tolerance  # noqa: E402
from strategies import cases, examples  # noqa: E402
from test_differential import (BOOL_CASES, INF_CASES, INF_TABLE, NUM_CASES, ONE,  # noqa: E402
                               UNICODE_CASES, decode, expr_model, output_names, ref, vm)

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc
EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
PLUS2 = dt.timezone(dt.timedelta(hours=2))


def qi(name: str) -> str:
    """A quoted identifier (for the tests' own SQL)."""
    return '"' + name.replace('"', '""') + '"'


def sql_for(model, schema, dialect, as_of=None, **kw) -> str:
    return lf.to_sql(model, schema, relation=kw.pop("relation", "leads"), as_of=as_of,
                     dialect=dialect, **kw)


# ---- SQLite ---------------------------------------------------------------------------------

SQLITE_TYPES = {"int": "BIGINT", "float": "DOUBLE", "bool": "BOOLEAN", "string": "TEXT",
                "timestamp": "TIMESTAMP", "date": "DATE"}


def iso_text(t: dt.datetime, i: int) -> str:
    """Timestamp text in the spellings SQLite's date functions read, varied by row."""
    style = i % 4
    if style == 0:  # what Python's sqlite3 adapter and datetime() write
        return t.replace(tzinfo=None).isoformat(" ")
    if style == 1:
        return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if style == 2:  # another zone's local time with its offset
        return t.astimezone(PLUS2).isoformat("T")
    return t.strftime("%Y-%m-%d %H:%M:%S.%f") + "789"  # nanosecond digits: floored


# timestamp unit → (multiply, floor-divide) to microseconds
TO_US = {"s": (10**6, 1), "ms": (1000, 1), "us": (1, 1), "ns": (1, 1000)}


def sqlite_values(col: pa.ChunkedArray) -> list:
    """A column's values as SQLite stores them (see the module docstring)."""
    t, kind = col.type, kind_of(col.type)
    if kind == "timestamp":
        mul, div = TO_US[t.unit]
        raw = col.cast(pa.timestamp(t.unit)).cast(pa.int64()).to_pylist()  # UTC instants
        us = [None if v is None else v * mul // div for v in raw]
        return [None if v is None else iso_text(EPOCH + dt.timedelta(microseconds=v), i)
                for i, v in enumerate(us)]
    values = col.to_pylist()
    if kind == "date":
        return [None if v is None else v.isoformat() for v in values]
    if kind == "bool":
        return [None if v is None else int(v) for v in values]
    if kind == "list_string":
        return [None if v is None else json.dumps(v) for v in values]
    return values


def sqlite_connect(table: pa.Table) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    names = table.column_names
    decl = ", ".join(f'{qi(n)} {SQLITE_TYPES.get(kind_of(table.schema.field(n).type), "TEXT")}'
                     for n in names)
    con.execute(f"CREATE TABLE leads ({decl})")
    cols = [sqlite_values(table.column(n)) for n in names]
    if names:
        marks = ", ".join("?" * len(names))
        con.executemany(f"INSERT INTO leads VALUES ({marks})", list(zip(*cols)))
    return con


ROW = "__row_number__"


def numbered(table: pa.Table) -> pa.Table:
    """The table with a row number, so the query's rows can be put back in input order."""
    return table.append_column(ROW, pa.array(range(table.num_rows), pa.int64()))


def in_order(sql: str, names) -> str:
    cols = ", ".join(qi(n) for n in names)
    return f'SELECT {cols} FROM ({sql}) AS q ORDER BY "{ROW}"'


def run_sqlite(model, table: pa.Table, as_of=None) -> dict:
    table = numbered(table)
    sql = sql_for(model, table.schema, "sqlite", as_of, include_input=True)
    con = sqlite_connect(table)
    try:
        cur = con.execute(in_order(sql, output_names(model)))
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    return {n: [r[i] for r in rows] for i, n in enumerate(names)}


# ---- PostgreSQL -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pg(postgres_uri):
    dbapi = pytest.importorskip("adbc_driver_postgresql.dbapi")
    with dbapi.connect(postgres_uri, autocommit=True) as con:
        yield con


def pg_table(table: pa.Table) -> pa.Table:
    """What ADBC ingests: date64 as date32, ns timestamps as µs (the data holds whole µs)."""
    cols = []
    for col in table.columns:
        t = col.type
        if t == pa.date64():
            col = col.cast(pa.date32())
        elif pa.types.is_timestamp(t) and t.unit == "ns":
            col = col.cast(pa.timestamp("us", t.tz))
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)


def run_pg(con, model, table: pa.Table, as_of=None, relation="leads", names=None) -> dict:
    """Scores and segments (or ``names``, of the input too) in input order."""
    table = numbered(table)
    sql = sql_for(model, table.schema, "postgres", as_of, relation=relation, include_input=True)
    with con.cursor() as cur:
        cur.adbc_ingest(relation, pg_table(table), mode="replace")
        try:
            cur.execute(in_order(sql, names or output_names(model)))
            out = cur.fetch_arrow_table()
        finally:  # the server is the session's: leave no table for another test to trip on
            cur.execute(f"DROP TABLE IF EXISTS {qi(relation)}")
    return {n: out.column(n).to_pylist() for n in out.column_names}


# ---- the comparisons ------------------------------------------------------------------------

def uses_has_any(model) -> bool:
    return "has_any(" in json.dumps(model)


def check(model, table, got: dict, dialect: str, as_of=None):
    """The SQL's results against the engine's. Where the model uses decay/exp/ln, the engine's
    own (vectorised) functions may differ from libm's in the last bit, and an operation after
    them (`%` above all) can make that any size: there the SQL, which calls libm as the
    plain-Python reference does, must also match the reference."""
    tol = needs_tolerance(model)
    bad = mismatches(got, vm(model, table, as_of=as_of), tol)
    if bad and tol and not mismatches(got, ref(model, table, as_of), tol):
        bad = []
    assert not bad, (f"{dialect} differs from the engine:\n" + "\n".join(bad) + "\nSQL:\n"
                     + sql_for(model, table.schema, dialect, as_of))


def check_sqlite(model, table, as_of=None):
    if uses_has_any(model):
        with pytest.raises(errors.ModelError, match="SQLite has no array type"):
            sql_for(model, table.schema, "sqlite", as_of)
        return
    check(model, table, run_sqlite(model, table, as_of), "sqlite", as_of)


def check_pg(con, model, table, as_of=None):
    check(model, table, run_pg(con, model, table, as_of), "postgres", as_of)


@examples(0.5)
@given(cases(max_rows=20))
def test_sqlite_matches_engine(case):
    check_sqlite(case.model, case.table, case.as_of)


@examples(0.25)
@given(cases(max_rows=8, depth=4, max_scores=3, max_rules=3, max_segments=3))
def test_sqlite_matches_engine_deep_expressions(case):
    check_sqlite(case.model, case.table, case.as_of)


@examples(0.25)
@given(case=cases(max_rows=20))
def test_postgres_matches_engine(pg, case):
    check_pg(pg, case.model, case.table, case.as_of)


@examples(0.12)
@given(case=cases(max_rows=8, depth=4, max_scores=3, max_rules=3, max_segments=3))
def test_postgres_matches_engine_deep_expressions(pg, case):
    check_pg(pg, case.model, case.table, case.as_of)


# ---- the example model ----------------------------------------------------------------------

def b2b():
    from leadscore_fast.synthetic import generate_leads
    model = lf.Model.from_yaml(ROOT / "examples/b2b_inbound.yaml").to_dict()
    return model, generate_leads(2000, seed=7)


def test_b2b_inbound_postgres(pg):
    model, leads = b2b()
    check_pg(pg, model, leads)


def test_b2b_inbound_sqlite_rejects_has_any_and_matches_without_it():
    model, leads = b2b()
    with pytest.raises(errors.ModelError, match=r"has_any\(\).*SQLite has no array type"):
        lf.to_sql(model, leads.schema, dialect="sqlite")
    spec = json.loads(json.dumps(model))
    for s in spec["scores"].values():
        if "rules" in s:
            s["rules"] = [r for r in s["rules"] if "has_any" not in str(r.get("when"))]
    assert not uses_has_any(spec)
    check_sqlite(spec, leads)


def test_x_education_leads(pg):
    """The real X Education leads (9,240 rows, NULLs, ILIKE/LIKE/IN over many strings)."""
    duck = pytest.importorskip("test_duckdb_equivalence")
    table = duck.x_education()
    check_sqlite(duck.X_EDUCATION_MODEL, table)
    check_pg(pg, duck.X_EDUCATION_MODEL, table)


# ---- constant semantics (test_differential's hand-worked cases) -----------------------------

def values_in(dialect, expr, table, boolean, pg=None):
    model = expr_model(expr, boolean)
    res = run_pg(pg, model, table) if dialect == "postgres" else run_sqlite(model, table)
    return decode(res, boolean)


# SQLite's lower/upper fold ASCII letters only (documented): its answers for these cases.
SQLITE_ASCII_CASE_MAPS = {"'ÉCOLE' ILIKE 'école'": False, "lower('ÉCOLE') = 'école'": False,
                          "upper('école') = 'ÉCOLE'": False}


@pytest.mark.parametrize("dialect", ["sqlite", "postgres"])
def test_constant_semantics(dialect, request):
    pg = request.getfixturevalue("pg") if dialect == "postgres" else None
    bad = []
    for expr, expected in NUM_CASES:
        if (got := values_in(dialect, expr, ONE, False, pg)) != [expected]:
            bad.append(f"{expr}: {got} != {expected}")
    for expr, expected in BOOL_CASES + UNICODE_CASES:
        if dialect == "sqlite":
            expected = SQLITE_ASCII_CASE_MAPS.get(expr, expected)
        if (got := values_in(dialect, expr, ONE, True, pg)) != [expected]:
            bad.append(f"{expr}: {got} != {expected}")
    for expr, expected, boolean in INF_CASES:
        if (got := values_in(dialect, expr, INF_TABLE, boolean, pg)) != expected:
            bad.append(f"{expr}: {got} != {expected}")
    assert not bad, "\n".join(bad)


# ---- hand-picked: what a dialect writes out -------------------------------------------------

INF = float("inf")
EDGE_FLOATS = [7.5, -7.5, 2.0, -2.0, 0.1, 0.3, 1e300, -1e300, 5e-324, 1e-310, 3.0, 1e-300,
               2.2250738585072014e-308, 1.7976931348623157e308, 123456.789, -0.0, 0.0, INF, -INF]


def test_float_modulo_is_exact_fmod(pg):
    """PostgreSQL has no float %: written out from the operands' bits. Every pair of edge
    values (subnormals, extremes, infinities, signed zeros) against C's fmod."""
    xs = [a for a in EDGE_FLOATS for _ in EDGE_FLOATS]
    ys = [b for _ in EDGE_FLOATS for b in EDGE_FLOATS]
    t = pa.table({"x": pa.array(xs), "y": pa.array(ys)})
    expected = [None if b == 0 or math.isinf(a) else math.fmod(a, b) for a, b in zip(xs, ys)]
    model = expr_model("x % y", False)
    assert decode(vm(model, t), False) == expected
    assert decode(run_pg(pg, model, t), False) == expected
    assert decode(run_sqlite(model, t), False) == expected


def test_exp_and_decay_at_the_ends_of_the_float_range(pg):
    """PostgreSQL raises where exp/power over- or underflow; the guards give libm's inf/0."""
    t = pa.table({"x": [709.782712893384, 709.7827128933841, -745.1332191019411,
                        -745.1332191019412, 1000.0, -1000.0, INF, -INF]})
    for expr in ["exp(x)", "decay(1, x, 0.5)", "decay(1, x, -0.5)", "decay(0, x, 1)"]:
        model = expr_model(expr, False)
        want = decode(vm(model, t), False)
        assert decode(run_pg(pg, model, t), False) == want, expr
        assert decode(run_sqlite(model, t), False) == want, expr


def pinned(values):
    """A model whose score i is values[i] (a rule clamped to [v, v]), and what it gives."""
    rule = lambda v: {"name": "r", "points": 0, "floor": v, "cap": v}  # noqa: E731
    scores = {f"s{i}": {"rules": [rule(v)]} for i, v in enumerate(values)}
    return {"name": "t", "scores": scores}, {f"s{i}": [v] for i, v in enumerate(values)}


def test_float_literals_are_read_back_exactly(pg):
    """SQLite 3.40 misreads some decimal text (2.605168378550334e-297 → ...337e-297): floats
    SQLite would misread are written as m·2^e."""
    tricky = [2.605168378550334e-297, -7.859228932546058e-296, 4.017995246029543e-308, 0.6,
              0.1, 1e-7, 1e16, 123456789012345680.0, 5e-324, 1.7976931348623157e308]
    model, want = pinned(tricky)
    assert vm(model, ONE) == want
    assert run_sqlite(model, ONE) == want
    assert run_pg(pg, model, ONE) == want


@examples(0.1)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=40))
def test_any_float_literal_is_read_back_exactly(pg, values):
    model, want = pinned(values)
    assert run_sqlite(model, ONE) == want
    assert run_pg(pg, model, ONE) == want


def at(*args, us=0, tz=UTC):
    """An aware datetime (UTC unless told)."""
    return dt.datetime(*args, microsecond=us, tzinfo=tz)


def test_days_since_reads_timestamps_to_the_microsecond(pg):
    ts = [at(2026, 10, 31, 12, us=1), at(1969, 12, 31, 23, 59, 59, us=500000),
          at(2023, 11, 18, 0, 12, 23, us=457577), at(2026, 11, 1),
          at(2000, 2, 29, 23, 59, 59, us=999999), None]
    us = [None if x is None else (x - EPOCH) // dt.timedelta(microseconds=1) for x in ts]
    ns = [None if u is None else u * 1000 for u in us]
    t = pa.table({"tz": pa.array(us, pa.timestamp("us", tz="America/New_York")),
                  "naive": pa.array(ns, pa.timestamp("ns")),
                  "d": pa.array([None if x is None else x.date() for x in ts], pa.date32())})
    for c in t.column_names:
        model = expr_model(f"days_since({c})", False)
        want = decode(vm(model, t), False)
        assert decode(run_pg(pg, model, t), False) == want, c
        assert decode(run_sqlite(model, t), False) == want, c


@pytest.mark.parametrize("text, when", [
    ("2026-10-31 12:00:00", at(2026, 10, 31, 12)), ("2026-10-31T12:00:00", at(2026, 10, 31, 12)),
    ("2026-10-31 12:00:00Z", at(2026, 10, 31, 12)),
    ("2026-10-31T14:00:00+02:00", at(2026, 10, 31, 12)),
    ("2026-10-31 12:00:00.000001", at(2026, 10, 31, 12, us=1)),
    ("2026-10-31T12:00:00.5Z", at(2026, 10, 31, 12, us=500000)),
    ("2026-10-31 12:00:59.999999999", at(2026, 10, 31, 12, 0, 59, us=999999)),
    ("2026-10-31T07:00:00.25-05:00", at(2026, 10, 31, 12, us=250000)),
    ("1969-12-31 23:59:59.5", at(1969, 12, 31, 23, 59, 59, us=500000)),
    ("2026-10-31 12:00", at(2026, 10, 31, 12)), ("2026-10-31", at(2026, 10, 31)),
])
def test_sqlite_days_since_reads_iso_text_spellings(text, when):
    """Each spelling SQLite's own date functions read, exact to the microsecond (SQLite's
    functions alone keep milliseconds, and round them: 59.9999995 would be the next minute)."""
    con = sqlite3.connect(":memory:")
    con.execute("CREATE TABLE leads (t TIMESTAMP)")
    con.execute("INSERT INTO leads VALUES (?)", (text,))
    schema = pa.schema([("t", pa.timestamp("us", tz="UTC"))])
    sql = lf.to_sql(expr_model("days_since(t)", False), schema, dialect="sqlite")
    got = con.execute(sql).fetchone()[0]
    want_us = (dt.datetime(2026, 11, 1, tzinfo=UTC) - when) // dt.timedelta(microseconds=1)
    assert got == want_us / 86_400_000_000, sql


def test_sqlite_like_is_case_sensitive_and_has_no_escape():
    words = ["Software", "software", "a*b", "a?b", "a[b", "axb", "a%b", "a\\b", "é", None]
    t = pa.table({"w": words})
    for pattern in ["soft%", "Soft%", "a*b", "a?b", "a[b", "a_b", "a%b", "a\\b", "_", "%[%",
                    "a\\_"]:
        for op in ["LIKE", "ILIKE", "NOT LIKE"]:
            model = expr_model(f"w {op} '{pattern}'", True)
            assert decode(run_sqlite(model, t), True) == decode(vm(model, t), True), (op, pattern)
    for expr in ["w LIKE w", "w ILIKE lower(w)", "w LIKE coalesce(w, 'a_b')"]:  # not literals
        model = expr_model(expr, True)
        assert decode(run_sqlite(model, t), True) == decode(vm(model, t), True), expr


def test_postgres_strings_compare_as_bytes_and_case_map_unicode(pg):
    t = pa.table({"w": ["B", "a", "é", "z", "ÉCOLE", "straße", "ΣΑΣ", "a\\b", "50%", None]})
    for expr in ["w < 'a'", "w > 'z'", "w = 'B'", "lower(w) = 'école'", "upper(w) = 'STRASSE'",
                 "lower(w) = 'σας'", "w LIKE 'a\\b'", "w LIKE 'a\\_'", "w ILIKE 'école'",
                 "w LIKE '5%'", "starts_with(w, 'É')", "contains(w, 'ß')", "w IN ('a', 'é')",
                 "w LIKE w", "w ILIKE upper(w)"]:
        model = expr_model(expr, True)
        assert decode(run_pg(pg, model, t), True) == decode(vm(model, t), True), expr


def big_model(n_rules: int, depth: int) -> dict:
    """Many rules, deep nesting: SQLite's parser stack and expression-depth limits."""
    deep = "x"
    for i in range(depth):
        deep = (f"CASE WHEN x > {i} THEN least({deep}, {i} + ln(x + {i + 1})) "
                f"ELSE greatest(-{i}, y) END")
    rules = [{"name": f"r{i}", "when": f"x % {i % 7 + 2} = {i % 3}",
              "points": f"{i % 11} * 0.1 + y", "cap": 5} for i in range(n_rules)]
    rules.append({"name": "deep", "points": deep})
    many = ", ".join(f"a * {k}" for k in range(2, 30))
    return {"name": "big", "as_of": "2026-11-01T00:00:00Z",
            "scores": {"a": {"rules": rules}, "b": {"expr": f"least(a, {many})"}},
            "segments": {"tier": {"bands": {"score": "a", "edges": [0, 50, 100],
                                            "labels": ["w", "x", "y", "z"]}}}}


BIG_TABLE = pa.table({"x": pa.array([None, 0, 1, 5, 40, -3], pa.int64()),
                      "y": pa.array([1.5, None, -2.0, 0.25, 3.0, float("nan")])})


@pytest.mark.parametrize("n_rules, depth", [(300, 3), (1000, 1), (20, 14)])
def test_large_and_deep_models(pg, n_rules, depth):
    model = big_model(n_rules, depth)
    check_sqlite(model, BIG_TABLE)
    check_pg(pg, model, BIG_TABLE)


# ---- quoting --------------------------------------------------------------------------------

NASTY = ['select', 'Lead Source', 'x"; DROP TABLE leads; --', "it's", 'back\\slash', "naïve ☃",
         "'); DROP TABLE leads; --", '"', "--", "/*"]


def nasty_case():
    cols = {n: pa.array([i + 1, None, -i], pa.int64()) for i, n in enumerate(NASTY)}
    cols["s'; --"] = pa.array(["it's", "a\\b", "x\"y"])
    t = pa.table(cols)
    rules = [{"name": f"r{i}", "points": f"coalesce({qi(n)}, 0) * {i + 1}"}
             for i, n in enumerate(NASTY)]
    rules.append({"name": "quoted", "when": qi("s'; --") + " IN ('it''s', 'a\\b')", "points": 100})
    model = {"name": "t", "as_of": "2026-11-01T00:00:00Z",
             "scores": {'y"; DROP TABLE leads; --': {"rules": rules},
                        "from": {"expr": qi('y"; DROP TABLE leads; --') + ' * 2 + "select"'}},
             "segments": {"Lead Source": [{"name": "o'k\"; --", "when": "\"from\" > 100"},
                                          {"name": "'); DROP TABLE leads; --"}]}}
    return model, t


def test_nasty_names_sqlite():
    model, t = nasty_case()
    check_sqlite(model, t)
    con = sqlite_connect(t)
    sql = sql_for(model, t.schema, "sqlite", include_input=True)
    con.execute(sql).fetchall()
    assert con.execute("SELECT count(*) FROM leads").fetchone() == (3,)


def test_nasty_names_postgres(pg):
    model, t = nasty_case()
    check_pg(pg, model, t)
    sql = sql_for(model, t.schema, "postgres", relation='my "leads"; --', include_input=True)
    with pg.cursor() as cur:
        cur.adbc_ingest('my "leads"; --', t, mode="replace")
        cur.execute(sql)
        out = cur.fetch_arrow_table()
    # a segmentation replaces the input column of its name
    stages = ['y"; DROP TABLE leads; --', "from", "Lead Source"]
    assert out.column_names == [n for n in t.column_names if n not in stages] + stages
    with pg.cursor() as cur:
        cur.execute('SELECT count(*) FROM "my ""leads""; --"')
        assert cur.fetchone() == (3,)


def test_names_like_the_internal_ones_do_not_clash(pg):
    t = pa.table({"_ls0": [1, 2], "_LS1": [3, 4], "fit": [5, 6], "_v0": [7.5, 8.5]})
    rules = [{"name": "r", "points": "_ls0 + _LS1"},
             {"name": "q", "points": "least(_v0 * 2, _v0 + 1)"}]
    model = {"name": "t", "scores": {"fit": {"rules": rules},
                                     "total": {"expr": "fit * 2 + ln(_v0)"}},
             "segments": {"tier": [{"name": "hi", "when": "total > 20"}]}}
    check_sqlite(model, t)
    check_pg(pg, model, t)


def test_a_column_named_like_a_score_but_for_case_stays_the_column(pg):
    """Regression (DuckDB too): the engine reads the column `total` (score names match
    exactly); DuckDB, whose names ignore case, read the score `Total` there."""
    duckdb = pytest.importorskip("duckdb")
    t = pa.table({"total": pa.array([10.0, 20.0]), "Tier": ["a", "b"]})
    model = {"name": "t", "scores": {"Total": {"rules": [{"name": "r", "points": 1}]},
                                     "after": {"expr": "total * 2"}},
             "segments": {"tier": [{"name": "x", "when": "Tier = 'a'"}, {"name": "y"}]}}
    want = {"Total": [1.0, 1.0], "after": [20.0, 40.0], "tier": ["x", "y"]}
    assert vm(model, t) == want
    con = duckdb.connect()
    con.register("leads", t)
    got = con.sql(lf.to_sql(model, t.schema)).to_arrow_table()
    assert {n: got.column(n).to_pylist() for n in got.column_names} == want
    assert run_sqlite(model, t) == want
    assert run_pg(pg, model, t) == want


def test_postgres_rejects_names_it_would_truncate():
    long = "x" * 64
    model = {"name": "t", "scores": {long: {"rules": [{"name": "r", "points": 1}]}}}
    with pytest.raises(errors.ModelError, match="at most 63"):
        lf.to_sql(model, ONE.schema, dialect="postgres")
    assert "x" * 64 in lf.to_sql(model, ONE.schema, dialect="sqlite")


def test_unknown_dialect_names_the_dialects():
    with pytest.raises(errors.ModelError, match=r"unknown SQL dialect 'oracle' \(expected one of: "
                                                r"duckdb, postgres, sqlite\)"):
        lf.to_sql(expr_model("x", False), ONE.schema, dialect="oracle")
    assert lf.to_sql(expr_model("x", False), ONE.schema) == \
        lf.to_sql(expr_model("x", False), ONE.schema, dialect="duckdb")
