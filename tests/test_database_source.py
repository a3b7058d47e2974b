"""sources/database.py against real databases: a PostgreSQL server (tests/postgres_server.py),
SQLite and DuckDB files. Reading a table scores the same as the same rows in Arrow; SQLite's
declared types are read as PostgreSQL's; names are quoted; errors name the thing.

The helpers here (``load``, ``dump``, ``portable``, the ``db`` fixture) are shared with
tests/test_rescore.py."""
from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
adbc_sqlite = pytest.importorskip("adbc_driver_sqlite.dbapi")
adbc_pg = pytest.importorskip("adbc_driver_postgresql.dbapi")
duckdb = pytest.importorskip("duckdb")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import DataError, SchemaError  # noqa: E402
from leadscore_fast.sources.database import (  # noqa: E402
    DatabaseSource, _DuckDB, _Postgres, _SQLite, connect,
)
from leadscore_fast.synthetic import generate_leads  # noqa: E402

DIALECTS = ["postgres", "sqlite", "duckdb"]
# b2b_inbound without its list rule (SQLite has no lists): bools, a date, a timestamp, ints,
# floats, strings, LIKE, decay.
PORTABLE_MODEL = """
name: portable
as_of: 2026-11-01T00:00:00Z
scores:
  fit:
    range: [0, 100]
    rules:
      - { name: target, when: "industry IN ('software', 'fintech', 'biotech')", points: 20 }
      - { name: mid, when: company_size BETWEEN 50 AND 5000, points: 15 }
      - { name: boss, when: "job_title LIKE 'Head of %' OR job_title = 'CEO'", points: 20 }
      - { name: revenue, when: annual_revenue > 0, points: ln(annual_revenue / 100000) * 3,
          floor: 0, cap: 15 }
      - { name: free mail, when: email_domain_free, points: -15 }
  engagement:
    range: [0, 100]
    rules:
      - { name: pricing, points: 5 * pricing_visits, cap: 25 }
      - { name: webinar, when: webinar_attended, points: 15 }
      - { name: recent, points: "decay(30, days_since(last_activity_at), 14)" }
      - { name: new, when: days_since(created_at) <= 30, points: 5 }
      - { name: unsubscribed, when: unsubscribed, points: -40 }
  total:
    expr: 0.6 * fit + 0.4 * engagement
segments:
  tier:
    - { name: hot, when: total >= 40 }
    - { name: warm, when: total >= 25 }
    - { name: cold }
  fit_band:
    bands: { score: fit, edges: [30, 60], labels: [low, medium, high] }
"""


def portable_model():
    return lf.Model.from_yaml_string(PORTABLE_MODEL, "portable.yaml")


def portable(t: pa.Table) -> pa.Table:
    """``t`` without list columns and with plain strings (what every database stores)."""
    t = t.select([f.name for f in t.schema if not pa.types.is_list(f.type)])
    return t.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                             for f in t.schema]))


_SQLITE_DECL = {"int64": "INTEGER", "int32": "INTEGER", "int16": "INTEGER", "double": "REAL",
                "string": "TEXT", "bool": "BOOLEAN", "date32[day]": "DATE",
                "timestamp[us, tz=UTC]": "TIMESTAMP"}


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def load(uri: str, table: str, data: pa.Table, *, key: str | None = None) -> None:
    """Create ``table`` holding ``data`` (``key``: its primary key) the way each database's
    users would: PostgreSQL and DuckDB typed from Arrow, SQLite with declared types."""
    if uri.startswith("postgresql"):
        with adbc_pg.connect(uri) as c, c.cursor() as cur:
            cur.adbc_ingest(table, data, mode="create")
            if key:
                cur.execute(f"ALTER TABLE {q(table)} ADD PRIMARY KEY ({q(key)})")
            c.commit()
    elif uri.startswith("sqlite"):
        cols = ", ".join(f"{q(f.name)} {_SQLITE_DECL[str(f.type)]}"
                         + (" PRIMARY KEY" if f.name == key else "") for f in data.schema)
        with adbc_sqlite.connect(uri[len("sqlite:///"):]) as c, c.cursor() as cur:
            cur.execute(f"CREATE TABLE {q(table)} ({cols})")
            cur.adbc_ingest(table, data, mode="append")
            c.commit()
    else:
        con = duckdb.connect(uri[len("duckdb:///"):])
        try:
            con.register("leadscore_test_data", data)
            con.execute(f"CREATE TABLE {q(table)} AS SELECT * FROM leadscore_test_data")
            con.unregister("leadscore_test_data")
            if key:
                con.execute(f"ALTER TABLE {q(table)} ADD PRIMARY KEY ({q(key)})")
        finally:
            con.close()


def dump(uri: str, table: str, order: str) -> pa.Table:
    """Every row and column of ``table``, ordered, exactly as stored (SQLite: the stored
    values and their storage classes, through the standard library's sqlite3)."""
    sql = f"SELECT * FROM {q(table)} ORDER BY {q(order)}"
    if uri.startswith("postgresql"):
        with adbc_pg.connect(uri) as c, c.cursor() as cur:
            cur.execute(sql)
            return cur.fetch_arrow_table()
    if uri.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(uri[len("sqlite:///"):])
        try:
            cols = con.execute("SELECT name, type FROM pragma_table_info(?)", (table,)).fetchall()
            # quote() writes each value with its storage class: 1, 1.0, '1', X'01', NULL
            row = " || ',' || ".join(f"quote({q(c[0])})" for c in cols)
            rows = con.execute(f"SELECT {row} FROM {q(table)} ORDER BY {q(order)}")
            return pa.table({"row": [r[0] for r in rows]}).replace_schema_metadata(
                {"columns": repr(cols)})
        finally:
            con.close()
    con = duckdb.connect(uri[len("duckdb:///"):])
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.close()


def tables(uri: str) -> set[str]:
    """The tables of the database (to check nothing was left behind)."""
    if uri.startswith("postgresql"):
        with adbc_pg.connect(uri) as c, c.cursor() as cur:
            cur.execute("SELECT relname FROM pg_class WHERE relkind = 'r' AND relnamespace = "
                        "'public'::regnamespace")
            return {r[0] for r in cur.fetchall()}
    if uri.startswith("sqlite"):
        import sqlite3

        con = sqlite3.connect(uri[len("sqlite:///"):])
        try:
            return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE "
                                              "type = 'table'")}
        finally:
            con.close()
    con = duckdb.connect(uri[len("duckdb:///"):])
    try:
        return {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables")
                .fetchall()}
    finally:
        con.close()


@pytest.fixture(params=DIALECTS)
def db(request, tmp_path):
    """(dialect, uri, a fresh table name): PostgreSQL (the session's server), or a new SQLite
    or DuckDB file."""
    name = f"leads_{uuid.uuid4().hex[:8]}"
    if request.param == "postgres":
        return "postgres", request.getfixturevalue("postgres_uri"), name
    if request.param == "sqlite":
        path = tmp_path / "leads.db"
        adbc_sqlite.connect(str(path)).close()
        return "sqlite", f"sqlite:///{path}", name
    path = tmp_path / "leads.duckdb"
    duckdb.connect(str(path)).close()
    return "duckdb", f"duckdb:///{path}", name


@pytest.fixture(scope="module")
def leads():
    return portable(generate_leads(5_000, seed=11))


def sort_by(t: pa.Table, key: str) -> pa.Table:
    return t.take(pa.compute.sort_indices(t, [(key, "ascending")]))


def assert_same_scores(got: pa.Table, want: pa.Table, names) -> None:
    for n in names:
        a, b = got.column(n), want.column(n)
        if pa.types.is_floating(b.type):
            assert np.array_equal(a.to_numpy(zero_copy_only=False),
                                  b.to_numpy(zero_copy_only=False), equal_nan=True), n
        else:
            assert a.cast(pa.string()).equals(b.cast(pa.string())), n


# -- quoting -----------------------------------------------------------------------------------

@pytest.mark.parametrize("cls", [_Postgres, _SQLite, _DuckDB])
def test_names_are_quoted_per_dialect(cls):
    c = cls("x://", None)
    assert c.quote("select") == '"select"'
    assert c.quote("Lead Source") == '"Lead Source"'
    assert c.quote('x"; DROP TABLE leads; --') == '"x""; DROP TABLE leads; --"'
    assert c.literal("it's") in ("'it''s'", "E'it''s'")
    with pytest.raises((SchemaError, DataError)):
        c.quote("a\x00b")


def test_postgres_literals_and_long_names():
    c = _Postgres("postgresql://u:secret@h/db", None)
    assert c.uri == "postgresql://u:***@h/db"  # messages never show the password
    assert c.literal("a\\'b") == "E'a\\\\''b'"  # the same under any standard_conforming_strings
    with pytest.raises(SchemaError, match="63 bytes"):  # PostgreSQL would truncate it
        c.quote("x" * 64)


# -- reading -----------------------------------------------------------------------------------

def test_scoring_a_table_equals_scoring_the_rows(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    src = DatabaseSource(uri, name)
    assert src.reopenable and src.num_rows() == leads.num_rows
    assert src.schema.names == leads.column_names
    model = portable_model()
    got = sort_by(lf.score(model, src, keep=["lead_id"]), "lead_id")
    want = lf.score(model, leads, keep=["lead_id"])
    assert_same_scores(got, want, ["lead_id", "fit", "engagement", "total", "tier", "fit_band"])


def test_reads_only_the_columns_asked_for(db, leads):
    dialect, uri, name = db
    load(uri, name, leads.slice(0, 100))
    src = DatabaseSource(uri, name, where="company_size > 100", batch_rows=16)
    batches = list(src.batches(["country", "lead_id"]))
    assert all(b.schema.names == ["country", "lead_id"] for b in batches)
    rows = pa.Table.from_batches(batches)
    want = leads.slice(0, 100).filter(pa.compute.greater(leads.slice(0, 100)["company_size"],
                                                         100))
    assert sorted(rows["lead_id"].to_pylist()) == want["lead_id"].to_pylist()
    assert src.num_rows() == want.num_rows
    with pytest.raises(SchemaError, match="did you mean 'country'"):
        list(src.batches(["countri"]))


def test_sqlite_reads_declared_types_like_postgres(tmp_path):
    path = tmp_path / "typed.db"
    with adbc_sqlite.connect(str(path)) as c, c.cursor() as cur:
        cur.execute('CREATE TABLE t (id INTEGER, ok BOOLEAN, day DATE, at TIMESTAMP, '
                    'seen DATETIME, amount NUMERIC(10, 2), n INT, name VARCHAR(20), x)')
        cur.execute("INSERT INTO t VALUES (1, 1, '2024-03-01', '2024-03-01 10:20:30', "
                    "'2024-03-01T10:20:30.123456Z', 12.5, 3, 'a', 'q'), "
                    "(2, 0, date('2024-02-29'), datetime('2024-03-01 10:20:30', '+1 hour'), "
                    "'2024-03-01 12:20:30+02:00', 7, NULL, NULL, NULL), "
                    "(3, NULL, NULL, NULL, '2024-03-01', NULL, 4, 'b', 1)")
        c.commit()
    src = DatabaseSource(f"sqlite:///{path}", "t")
    utc = pa.timestamp("us", tz="UTC")
    assert [str(t) for t in src.schema.types] == [
        "int64", "bool", "date32[day]", str(utc), str(utc), "double", "int64", "string",
        "string"]
    got = src.read_all().to_pydict()
    tz = dt.timezone.utc
    assert got["ok"] == [True, False, None]
    assert got["day"] == [dt.date(2024, 3, 1), dt.date(2024, 2, 29), None]
    assert [v and v.astimezone(tz) for v in got["at"]] == [
        dt.datetime(2024, 3, 1, 10, 20, 30, tzinfo=tz),
        dt.datetime(2024, 3, 1, 11, 20, 30, tzinfo=tz), None]
    assert [v.astimezone(tz) for v in got["seen"]] == [
        dt.datetime(2024, 3, 1, 10, 20, 30, 123456, tzinfo=tz),
        dt.datetime(2024, 3, 1, 10, 20, 30, tzinfo=tz), dt.datetime(2024, 3, 1, tzinfo=tz)]
    assert got["amount"] == [12.5, 7.0, None] and got["x"] == ["q", None, "1"]


def test_sqlite_table_scores_like_the_same_postgres_table(postgres_uri, tmp_path, leads):
    name = f"leads_{uuid.uuid4().hex[:8]}"
    path = tmp_path / "same.db"
    adbc_sqlite.connect(str(path)).close()
    load(postgres_uri, name, leads)
    load(f"sqlite:///{path}", name, leads)
    pg, lite = DatabaseSource(postgres_uri, name), DatabaseSource(f"sqlite:///{path}", name)
    assert lite.schema.equals(pa.schema([pa.field(f.name, pa.int64() if pa.types.is_integer(
        f.type) else f.type) for f in pg.schema]))  # SQLite integers are all 64-bit
    model = portable_model()
    a = sort_by(lf.score(model, pg, keep=["lead_id"]), "lead_id")
    b = sort_by(lf.score(model, lite, keep=["lead_id"]), "lead_id")
    assert_same_scores(a, b, ["lead_id", "fit", "engagement", "total", "tier", "fit_band"])


def test_sqlite_every_batch_has_the_declared_types(tmp_path):
    """The driver infers types per batch: all-NULL first rows once made int64 and then failed
    on a REAL. The pinning first row and the per-batch conversion keep the declared ones."""
    path = tmp_path / "nulls.db"
    with adbc_sqlite.connect(str(path)) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BOOLEAN, d DATE)")
        cur.execute("WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n "
                    "WHERE k < 40) INSERT INTO t SELECT CASE WHEN k > 20 THEN k END, "
                    "CASE WHEN k > 20 THEN k * 1.5 END, CASE WHEN k > 20 THEN k END, "
                    "CASE WHEN k > 20 THEN k % 2 END, CASE WHEN k > 20 THEN "
                    "date('2024-01-01', '+' || k || ' days') END FROM n")
        c.commit()
    src = DatabaseSource(f"sqlite:///{path}", "t", batch_rows=4)
    batches = list(src.batches())
    assert len(batches) > 9 and sum(b.num_rows for b in batches) == 40
    assert all(b.schema.equals(src.schema) for b in batches)
    t = pa.Table.from_batches(batches)
    assert t["r"].to_pylist()[20:22] == [31.5, 33.0] and t["s"].to_pylist()[20] == "21"
    assert t["b"].to_pylist()[20:22] == [True, False]


def test_sqlite_values_of_another_type_are_named(tmp_path):
    path = tmp_path / "bad.db"
    with adbc_sqlite.connect(str(path)) as c, c.cursor() as cur:
        cur.execute("CREATE TABLE t (id INTEGER, r REAL, i INTEGER, ok INTEGER)")
        cur.execute("INSERT INTO t VALUES (1, 1.0, 1, 1), (2, 'abc', 2.5, 2)")
        c.commit()
    src = DatabaseSource(f"sqlite:///{path}", "t")
    with pytest.raises(DataError, match=r"column 'r' \(declared REAL\)"):
        src.read_all(["id", "r"])
    with pytest.raises(DataError, match=r"column 'i' \(declared INTEGER\)"):
        src.read_all(["i"])
    assert src.read_all(["ok", "id"]).num_rows == 2  # the bad columns are not read


# -- errors ------------------------------------------------------------------------------------

def test_missing_tables_are_named_with_a_suggestion(db, leads):
    dialect, uri, name = db
    load(uri, name, leads.slice(0, 10))
    with pytest.raises(DataError, match=f"no table '{name}x'; did you mean '{name}'"):
        DatabaseSource(uri, name + "x")


def test_unreachable_databases_are_named():
    with pytest.raises(DataError, match=r"postgresql://u:\*\*\*@127.0.0.1:1/db: cannot connect"):
        DatabaseSource("postgresql://u:pw@127.0.0.1:1/db", "leads")
    with pytest.raises(DataError, match="not a database URI"):
        DatabaseSource("mysql://h/db", "leads")


@pytest.mark.parametrize("scheme", ["sqlite", "duckdb"])
def test_a_missing_database_file_is_not_created(tmp_path, scheme):
    path = tmp_path / "nope.db"
    with pytest.raises(DataError, match="no such database file"):
        DatabaseSource(f"{scheme}:///{path}", "leads")
    assert not path.exists()


def test_a_bad_where_is_reported_when_read(db, leads):
    dialect, uri, name = db
    load(uri, name, leads.slice(0, 10))
    src = DatabaseSource(uri, name, where="no_such_column > 1")
    with pytest.raises(DataError, match=f"table '{name}': cannot read"):
        src.read_all(["lead_id"])


def test_connect_runs_statements_in_one_transaction(db, leads):
    dialect, uri, name = db
    load(uri, name, leads.slice(0, 10))
    with connect(uri) as c:
        c.begin()
        assert c.execute(f"UPDATE {q(name)} SET company_size = 1") == 10
        c.rollback()
    assert DatabaseSource(uri, name).read_all(["company_size"])["company_size"].to_pylist() \
        == leads.slice(0, 10)["company_size"].to_pylist()
