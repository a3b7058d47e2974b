"""The string functions and DuckDB's case mapping, differential against DuckDB itself: every
grid expression (tests/conformance/grid_strings.py) through the interpreter, the fused kernels,
the plain-Python reference and to_sql in DuckDB, on plain and dictionary-encoded strings; the
generated Unicode table against DuckDB over every code point; random strings; compile errors;
to_sql in PostgreSQL and SQLite for the written-out functions."""
from __future__ import annotations

import datetime as dt
import random
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from conformance.grid_strings import CASES, DEPARTURES  # noqa: E402
from reference import reference_score, table_rows  # noqa: E402
from test_sql_dialects import pg, run_pg, run_sqlite  # noqa: E402,F401  (pg: the PostgreSQL fixture)

ROOT = Path(__file__).resolve().parents[1]
UTC = dt.timezone.utc

S = ['alice@gmail.com', 'Bob@Yahoo.COM', '', None, 'ΣΑΣ', 'straße', 'İstanbul', 'ΟΔΟΣ', 'ﬁle',
     '😀 emoji', '  padded  ', 'a_b%c', 'Ünïcödé', 'x@y@z', 'NULL']
T = ['gmail.com', 'yahoo.com', '', 'σας', None, 'STRASSE', 'istanbul', 'οδος', 'FILE', '😀',
     'padded', 'a\\_b%', 'unicode', 'x@y@z', 'null']


def grid_table(dictionary: bool = False) -> pa.Table:
    """The conformance harness's table (the columns the string grid reads, and j)."""
    s, t = pa.array(S, pa.string()), pa.array(T, pa.string())
    if dictionary:
        s, t = s.dictionary_encode(), t.dictionary_encode()
    j = pa.array([2, -2, 0, 3, 2, 5, None, 1, -1, 0, 7, -3, 2, 3, 1], pa.int64())
    return pa.table({"s": s, "t": t, "j": j})


def model(expr: str, kind: str) -> dict:
    """One rule whose points (num) or one segmentation whose labels (bool) carry `expr`."""
    if kind == "bool":
        seg = [{"name": "T", "when": expr}, {"name": "F", "when": f"NOT ({expr})"}, {"name": "N"}]
        return {"name": "g", "as_of": "2026-11-01T00:00:00Z",
                "scores": {"out_": {"rules": [{"name": "r", "points": 0}]}}, "segments": {"lab_": seg}}
    return {"name": "g", "as_of": "2026-11-01T00:00:00Z",
            "scores": {"out_": {"rules": [{"name": "r", "points": expr}]}},
            "segments": {"lab_": [{"name": "N", "when": f"({expr}) IS NULL"}, {"name": "V"}]}}


def decode(out: dict, kind: str) -> list:
    if kind == "bool":
        return [{"T": True, "F": False, "N": None}[v] for v in out["lab_"]]
    return [None if lab == "N" else float(x) for x, lab in zip(out["out_"], out["lab_"])]


def engine(expr: str, kind: str, table: pa.Table) -> list:
    res = lf.score(model(expr, kind), table)
    return decode({c: res[c].to_pylist() for c in ("out_", "lab_")}, kind)


def reference(expr: str, kind: str, table: pa.Table) -> list:
    return decode(reference_score(model(expr, kind), table_rows(table)), kind)


def via_sql(expr: str, kind: str, table: pa.Table, con) -> list:
    con.register("leads", table)
    try:
        sql = lf.to_sql(model(expr, kind), table.schema, relation="leads")
        res = con.sql(sql).fetchall()
        cols = [d[0] for d in con.sql(sql).description]
    finally:
        con.unregister("leads")
    return decode({c: [r[cols.index(c)] for r in res] for c in ("out_", "lab_")}, kind)


def duck(expr: str, kind: str, table: pa.Table, con) -> list:
    con.register("grid", table)
    try:
        vals = [r[0] for r in con.sql(f"SELECT {expr} FROM grid").fetchall()]
    finally:
        con.unregister("grid")
    return vals if kind == "bool" else [None if v is None else float(v) for v in vals]


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    c.execute("SET threads = 1")
    yield c
    c.close()


@pytest.fixture(params=["interpreted", "fused", "native"])
def executor(request, monkeypatch):
    if request.param == "fused":
        monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
        monkeypatch.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
        monkeypatch.delenv("LEADSCORE_FUSED", raising=False)
    else:
        monkeypatch.setenv("LEADSCORE_FUSED", "0")
        monkeypatch.setenv("LEADSCORE_EXECUTOR",
                           "native" if request.param == "native" else "interpreter")
    return request.param


@pytest.mark.parametrize("dictionary", [False, True], ids=["plain", "dict"])
def test_grid_matches_duckdb_in_every_executor(executor, dictionary, con):
    table = grid_table(dictionary)
    bad = []
    for expr, kind in CASES:
        want = duck(expr, kind, table, con)
        got = {executor: engine(expr, kind, table)}
        if executor == "interpreted":  # the executor-independent ones once
            got["reference"] = reference(expr, kind, table)
            got["to_sql"] = via_sql(expr, kind, table, con)
        bad += [f"{name}: {expr}\n  got  {g}\n  want {want}" for name, g in got.items() if g != want]
    assert not bad, "\n".join(bad)


def test_departures_give_the_documented_answer(con):
    table = grid_table()
    for expr, kind, expected in DEPARTURES:
        want = [None if v is None else float(v) for v in expected]
        assert engine(expr, kind, table) == want, expr
        assert reference(expr, kind, table) == want, expr
        with pytest.raises(duckdb.Error):
            duck(expr, kind, table, con)


def test_unicode_table_is_duckdbs():
    """engine/src/unicode_table.rs is DuckDB's lower/upper/strip_accents of every code point."""
    r = subprocess.run([sys.executable, str(ROOT / "engine/tools/gen_unicode_table.py"), "--check"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def _random_strings(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    pool = ("aAzZß ẞİıΣσςΟοΔδﬁǅǆǄÜüÖöÉé\u0301\u0308😀Kk\u212aΩω\u2126ſŉΐﬀ@._%-"
            "\u1e9e\u0130\u03a3\u1f88\u24b6\u2c2f\U0001e900Ⅻ")
    return ["".join(rng.choice(pool) for _ in range(rng.randint(0, 8))) for _ in range(n)]


@pytest.mark.parametrize("fn", ["lower", "upper", "strip_accents", "trim"])
def test_string_maps_on_random_strings(fn, con):
    """The engine's f(s) equals DuckDB's on random text: a CASE numbering DuckDB's distinct
    results must give each row the number of its own result."""
    values = _random_strings(300, seed=hash(fn) % 1000)
    table = pa.table({"w": pa.array(values)})
    con.register("r", table)
    mapped = [r[0] for r in con.sql(f"SELECT {fn}(w) FROM r").fetchall()]
    con.unregister("r")
    distinct = sorted(set(mapped))
    arms = " ".join(f"WHEN {fn}(w) = '{v.replace(chr(39), chr(39) * 2)}' THEN {k}" for k, v in enumerate(distinct))
    got = lf.score(model(f"CASE {arms} ELSE -1 END", "num"), table)["out_"].to_pylist()
    assert got == [float(distinct.index(m)) for m in mapped]
    lengths = lf.score(model(f"length({fn}(w))", "num"), table)["out_"].to_pylist()
    assert lengths == [float(len(m)) for m in mapped]


def test_ilike_on_random_strings(con):
    values = _random_strings(200, seed=7)
    pats = ["%σ%", "%Σ", "ﬁ%", "%ss%", "%ẞ%", "i%", "%k", "_%_", "%ǆ%", "%ö%"]
    table = pa.table({"w": pa.array(values)})
    con.register("r", table)
    for p in pats:
        want = [r[0] for r in con.sql(f"SELECT w ILIKE '{p}' FROM r").fetchall()]
        assert engine(f"w ILIKE '{p}'", "bool", table) == want, p
    con.unregister("r")


REGEXES = [("\\d", ""), ("\\w+", ""), ("^\\W", ""), ("\\s", ""), ("\\bk", ""), ("[[:alpha:]]{2}", ""),
           ("\\pL\\pM", ""), ("σ", "i"), ("ss|ß", "i"), ("^.$", ""), ("^.$", "s"), ("[^a]", ""), ("k", "i"),
           ("(?i)ǆ", ""), ("a.", "l"), ("^$", ""), ("[\\d@]", ""), ("\\D\\S", ""), ("x*", "")]


def test_regexp_matches_on_random_strings(con):
    values = _random_strings(200, seed=11) + ["a\nb", "٣", "k\u212a", "1@2"]
    table = pa.table({"w": pa.array(values)})
    con.register("r", table)
    try:
        for pat, opts in REGEXES:
            expr = f"regexp_matches(w, '{pat}'" + (f", '{opts}')" if opts else ")")
            want = [r[0] for r in con.sql(f"SELECT {expr} FROM r").fetchall()]
            assert engine(expr, "bool", table) == want, expr
            if "[[:" not in pat and "\\p" not in pat:  # Python's re has no POSIX or \p classes
                assert reference(expr, "bool", table) == want, expr
    finally:
        con.unregister("r")


@pytest.mark.parametrize("expr, message", [
    ("s REGEXP 'x'", "no REGEXP operator: use regexp_matches(s, pattern)"),
    ("s ~ 'x'", "no ~ operator: use regexp_matches(s, pattern)"),
    ("s !~ 'x'", "no !~ operator: use regexp_matches(s, pattern)"),
    ("s SIMILAR TO 'x'", "no SIMILAR TO operator: use regexp_matches(s, pattern)"),
    ("regexp_matches(s, t)", "regexp_matches() needs a constant pattern (a string literal)"),
    ("regexp_matches(s, 'a', t)", "regexp_matches() needs a constant options string"),
    ("regexp_matches(s, '(')", "regexp_matches(): invalid regular expression"),
    ("regexp_matches(s, 'a', 'x')", "unrecognized regex option 'x'"),
    ("regexp_matches(s, 'a', NULL)", "options must not be NULL"),
    ("s LIKE 'a#' ESCAPE '#'", "ends with its escape character '#'"),
    ("s LIKE 'a' ESCAPE 'ab'", "ESCAPE takes a string literal of one character"),
    ("s ILIKE 'a' ESCAPE 'x'", "the escape character must be one without case"),
    ("length(j)", "length() needs a string, got integer"),
    ("split_part(s, '@', 1.5)", "split_part() argument 3 needs an integer, got float"),
    ("substring(s)", "substring() takes 2 or 3 arguments, got 1"),
    ("s || 1", "'||' needs a string, got integer"),
    ("lenght(s)", "did you mean 'length'"),
])
def test_compile_errors_name_the_supported_spelling(expr, message):
    spec = {"name": "m", "scores": {"out_": {"rules": [{"name": "r", "when": f"({expr}) IS NOT NULL", "points": 1}]}}}
    with pytest.raises(lf.ModelError) as e:
        lf.compile(spec, grid_table().schema)
    text = str(e.value)
    assert message in text, text
    if "several columns" not in message:  # found after type checking: names the rule, no column
        assert "line 1, column" in text, text


# ---- to_sql in PostgreSQL and SQLite ------------------------------------------------------

# The grid cases SQLite can express: it has no regexp or strip_accents, no negative
# split_part, and its lower/upper/ILIKE fold ASCII letters only (documented).
def _sqlite_case(expr: str) -> bool:
    ascii_only = ("lower(" not in expr and "upper(" not in expr and "ILIKE" not in expr)
    return ascii_only and not any(x in expr for x in ("regexp_matches", "strip_accents", "', -"))


@pytest.mark.parametrize("expr, kind", [c for c in CASES if _sqlite_case(c[0])])
def test_sqlite_to_sql_matches_duckdb(expr, kind, con):
    table = grid_table()
    assert decode(run_sqlite(model(expr, kind), table), kind) == duck(expr, kind, table, con), \
        lf.to_sql(model(expr, kind), table.schema, relation="leads", dialect="sqlite")


@pytest.mark.parametrize("expr, message", [
    ("regexp_matches(s, 'a')", "regexp_matches() cannot be written in SQLite"),
    ("strip_accents(s) = 'a'", "strip_accents() has no SQLite built-in"),
    ("split_part(s, '@', -1) = 'a'", "negative position cannot be written in SQLite"),
])
def test_sqlite_rejects_what_it_cannot_express(expr, message):
    with pytest.raises(lf.ModelError, match="sqlite") as e:
        lf.to_sql(model(expr, "bool"), grid_table().schema, dialect="sqlite")
    assert message in str(e.value)


# PostgreSQL's ARE syntax differs from RE2 beyond the common core (documented): the grid's
# \\w and \\x patterns are left out.
def _postgres_case(expr: str) -> bool:
    return "\\w" not in expr and "\\x" not in expr


def test_postgres_to_sql_matches_duckdb(pg, con):
    table = grid_table()
    bad = []
    for expr, kind in CASES:
        if not _postgres_case(expr):
            continue
        got = decode(run_pg(pg, model(expr, kind), table), kind)
        want = duck(expr, kind, table, con)
        if got != want:
            sql = lf.to_sql(model(expr, kind), table.schema, relation="leads", dialect="postgres")
            bad.append(f"{expr}\n  got  {got}\n  want {want}\n{sql}")
    assert not bad, "\n".join(bad)
