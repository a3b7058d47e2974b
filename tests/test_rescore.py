"""rescore.py and ``leadscore rescore`` against real databases: a PostgreSQL server, SQLite and
DuckDB files. Scores written back equal ``lf.score`` of the same rows; --into, --history,
--where, names that need quoting; every user mistake is a clear error and changes nothing;
so does a failure mid-stream, a lost connection and SIGKILL mid-write; a 1,000,000-lead table
end to end."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from test_database_source import (  # noqa: F401  (db: the fixture)
    adbc_pg, assert_same_scores, db, dump, leads, load, portable, portable_model, sort_by,
    tables,
)

import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import DataError, SchemaError, TypeCheckError  # noqa: E402
from leadscore_fast.rescoring import rescore  # noqa: E402
from leadscore_fast.sources.database import DatabaseSource  # noqa: E402
from leadscore_fast.synthetic import generate_leads  # noqa: E402

OUTPUTS = ["fit", "engagement", "total", "tier", "fit_band"]
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_back(uri, table, key="lead_id", columns=None):
    cols = [key] + (columns or OUTPUTS)
    return sort_by(DatabaseSource(uri, table).read_all(cols), key)


def left(uri, *names):
    """Of ``names`` and any leadscore staging table, those the database holds (the server is
    shared by the session's tests: only these are this test's business)."""
    return {t for t in tables(uri) if t in names or t.startswith("leadscore_")}


def expected(data, model=None, as_of=None):
    return sort_by(lf.score(model or portable_model(), data, keep=["lead_id"], as_of=as_of),
                   "lead_id")


# -- writing back ------------------------------------------------------------------------------

def test_the_public_name_is_the_function():
    import leadscore_fast.rescoring  # noqa: F401  (a submodule import must not shadow it)

    assert lf.rescore is rescore and callable(lf.rescore)


def test_in_place_equals_scoring_the_rows(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    r = rescore(portable_model(), uri, table=name, key="lead_id")
    want = expected(leads)
    assert (r.rows, r.updated, r.changed) == (leads.num_rows, leads.num_rows, None)
    assert_same_scores(read_back(uri, name), want, ["lead_id"] + OUTPUTS)
    counts = pc.value_counts(want["tier"]).to_pylist()
    assert r.segments["tier"] == {c["values"]: c["counts"] for c in counts}
    kept = read_back(uri, name, columns=leads.column_names[1:])
    assert kept.equals(sort_by(DatabaseSource(uri, name).read_all(leads.column_names),
                               "lead_id"))  # the input columns are untouched
    # a rerun with the same as_of writes nothing (no row versions, no WAL) and says so
    again = rescore(portable_model(), uri, table=name, key="lead_id")
    assert (again.rows, again.updated) == (leads.num_rows, 0)
    assert left(uri, name) == {name}  # no staging table left behind


def test_into_writes_a_table_of_key_and_outputs(db, leads):
    dialect, uri, name = db
    load(uri, name, leads)  # no primary key: duplicates are looked for
    before = dump(uri, name, "lead_id")
    r = rescore(portable_model(), uri, table=name, key="lead_id", into=name + "_scores")
    assert r.updated == leads.num_rows
    got = read_back(uri, name + "_scores")
    assert got.column_names == ["lead_id"] + OUTPUTS
    assert_same_scores(got, expected(leads), ["lead_id"] + OUTPUTS)
    assert dump(uri, name, "lead_id").equals(before)  # TABLE itself is not touched
    # replaced as a whole: a smaller run leaves only its rows
    rescore(portable_model(), uri, table=name, key="lead_id", into=name + "_scores",
            where="lead_id <= 100")
    assert read_back(uri, name + "_scores")["lead_id"].to_pylist() == list(range(1, 101))
    assert left(uri, name, name + "_scores") == {name, name + "_scores"}


def test_where_rescores_only_the_matching_rows(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    r = rescore(portable_model(), uri, table=name, key="lead_id", where="country = 'US'")
    us = leads.filter(pc.equal(leads["country"], "US"))
    assert r.rows == r.updated == us.num_rows
    got = read_back(uri, name)
    scored = got.filter(pc.is_valid(got["tier"]))
    assert scored["lead_id"].to_pylist() == sorted(us["lead_id"].to_pylist())
    assert_same_scores(scored, expected(us), ["lead_id"] + OUTPUTS)


def test_history_records_the_leads_whose_segment_changed(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    hist = name + "_history"
    model = portable_model()
    first = rescore(model, uri, table=name, key="lead_id", history=hist)
    assert first.changed == leads.num_rows  # first run: every lead changed from NULL
    later = "2027-03-01T00:00:00Z"
    second = rescore(model, uri, table=name, key="lead_id", history=hist, as_of=later)
    a, b = expected(leads), expected(leads, as_of=later)
    moved = pc.or_(pc.not_equal(a["tier"].cast(pa.string()), b["tier"].cast(pa.string())),
                   pc.not_equal(a["fit_band"].cast(pa.string()),
                                b["fit_band"].cast(pa.string())))
    moved_ids = b.filter(pc.fill_null(moved, True))["lead_id"].to_pylist()
    assert 0 < second.changed == len(moved_ids) < leads.num_rows
    h = DatabaseSource(uri, hist)
    assert h.schema.names == ["lead_id", "scored_at", "model"] + OUTPUTS
    assert pa.types.is_timestamp(h.schema.field("scored_at").type)
    rows = sort_by(h.read_all(), "lead_id")
    assert rows.num_rows == leads.num_rows + len(moved_ids)
    assert set(rows["model"].to_pylist()) == {"portable"}
    last = rows.filter(pc.equal(rows["scored_at"], pc.max(rows["scored_at"])))
    assert sorted(last["lead_id"].to_pylist()) == sorted(moved_ids)
    assert_same_scores(last, b.filter(pc.fill_null(moved, True)), ["lead_id"] + OUTPUTS)


def test_history_with_into_compares_with_the_old_into_table(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    out, hist = name + "_out", name + "_hist"
    assert rescore(portable_model(), uri, table=name, key="lead_id", into=out,
                   history=hist).changed == leads.num_rows
    assert rescore(portable_model(), uri, table=name, key="lead_id", into=out,
                   history=hist).changed == 0


NASTY_TABLE = 'x"; DROP TABLE leads; --'


def test_names_that_need_quoting(db, leads):
    dialect, uri, _ = db
    data = leads.slice(0, 500).rename_columns(
        ["select" if c == "lead_id" else "Lead Source" if c == "country" else c
         for c in leads.column_names])
    load(uri, "leads", leads.slice(0, 10))  # what the nasty name would drop
    load(uri, NASTY_TABLE, data, key="select")
    model = lf.Model.from_dict({
        "name": 'it\'s "quoted"', "as_of": "2026-11-01T00:00:00Z",
        "scores": {'fit "score"': {"rules": [
            {"name": "us", "when": "\"Lead Source\" = 'US'", "points": 10},
            {"name": "size", "points": "company_size / 100", "cap": 30}]}},
        "segments": {"group": [{"name": "it's hot", "when": '"fit ""score""" >= 20'},
                               {"name": "cold"}]}})
    history = "Lead History; --"
    r = rescore(model, uri, table=NASTY_TABLE, key="select", history=history,
                where='"Lead Source" IS NOT NULL')
    assert r.rows == r.updated == r.changed == data.filter(
        pc.is_valid(data["Lead Source"])).num_rows
    got = read_back(uri, NASTY_TABLE, key="select", columns=['fit "score"', "group"])
    got = got.filter(pc.is_valid(got["group"]))
    scored = data.filter(pc.is_valid(data["Lead Source"]))
    want = sort_by(lf.score(model, scored, keep=["select"]), "select")
    assert_same_scores(got, want, ["select", 'fit "score"', "group"])
    assert "it's hot" in got["group"].to_pylist()
    assert left(uri, "leads", NASTY_TABLE, history) == {"leads", NASTY_TABLE, history}
    assert DatabaseSource(uri, history).read_all()["model"][0].as_py() == 'it\'s "quoted"'


def test_in_database_writes_the_same_scores(db, leads):
    dialect, uri, name = db
    import inspect

    if dialect != "duckdb" and "dialect" not in inspect.signature(lf.to_sql).parameters:
        pytest.skip(f"to_sql has no dialect parameter yet: no {dialect} SQL for --in-database")
    load(uri, name, leads, key="lead_id")
    r = rescore(portable_model(), uri, table=name, key="lead_id", in_database=True)
    assert r.rows == r.updated == leads.num_rows and r.in_database
    got, want = read_back(uri, name), expected(leads)
    for s in ["fit", "engagement", "total"]:  # the database's own arithmetic: to the last ulp
        assert pc.max(pc.abs(pc.subtract(got[s], want[s]))).as_py() < 1e-9
    assert_same_scores(got, want, ["tier", "fit_band"])
    assert r.segments["tier"] == {c["values"]: c["counts"] for c in
                                  pc.value_counts(want["tier"]).to_pylist()}
    # with a WHERE and history the SELECT fills a staging table first
    r = rescore(portable_model(), uri, table=name, key="lead_id", in_database=True,
                where="lead_id <= 50", history=name + "_h", as_of="2027-01-01")
    assert r.rows == 50 and r.changed is not None


def test_in_database_scores_as_of_the_time_asked_for(db, leads):
    """--in-database once wrote the SQL without as_of: the model's own as_of (or now) scored
    the rows whatever --as-of said, so its days_since differed from the in-memory path's."""
    dialect, uri, name = db
    import inspect

    if dialect != "duckdb" and "dialect" not in inspect.signature(lf.to_sql).parameters:
        pytest.skip(f"to_sql has no dialect parameter yet: no {dialect} SQL for --in-database")
    load(uri, name, leads, key="lead_id")
    later = "2028-06-01T00:00:00Z"
    want, default = expected(leads, as_of=later), expected(leads)
    assert want["engagement"] != default["engagement"]  # the time matters to this model
    rescore(portable_model(), uri, table=name, key="lead_id", in_database=True, as_of=later)
    got = read_back(uri, name)
    assert pc.max(pc.abs(pc.subtract(got["engagement"], want["engagement"]))).as_py() < 1e-9
    assert_same_scores(got, want, ["tier", "fit_band"])


# -- mistakes: clear errors, before anything is written ------------------------------------------

def _unchanged(uri, name, before):
    assert dump(uri, name, "lead_id").equals(before)


def test_user_mistakes_are_clear_and_change_nothing(db, leads):
    dialect, uri, name = db
    small = leads.slice(0, 200)
    load(uri, name, small, key="lead_id")
    before = dump(uri, name, "lead_id")
    model = portable_model()
    with pytest.raises(SchemaError, match="unknown column 'lead_idd'; did you mean 'lead_id'"):
        rescore(model, uri, table=name, key="lead_idd")
    with pytest.raises(DataError, match=f"no table '{name}_'; did you mean '{name}'"):
        rescore(model, uri, table=name + "_", key="lead_id")
    lacking = lf.Model.from_yaml_string(
        "name: m\nscores:\n  s:\n    rules:\n      - {name: r, when: industri = 'x', "
        "points: 1}\n", "lacking.yaml")
    with pytest.raises(SchemaError, match=r"lacking.yaml:5:\d+: unknown column 'industri' "
                                          r"\(did you mean 'industry'\?\)"):
        rescore(lacking, uri, table=name, key="lead_id")
    wrong_type = lf.Model.from_yaml_string(
        "name: m\nscores:\n  s:\n    rules:\n      - {name: r, when: industry > 5, "
        "points: 1}\n", "typed.yaml")
    with pytest.raises(TypeCheckError, match="typed.yaml"):
        rescore(wrong_type, uri, table=name, key="lead_id")
    with pytest.raises(SchemaError, match="another table"):
        rescore(model, uri, table=name, key="lead_id", into=name)
    _unchanged(uri, name, before)
    assert left(uri, name, name + "_") == {name}


def test_duplicate_and_null_keys_are_named(db, leads):
    dialect, uri, name = db
    dup = pa.concat_tables([leads.slice(0, 100), leads.slice(41, 1)])
    load(uri, name, dup)
    before = dump(uri, name, "lead_id")
    with pytest.raises(DataError, match="key column 'lead_id' is not unique: 42 appears 2 "
                                        "times"):
        rescore(portable_model(), uri, table=name, key="lead_id")
    with pytest.raises(DataError, match="not unique"):
        rescore(portable_model(), uri, table=name, key="lead_id", into=name + "_s")
    _unchanged(uri, name, before)
    nulls = leads.slice(0, 50).set_column(0, "lead_id", pa.array([None] + list(range(2, 51)),
                                                                 pa.int64()))
    load(uri, name + "_n", nulls)
    with pytest.raises(DataError, match="key column 'lead_id' is NULL in some rows"):
        rescore(portable_model(), uri, table=name + "_n", key="lead_id")
    assert left(uri, name, name + "_s", name + "_n") == {name, name + "_n"}


def test_an_existing_output_column_of_another_type_is_refused(db, leads):
    dialect, uri, name = db
    data = leads.slice(0, 20).append_column("tier", pa.array(range(20), pa.int64()))
    load(uri, name, data, key="lead_id")
    with pytest.raises(SchemaError, match="column 'tier' exists as int64, but the model "
                                          "writes text"):
        rescore(portable_model(), uri, table=name, key="lead_id")
    with pytest.raises(SchemaError, match="key column 'tier' has the name of a model output"):
        rescore(portable_model(), uri, table=name, key="tier")


def test_unreachable_server_is_one_clear_error():
    with pytest.raises(DataError, match="127.0.0.1:1/postgres: cannot connect"):
        rescore(portable_model(), "postgresql://postgres@127.0.0.1:1/postgres", table="t",
                key="k")


# -- failures part-way: nothing changes ----------------------------------------------------------

def test_a_failure_mid_stream_changes_nothing(db, leads):
    dialect, uri, name = db
    load(uri, name, leads, key="lead_id")
    before = dump(uri, name, "lead_id")
    seen = []

    def fail_on_second_batch(rows):
        seen.append(rows)
        if len(seen) == 2:
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError, match="boom"):
        rescore(portable_model(), uri, table=name, key="lead_id", batch_rows=1000,
                history=name + "_h", progress=fail_on_second_batch)
    _unchanged(uri, name, before)
    assert left(uri, name, name + "_h") == {name}


def test_a_bad_value_mid_table_changes_nothing(tmp_path, leads):
    """SQLite: a REAL column holding text far into the table (the driver's type error comes
    mid-stream) is a DataError naming the column, and nothing is written."""
    uri = f"sqlite:///{tmp_path}/bad.db"
    import adbc_driver_sqlite.dbapi as lite

    lite.connect(f"{tmp_path}/bad.db").close()
    load(uri, "leads", leads, key="lead_id")
    with lite.connect(f"{tmp_path}/bad.db") as c, c.cursor() as cur:
        cur.execute("UPDATE leads SET annual_revenue = 'lots' WHERE lead_id = 4000")
        c.commit()
    before = dump(uri, "leads", "lead_id")
    with pytest.raises(DataError, match=r"column 'annual_revenue' \(declared REAL\)"):
        rescore(portable_model(), uri, table="leads", key="lead_id", batch_rows=1000)
    _unchanged(uri, "leads", before)


def test_a_lost_connection_changes_nothing(postgres_uri, leads):
    name = f"leads_{uuid.uuid4().hex[:8]}"
    load(postgres_uri, name, leads, key="lead_id")
    before = dump(postgres_uri, name, "lead_id")

    cut = []

    def cut_the_writer(rows):  # once the writer's COPY runs, terminate its backend
        if not cut:
            with adbc_pg.connect(postgres_uri) as c, c.cursor() as cur:
                cur.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                            "WHERE query LIKE 'COPY %\"leadscore_staging%' "
                            "AND pid <> pg_backend_pid()")
                cut.extend(r[0] for r in cur.fetchall() if r[0])
    with pytest.raises(DataError, match="nothing was written"):
        rescore(portable_model(), postgres_uri, table=name, key="lead_id", batch_rows=500,
                progress=cut_the_writer)
    assert cut == [1]
    _unchanged(postgres_uri, name, before)


# -- SIGKILL mid-write ---------------------------------------------------------------------------

def _cli_argv(model, uri, table, *extra):
    """``leadscore rescore`` in a process of its own."""
    code = ("from leadscore_fast.cli import main\n"
            "import sys\n"
            "main(['rescore'] + sys.argv[1:])\n")
    return [sys.executable, "-c", code, model, "--db", uri, "--table", table, "--key",
            "lead_id", "-q", *extra]


def _kill_when(argv, ready, timeout=60.0):
    """Start ``argv``, SIGKILL it as soon as ``ready()`` is true; False if it ended first."""
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            if ready():
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.005)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


@pytest.fixture(scope="module")
def big_leads():
    return generate_leads(60_000, seed=5)


@pytest.mark.parametrize("pattern,extra", [
    ('COPY %"leadscore_staging%', []),                  # bulk-loading the scored rows
    ('UPDATE % FROM "leadscore_staging%', []),         # the UPDATE ... FROM staging
    ('COPY %"leadscore_new%', ["--into", "scores"])],   # loading the new INTO table
    ids=["loading", "updating", "loading-into"])
def test_sigkill_mid_write_leaves_postgres_untouched(postgres_uri, big_leads, pattern, extra):
    name = f"leads_{uuid.uuid4().hex[:8]}"
    load(postgres_uri, name, big_leads, key="lead_id")
    before, tables_before = dump(postgres_uri, name, "lead_id"), tables(postgres_uri)
    with adbc_pg.connect(postgres_uri, autocommit=True) as watch:
        def writing():
            with watch.cursor() as cur:
                cur.execute("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                            f"AND query LIKE '{pattern}' AND pid <> pg_backend_pid()")
                return cur.fetchone()[0] > 0
        argv = _cli_argv(os.path.join(ROOT, "examples", "b2b_inbound.yaml"), postgres_uri,
                         name, *extra)
        assert _kill_when(argv, writing), \
            f"the rescore ended before {pattern}"
    _unchanged(postgres_uri, name, before)  # waits for the server to roll back, if need be
    assert tables(postgres_uri) == tables_before


def test_sigkill_mid_write_leaves_sqlite_untouched(tmp_path, big_leads):
    path = tmp_path / "kill.db"
    import adbc_driver_sqlite.dbapi as lite

    lite.connect(str(path)).close()
    uri = f"sqlite:///{path}"
    load(uri, "leads", portable(big_leads), key="lead_id")
    before = dump(uri, "leads", "lead_id")
    journal = f"{path}-journal"  # exists while a transaction writes the database file
    argv = _cli_argv(_write_model(tmp_path), uri, "leads")
    assert _kill_when(argv, lambda: os.path.exists(journal)), "the rescore never wrote"
    assert os.path.exists(journal)  # a hot journal: the next reader rolls it back
    _unchanged(uri, "leads", before)


def test_sigkill_mid_stream_leaves_duckdb_untouched(tmp_path, big_leads):
    path = tmp_path / "kill.duckdb"
    import duckdb

    duckdb.connect(str(path)).close()
    uri = f"duckdb:///{path}"
    load(uri, "leads", big_leads, key="lead_id")
    before = dump(uri, "leads", "lead_id")
    mark = tmp_path / "streaming"
    script = ("import sys, time, pathlib\nimport leadscore_fast as lf\n"
              "def slow(rows):\n"
              f"    pathlib.Path({str(mark)!r}).touch()\n"
              "    time.sleep(0.5)\n"
              f"lf.rescore(sys.argv[1], {uri!r}, table='leads', key='lead_id', "
              "batch_rows=10000, history='h', progress=slow)\n")
    argv = [sys.executable, "-c", script, os.path.join(ROOT, "examples", "b2b_inbound.yaml")]
    assert _kill_when(argv, mark.exists), "the rescore never streamed"
    _unchanged(uri, "leads", before)
    assert tables(uri) == {"leads"}


def _write_model(tmp_path) -> str:
    from test_database_source import PORTABLE_MODEL

    path = tmp_path / "portable.yaml"
    path.write_text(PORTABLE_MODEL)
    return str(path)


# -- the command line ----------------------------------------------------------------------------

def test_cli_summary_json_and_errors(tmp_path, leads):
    import json

    from click.testing import CliRunner

    from leadscore_fast.cli_rescore import rescore_cmd

    path = tmp_path / "cli.db"
    import adbc_driver_sqlite.dbapi as lite

    lite.connect(str(path)).close()
    uri = f"sqlite:///{path}"
    load(uri, "leads", leads, key="lead_id")
    model = _write_model(tmp_path)
    runner = CliRunner()
    done = runner.invoke(rescore_cmd, [model, "--db", uri, "--table", "leads", "--key",
                                       "lead_id", "--history", "moves"])
    assert done.exit_code == 0, done.output
    assert f"rescored {leads.num_rows:,} rows of {uri} table 'leads'" in done.output
    assert f"history: {leads.num_rows:,} leads changed segment" in done.output
    assert "tier" in done.output and "hot" in done.output
    done = runner.invoke(rescore_cmd, [model, "--db", uri, "--table", "leads", "--key",
                                       "lead_id", "--into", "scores", "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["rows"] == summary["updated"] == leads.num_rows
    assert summary["into"] == "scores" and summary["model"] == "portable"
    assert {s["label"] for s in summary["segments"]["tier"]} == {"hot", "warm", "cold"}
    for args, message in [
            (["--key", "lead_idd"], "unknown column 'lead_idd'; did you mean 'lead_id'?"),
            (["--key", "lead_id", "--db", f"sqlite:///{tmp_path}/none.db"],
             "no such database file"),
            (["--key", "lead_id", "--where", "nonsense ("], "cannot read")]:
        argv = [model, "--db", uri, "--table", "leads", *args]
        done = runner.invoke(rescore_cmd, argv)
        assert done.exit_code == 2, done.output
        assert message in done.output and "Traceback" not in done.output
        assert len(done.output.strip().splitlines()) == 1, done.output


# -- a million leads -----------------------------------------------------------------------------

def test_a_million_leads_end_to_end(postgres_uri, tmp_path):
    """1,000,000 leads in PostgreSQL rescored end to end (--into: the fastest write): the
    scores equal scoring the same rows from a Parquet file."""
    import pyarrow.parquet as pq

    data = portable(generate_leads(1_000_000, seed=3))
    pq.write_table(data, tmp_path / "leads.parquet")
    model = portable_model()
    want = lf.score(model, str(tmp_path / "leads.parquet"), keep=["lead_id"])
    name = f"million_{uuid.uuid4().hex[:8]}"
    load(postgres_uri, name, data, key="lead_id")
    r = rescore(model, postgres_uri, table=name, key="lead_id", into=name + "_scores")
    assert r.rows == r.updated == 1_000_000
    assert r.segments["tier"] == {c["values"]: c["counts"] for c in
                                  pc.value_counts(want["tier"]).to_pylist()}
    assert_same_scores(read_back(postgres_uri, name + "_scores"), want,
                       ["lead_id"] + OUTPUTS)


# -- schemas -----------------------------------------------------------------------------------

def _sql(uri: str, *statements) -> None:
    if uri.startswith("postgresql"):
        with adbc_pg.connect(uri) as c, c.cursor() as cur:
            for s in statements:
                cur.execute(s)
            c.commit()
    else:
        import duckdb

        con = duckdb.connect(uri[len("duckdb:///"):])
        try:
            for s in statements:
                con.execute(s)
        finally:
            con.close()


def _in_schema(uri: str, schema: str, table: str, data: pa.Table, key: str) -> None:
    """``data`` as ``schema``.``table`` (created with the drivers' own bulk paths)."""
    q = lambda n: '"' + n.replace('"', '""') + '"'  # noqa: E731
    _sql(uri, f"CREATE SCHEMA IF NOT EXISTS {q(schema)}")
    if uri.startswith("postgresql"):
        with adbc_pg.connect(uri) as c, c.cursor() as cur:
            cur.adbc_ingest(table, data, mode="create", db_schema_name=schema)
            cur.execute(f"ALTER TABLE {q(schema)}.{q(table)} ADD PRIMARY KEY ({q(key)})")
            c.commit()
    else:
        import duckdb

        con = duckdb.connect(uri[len("duckdb:///"):])
        try:
            con.register("leadscore_test_data", data)
            con.execute(f"CREATE TABLE {q(schema)}.{q(table)} AS "
                        "SELECT * FROM leadscore_test_data")
        finally:
            con.close()


def test_a_table_in_a_schema_in_place_into_and_history(db, leads):
    """--schema names the schema of TABLE, --into and --history; each part is quoted on its
    own, so a schema called ``crm.v2`` is one name (not schema ``crm``, table ``v2``); a
    same-named table in the default schema is left alone."""
    dialect, uri, name = db
    if dialect == "sqlite":
        with pytest.raises(DataError, match="SQLite has no schemas"):
            rescore(portable_model(), uri, table=name, key="lead_id", schema="main")
        return
    schema = f"crm.v2 {name}"
    data = leads.slice(0, 800)
    _in_schema(uri, schema, name, data, "lead_id")
    load(uri, name, leads.slice(0, 10), key="lead_id")  # the default schema's namesake
    ref = f"{schema}.{name}"

    r = rescore(portable_model(), uri, table=name, key="lead_id", schema=schema,
                history="moves")
    assert (r.table, r.history, r.rows, r.updated) == (ref, f"{schema}.moves", 800, 800)
    got = sort_by(DatabaseSource(uri, name, schema=schema).read_all(["lead_id"] + OUTPUTS),
                  "lead_id")
    assert_same_scores(got, expected(data), ["lead_id"] + OUTPUTS)
    assert DatabaseSource(uri, "moves", schema=schema).read_all().num_rows == 800
    assert "fit" not in DatabaseSource(uri, name).schema.names  # the namesake is untouched

    r = rescore(portable_model(), uri, table=name, key="lead_id", schema=schema,
                into="scores")
    assert r.into == f"{schema}.scores"
    got = sort_by(DatabaseSource(uri, "scores", schema=schema).read_all(), "lead_id")
    assert_same_scores(got, expected(data), ["lead_id"] + OUTPUTS)
    assert left(uri, name) == {name}  # nothing new in the default schema, no staging left


def test_a_dotted_table_name_suggests_the_schema_option(db):
    dialect, uri, name = db
    if dialect == "sqlite":
        pytest.skip("SQLite has no schemas")
    with pytest.raises(DataError, match=r"--schema crm --table leads"):
        rescore(portable_model(), uri, table="crm.leads", key="lead_id")
    with pytest.raises(DataError, match=r"no table 'nowhere_[0-9a-f]+\.leads'"):
        rescore(portable_model(), uri, table="leads", key="lead_id",
                schema=f"nowhere_{uuid.uuid4().hex[:6]}")


def test_cli_schema_option(tmp_path, leads):
    import duckdb  # noqa: F401

    from click.testing import CliRunner

    from leadscore_fast.cli import main

    path = tmp_path / "leads.duckdb"
    duckdb.connect(str(path)).close()
    uri = f"duckdb:///{path}"
    _in_schema(uri, "crm", "leads", leads.slice(0, 300), "lead_id")
    model = _write_model(tmp_path)
    r = CliRunner().invoke(main, ["rescore", model, "--db", uri, "--schema", "crm",
                                  "--table", "leads", "--key", "lead_id", "--json"])
    assert r.exit_code == 0, r.output
    assert '"table": "crm.leads"' in r.output
    got = sort_by(DatabaseSource(uri, "leads", schema="crm").read_all(), "lead_id")
    assert_same_scores(got, expected(leads.slice(0, 300)), ["lead_id"] + OUTPUTS)
