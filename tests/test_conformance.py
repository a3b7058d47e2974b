"""The conformance grid: every operator and function of the language, evaluated by DuckDB itself
(``SELECT <expr> FROM t``: the contract) and by every way the engine runs a model — the bytecode
interpreter, the fused kernels, the native executor, ``to_sql`` run by DuckDB and by SQLite — and by the plain-Python
reference. Strings are tried plain and dictionary-encoded.

The grids are ``tests/conformance/grid_*.py``: ``CASES`` is a list of ``(expr, kind)`` with kind
``"bool"`` or ``"num"``, valid SQL for DuckDB (with division by zero giving NULL, see
``_duck``) over ``conformance/table.py``'s columns;
``DEPARTURES`` is a list of ``(expr, kind, expected)`` where the engine deliberately answers
otherwise than DuckDB (DuckDB raises an error: int64 overflow, a failed cast), with the
engine's documented answer. Each grid becomes one model (a score and a segmentation per case),
so it compiles, and fuses, once.
"""
from __future__ import annotations

import importlib.util
import math
import re
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from conformance.table import COLUMNS, ROWS, conformance_table  # noqa: E402
from test_differential import ref  # noqa: E402
from test_sql_dialects import run_sqlite  # noqa: E402

GRID_DIR = Path(__file__).parent / "conformance"
GRIDS = sorted(GRID_DIR.glob("grid_*.py"))
AS_OF = "2026-11-01T00:00:00Z"
# results that go through libm (exp, ln, pow, ...) may differ from DuckDB's in the last bits
INEXACT = re.compile(r"\b(exp|ln|log10|log2|log|pow|power|sqrt|decay)\s*\(", re.I)


def load_grid(path: Path):
    spec = importlib.util.spec_from_file_location(f"conformance_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return list(mod.CASES), list(getattr(mod, "DEPARTURES", []))


def _grid_attr(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(f"conformance_{path.stem}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, name, None)


def grid_model(cases) -> dict:
    """One score ``n<k>`` and one segmentation ``z<k>`` per case: a number's value is the score,
    its NULL the label N; a boolean's TRUE / FALSE / NULL are the labels T / F / N."""
    scores, segments = {}, {}
    for k, (expr, kind) in enumerate(cases):
        if kind == "bool":
            scores[f"n{k}"] = {"rules": [{"name": "r", "points": 0}]}
            segments[f"z{k}"] = [{"name": "T", "when": expr},
                                 {"name": "F", "when": f"NOT ({expr})"}, {"name": "N"}]
        elif kind == "num":
            scores[f"n{k}"] = {"rules": [{"name": "r", "points": expr}]}
            segments[f"z{k}"] = [{"name": "N", "when": f"({expr}) IS NULL"}, {"name": "V"}]
        else:
            raise ValueError(f"case {expr!r}: kind must be 'bool' or 'num', not {kind!r}")
    return {"name": "conformance", "as_of": AS_OF, "scores": scores, "segments": segments}


def decode(res: dict, cases) -> list[list]:
    """The per-case values from a ``{column: [values]}`` result of ``grid_model``."""
    out = []
    for k, (_, kind) in enumerate(cases):
        labels = res[f"z{k}"]
        if kind == "bool":
            out.append([{"T": True, "F": False, "N": None}[v] for v in labels])
        else:
            out.append([None if lab == "N" else float(v) for v, lab in zip(res[f"n{k}"], labels)])
    return out


def columns(table, cases) -> dict:
    names = [f"n{k}" for k in range(len(cases))] + [f"z{k}" for k in range(len(cases))]
    return {n: table.column(n).to_pylist() for n in names}


def _duck(engine_semantics: bool = False):
    """A DuckDB connection. ``engine_semantics``: DuckDB's own switches for the engine's
    documented division rule (``/`` and ``%`` by zero are NULL; DuckDB 2 gives IEEE infinities
    for doubles and raises for integers). ``to_sql`` must not need them, so it runs without."""
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET TimeZone = 'UTC'")
    if engine_semantics:
        con.execute("SET ieee_floating_point_ops = false")
        con.execute("SET error_on_division_by_zero = false")
    return con


def duckdb_direct(cases, table) -> list[list]:
    """DuckDB's own answer for every case, as numbers and booleans."""
    con = _duck(engine_semantics=True)
    con.register("t", table)
    out = []
    for expr, kind in cases:
        try:
            rows = con.execute(f"SELECT ({expr}) FROM t").fetchall()
        except duckdb.Error as e:
            pytest.fail(f"DuckDB rejects {expr!r} ({e}); make it valid DuckDB SQL, or move it to "
                        "DEPARTURES with the engine's documented answer")
        vals = [r[0] for r in rows]
        if kind == "num":
            vals = [None if v is None or (isinstance(v, float) and math.isnan(v))
                    else float(v) for v in vals]
        out.append(vals)
    return out


def engine(cases, table, monkeypatch, how: str) -> list[list]:
    model = grid_model(cases)
    if how == "fused":
        monkeypatch.delenv("LEADSCORE_FUSED", raising=False)
        monkeypatch.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
    if how in ("interpreter", "fused", "native"):
        return decode(columns(lf.score(model, table, executor=how), cases), cases)
    if how == "reference":
        return decode(ref(model, table, AS_OF), cases)
    if how == "to_sql duckdb":
        con = _duck()
        con.register("leads", table)
        sql = lf.to_sql(model, table.schema, relation="leads")
        return decode(columns(con.sql(sql).to_arrow_table(), cases), cases)
    if how == "to_sql sqlite":
        return sqlite_results(cases, table)
    raise AssertionError(how)


NOT_EXPRESSIBLE = object()  # a case to_sql refuses for the dialect, with its documented error


def sqlite_results(cases, table) -> list:
    """``to_sql(dialect="sqlite")`` run by SQLite: the cases it writes, and NOT_EXPRESSIBLE for
    those it refuses (a ModelError saying what SQLite cannot express, e.g. regexp_matches)."""
    keep = []
    for k, case in enumerate(cases):
        try:
            lf.to_sql(grid_model([case]), table.schema, relation="leads", dialect="sqlite")
            keep.append(k)
        except lf.errors.ModelError as e:
            assert "sqlite" in str(e).lower(), f"{case[0]!r}: {e}"
    sub = [cases[k] for k in keep]
    got = decode(run_sqlite(grid_model(sub), table), sub) if sub else []
    out = [NOT_EXPRESSIBLE] * len(cases)
    for k, values in zip(keep, got):
        out[k] = values
    return out


def _same(a, b, inexact: bool) -> bool:
    if a is None or b is None:
        return a is b
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if a == b:
        return True
    return inexact and math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-300)


# SQLite's lower/upper/ILIKE fold ASCII letters only (a departure the README documents for
# that dialect): on rows with other text these cases are not compared there.
CASE_FOLDING = re.compile(r"\b(lower|upper)\s*\(|\bILIKE\b", re.I)
ASCII_ROWS = [r for r in range(ROWS) if all(
    v is None or v.isascii() for v in (COLUMNS["s"][1][r], COLUMNS["t"][1][r]))]


def differences(cases, got, want, *, loose: bool = False, ascii_folding: bool = False
                ) -> list[str]:
    bad = []
    for (expr, kind), g, w in zip(cases, got, want):
        if g is NOT_EXPRESSIBLE:
            continue
        inexact = loose or bool(INEXACT.search(expr))
        rows = ASCII_ROWS if ascii_folding and CASE_FOLDING.search(expr) else range(ROWS)
        rows = [r for r in rows if not _same(g[r], w[r], inexact)]
        if rows:
            bad.append(f"{expr!r} ({kind}) rows {rows}: got {[g[r] for r in rows]}, "
                       f"want {[w[r] for r in rows]}")
    return bad


def compile_each(cases, table) -> None:
    """Name the cases that do not compile, one by one (the grid compiles as one model)."""
    bad = []
    for case in cases:
        try:
            lf.compile(grid_model([case]), table.schema)
        except lf.errors.LeadscoreError as e:
            bad.append(f"{case[0]!r}: {e}")
    if bad:
        pytest.fail("cases the engine does not compile:\n" + "\n".join(bad))


EXECUTORS = ["interpreter", "fused", "native", "reference", "to_sql duckdb", "to_sql sqlite"]


@pytest.fixture(params=[False, True], ids=["plain", "dictionary"])
def table(request):
    return conformance_table(dictionary=request.param)


def test_there_are_grids():
    assert GRIDS, f"no grid_*.py in {GRID_DIR}"


@pytest.mark.parametrize("how", EXECUTORS)
@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.stem)
def test_grid_matches_duckdb(grid, how, table, monkeypatch):
    cases, _ = load_grid(grid)
    if not cases:
        pytest.skip("no CASES")
    compile_each(cases, table)
    want = duckdb_direct(cases, table)
    got = engine(cases, table, monkeypatch, how)
    sqlite = how == "to_sql sqlite"
    bad = differences(cases, got, want, loose=sqlite, ascii_folding=sqlite)
    assert not bad, f"{how} differs from DuckDB on {len(bad)} case(s):\n" + "\n".join(bad)


@pytest.mark.parametrize("how", EXECUTORS)
@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.stem)
def test_grid_departures(grid, how, table, monkeypatch):
    """The engine's documented answer where DuckDB raises. A grid with ``DEPARTURES_IN_SQL``
    has ``to_sql`` write the same rule out (int64 overflow: HUGEINT under TRY_CAST in DuckDB),
    so it gives that answer too."""
    _, departures = load_grid(grid)
    if not departures:
        pytest.skip("no DEPARTURES")
    if how.startswith("to_sql") and not _grid_attr(grid, "DEPARTURES_IN_SQL"):
        pytest.skip("to_sql writes the dialect's own rule for these (a documented departure)")
    cases = [(e, k) for e, k, _ in departures]
    compile_each(cases, table)
    want = [[None if v is None else (v if isinstance(v, bool) else float(v)) for v in exp]
            for _, _, exp in departures]
    assert all(len(w) == ROWS for w in want), "every DEPARTURES entry lists 15 values"
    sqlite = how == "to_sql sqlite"
    bad = differences(cases, engine(cases, table, monkeypatch, how), want, loose=sqlite)
    assert not bad, f"{how} differs from the documented answer:\n" + "\n".join(bad)


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.stem)
def test_grid_executors_agree_bit_for_bit(grid, table, monkeypatch):
    cases, departures = load_grid(grid)
    cases += [(e, k) for e, k, _ in departures]
    if not cases:
        pytest.skip("empty grid")
    model = grid_model(cases)
    interpreted = lf.score(model, table, executor="interpreter")
    monkeypatch.delenv("LEADSCORE_FUSED", raising=False)
    monkeypatch.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
    fused = lf.score(model, table, executor="fused")
    from test_vm_fused import assert_identical
    assert_identical(fused, interpreted)
    assert_identical(lf.score(model, table, executor="native"), interpreted)
