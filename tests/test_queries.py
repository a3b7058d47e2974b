"""queries.py: every query against a plain-Python reference over score()'s output and against
DuckDB running to_sql(include_input=True) over the same data (count/top-k/histogram exactly).

The data are synthetic leads with NULLs (20 %) and many ties (scores clamp at 0 and at caps);
a ``row_id`` column pins input order, since DuckDB may return Arrow-scan rows reordered.
"""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import queries as Q  # noqa: E402
from leadscore_fast.errors import LeadscoreError  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402

duckdb = pytest.importorskip("duckdb")

N = 3000
MODEL_YAML = REFERENCE_MODEL_YAML + """\
  grade:
    bands: { score: fit, edges: [25, 50, 75], labels: [D, C, B, A] }
  priority:
    matrix: [grade, tier]
  focus:
    - name: target
      when: tier != 'cold' AND (grade IN ('A', 'B') OR NOT email_domain_free)
    - name: nurture
      when: days_since(last_activity_at) < 30
"""
# The draft: tier thresholds moved, grade edges moved.
DRAFT_YAML = MODEL_YAML.replace("total >= 40", "total >= 35").replace(
    "edges: [25, 50, 75]", "edges: [20, 50, 70]")


def make_data(n=N, seed=7, null_rate=0.2) -> pa.Table:
    t = generate_leads(n, seed=seed, null_rate=null_rate)
    rng = np.random.default_rng(seed)
    prev = np.round(rng.uniform(0, 60, n))  # whole numbers: ties at the thresholds
    prev_mask = rng.random(n) < 0.1
    t = t.append_column("prev_total", pa.array(prev, mask=prev_mask))
    return t.append_column("row_id", pa.array(np.arange(n, dtype=np.int64)))


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(MODEL_YAML, "model.yaml")


@pytest.fixture(scope="module")
def draft():
    return lf.Model.from_yaml_string(DRAFT_YAML, "draft.yaml")


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def rows(model, data):
    """Reference: score() output as Python dicts, one per lead, with the input columns."""
    scored = lf.score(model, data, keep=["row_id", "annual_revenue", "prev_total", "lead_id"])
    return scored.to_pylist()


def duck(model, data, query: str, relation="scored"):
    """Run ``query`` in DuckDB with ``scored`` = the model's SQL over ``data`` (all columns)."""
    con = duckdb.connect()
    try:
        con.register("leads", data)
        sql = lf.to_sql(model, data.schema, relation="leads", include_input=True)
        con.execute(f"CREATE TEMP VIEW {relation} AS {sql}")
        return con.execute(query).fetchall()
    finally:
        con.close()


def tri_and(*xs):
    """SQL AND over True/False/None."""
    if any(x is False for x in xs):
        return False
    return None if any(x is None for x in xs) else True


def tri_or(*xs):
    if any(x is True for x in xs):
        return True
    return None if any(x is None for x in xs) else False


def ge(a, b):
    return None if a is None or b is None else a >= b


def lt(a, b):
    return None if a is None or b is None else a < b


# (where, reference predicate over a scored row) — hand-written twins, never eval'd.
WHERES = [
    ("total >= 30 AND tier != 'cold'", lambda r: tri_and(ge(r["total"], 30), r["tier"] != "cold")),
    ("total >= 40", lambda r: ge(r["total"], 40)),
    ("tier = 'warm'", lambda r: r["tier"] == "warm"),
    ("annual_revenue >= 1000000 OR grade = 'A'",
     lambda r: tri_or(ge(r["annual_revenue"], 1_000_000), r["grade"] == "A")),
    ("NOT (annual_revenue < 500000)", lambda r: None if r["annual_revenue"] is None
     else not r["annual_revenue"] < 500_000),
    ("priority IN ('B-hot', 'C-warm')", lambda r: r["priority"] in ("B-hot", "C-warm")),
    ("focus IS NULL", lambda r: r["focus"] is None),
    ("fit = 0", lambda r: r["fit"] == 0),
]


@pytest.mark.parametrize("where, pred", WHERES, ids=[w for w, _ in WHERES])
def test_count_and_select_match_reference_and_duckdb(model, data, rows, where, pred):
    want = [r["row_id"] for r in rows if pred(r) is True]
    assert Q.count(model, data, where) == len(want)
    assert duck(model, data, f"SELECT count(*) FROM scored WHERE {where}")[0][0] == len(want)
    got = Q.select(model, data, where, columns=["row_id"])
    assert got.column("row_id").to_pylist() == want
    in_sql = [r[0] for r in duck(model, data,
                                 f"SELECT row_id FROM scored WHERE {where} ORDER BY row_id")]
    assert in_sql == want


def test_select_returns_scores_and_all_columns_by_default(model, data, rows):
    got = Q.select(model, data, "total >= 45")
    assert got.column_names[:6] == ["fit", "engagement", "total", "tier", "grade", "priority"]
    assert "lead_id" in got.column_names and "technologies" in got.column_names
    want = [r for r in rows if r["total"] >= 45]
    assert got.column("total").to_pylist() == [r["total"] for r in want]
    assert got.column("priority").to_pylist() == [r["priority"] for r in want]


def test_count_over_a_stream_equals_table(model, data):
    reader = pa.RecordBatchReader.from_batches(data.schema, data.to_batches(max_chunksize=700))
    assert Q.count(model, reader, "total >= 30") == Q.count(model, data, "total >= 30")


# -- top k --------------------------------------------------------------------------------

def ref_top(rows, k, by, per=None, labels=None):
    cands = [r for r in rows if r[by] is not None and (per is None or r[per] is not None)]
    groups = [None] if per is None else labels
    out = []
    for g in groups:
        members = [r for r in cands if per is None or r[per] == g]
        members.sort(key=lambda r: (-r[by], r["row_id"]))  # ties: input order
        out += [r["row_id"] for r in members[:k]]
    return out


def sql_top(model, data, k, by, per=None):
    part = f"PARTITION BY {per} " if per else ""
    q = (f"SELECT row_id, {per or 'NULL'} AS g FROM (SELECT *, row_number() OVER ({part}ORDER BY "
         f"{by} DESC, row_id) AS rn FROM scored WHERE {by} IS NOT NULL"
         f"{f' AND {per} IS NOT NULL' if per else ''}) WHERE rn <= {k} ORDER BY g, rn")
    return duck(model, data, q)


@pytest.mark.parametrize("k, by, per", [(1, "total", None), (25, "total", None),
                                        (7, "fit", "tier"), (4, "engagement", "priority"),
                                        (5000, "total", "grade")])
def test_top_k_matches_reference_and_duckdb(model, data, rows, k, by, per):
    labels = None
    if per:
        labels = list(lf.compile(model, data.schema).segments[
            model.segment_names.index(per)]["labels"])
    want = ref_top(rows, k, by, per, labels)
    got = Q.top_k(model, data, k, by, per=per, columns=["row_id"])
    assert got.column("row_id").to_pylist() == want
    # DuckDB orders groups by label text; compare group by group.
    sql = sql_top(model, data, k, by, per)
    by_group: dict = {}
    for row_id, g in sql:
        by_group.setdefault(g, []).append(row_id)
    if per is None:
        assert by_group[None] == want
    else:
        groups = got.column(per).to_pylist()
        mine: dict = {}
        for row_id, g in zip(want, groups):
            mine.setdefault(g, []).append(row_id)
        assert mine == by_group
    ranks = got.column("rank").to_pylist()
    assert all(r >= 1 for r in ranks)
    assert per is not None or ranks == list(range(1, len(want) + 1))


def test_top_k_ties_keep_input_order(model):
    t = pa.table({"pricing_visits": pa.array([1, 3, 3, None, 3, 0], pa.int16()),
                  "row_id": pa.array(range(6), pa.int64())})
    m = lf.Model("ties").score("s").rule("v", points="5 * pricing_visits", cap=100)
    got = Q.top_k(m, t, 3, "s", columns=["row_id"])
    # row 3 has no visits: its rule adds 0 (NULL points add 0), so s = 0, never NULL.
    assert got.column("row_id").to_pylist() == [1, 2, 4]
    assert Q.top_k(m, t, 10, "CASE WHEN pricing_visits IS NULL THEN NULL ELSE s END",
                   columns=["row_id"]).column("row_id").to_pylist() == [1, 2, 4, 0, 5]


# -- histogram / quantiles ----------------------------------------------------------------

def ref_hist(values, edges):
    nulls = sum(v is None for v in values)
    present = [v for v in values if v is not None]
    below = sum(v < edges[0] for v in present)
    above = sum(v >= edges[-1] for v in present)
    bins = [sum(a <= v < b for v in present) for a, b in zip(edges, edges[1:])]
    return [below, *bins, above, nulls]


def sql_hist(model, data, expr, edges):
    cases = [f"WHEN v < {edges[0]} THEN 0"]
    cases += [f"WHEN v < {b} THEN {i + 1}" for i, b in enumerate(edges[1:])]
    q = (f"SELECT b, count(*) FROM (SELECT CASE WHEN v IS NULL THEN -1 {' '.join(cases)} "
         f"ELSE {len(edges)} END AS b FROM (SELECT {expr} AS v FROM scored)) GROUP BY b")
    got = dict(duck(model, data, q))
    return [got.get(i, 0) for i in range(len(edges) + 1)] + [got.get(-1, 0)]


@pytest.mark.parametrize("expr, key, edges", [
    ("total", "total", [0, 10, 25, 40, 60]),
    ("fit", "fit", [25, 50, 75]),
    ("annual_revenue", "annual_revenue", [-1, 0, 1e6, 5e6]),
    ("engagement", "engagement", [0.5]),
])
def test_histogram_edges_match_reference_and_duckdb(model, data, rows, expr, key, edges):
    got = Q.histogram(model, data, expr, edges)
    counts = got.column("count").to_pylist()
    assert counts == ref_hist([r[key] for r in rows], edges)
    assert counts == sql_hist(model, data, expr, edges)
    assert sum(counts) == N
    assert got.column("bin").to_pylist()[0] == f"< {edges[0]:g}"


def test_histogram_int_bins_follow_numpy(model, data, rows):
    got = Q.histogram(model, data, "total", 7)
    values = np.array([r["total"] for r in rows], float)
    counts, edges = np.histogram(values, bins=7)
    assert got.column("count").to_pylist() == [0, *counts.tolist(), 0, 0]
    assert got.column("lo").to_pylist()[1:8] == pytest.approx(edges[:-1].tolist())
    assert got.column("bin").to_pylist()[7].endswith("]")  # last bin holds the maximum


def test_quantiles_match_numpy_and_duckdb(model, data, rows):
    qs = [0, 0.1, 0.5, 0.9, 0.99, 1]
    got = Q.quantiles(model, data, "total", qs).column("value").to_pylist()
    want = np.quantile([r["total"] for r in rows], qs).tolist()
    assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
    sql = duck(model, data, "SELECT " + ", ".join(
        f"quantile_cont(total, {q})" for q in qs) + " FROM scored")[0]
    assert got == pytest.approx(list(sql), rel=1e-9, abs=1e-9)


@settings(max_examples=25)
@given(threshold=st.integers(-5, 80), k=st.integers(1, 40),
       edges=st.lists(st.integers(-10, 90), min_size=1, max_size=5, unique=True))
def test_property_queries_agree_with_reference(model, data, rows, threshold, k, edges):
    edges = sorted(edges)
    where = f"total >= {threshold} AND tier <> 'cold'"
    assert Q.count(model, data, where) == sum(
        1 for r in rows if r["total"] >= threshold and r["tier"] != "cold")
    assert Q.top_k(model, data, k, "fit", columns=["row_id"]).column("row_id").to_pylist() \
        == ref_top(rows, k, "fit")
    assert Q.histogram(model, data, "total", edges).column("count").to_pylist() \
        == ref_hist([r["total"] for r in rows], edges)


# -- crossings / migration ----------------------------------------------------------------

def ref_cross(prev, cur, t):
    up = [i for i, (p, c) in enumerate(zip(prev, cur)) if p is not None and p < t <= c]
    down = [i for i, (p, c) in enumerate(zip(prev, cur)) if p is not None and c < t <= p]
    return up, down


@pytest.mark.parametrize("threshold", [25, 40, 30.5])
def test_crossings_against_an_input_column(model, data, rows, threshold):
    c = Q.crossings(None, model, data, score="total", threshold=threshold, previous="prev_total")
    up, down = ref_cross([r["prev_total"] for r in rows], [r["total"] for r in rows], threshold)
    assert c.up.column("row").to_pylist() == up and c.n_up == len(up)
    assert c.down.column("row").to_pylist() == down
    assert c.up.column("current").to_pylist() == [rows[i]["total"] for i in up]
    assert c.down.column("previous").to_pylist() == [rows[i]["prev_total"] for i in down]
    got = duck(model, data, f"SELECT count(*) FILTER (prev_total < {threshold} AND total >= "
                            f"{threshold}), count(*) FILTER (prev_total >= {threshold} AND "
                            f"total < {threshold}) FROM scored")[0]
    assert got == (len(up), len(down))


def test_crossings_against_a_table_of_ids(model, data, rows, tmp_path):
    rng = np.random.default_rng(1)
    keep = rng.permutation(N)[: N - 300]  # shuffled; 300 leads have no previous score
    prev = pa.table({"lead_id": data.column("lead_id").take(keep),
                     "total": data.column("prev_total").take(keep)})
    c = Q.crossings(None, model, data, score="total", threshold=40, previous=prev,
                    id_column="lead_id")
    known = set(keep.tolist())
    prev_of = [r["prev_total"] if i in known else None for i, r in enumerate(rows)]
    up, down = ref_cross(prev_of, [r["total"] for r in rows], 40)
    assert c.up.column("lead_id").to_pylist() == [rows[i]["lead_id"] for i in up]
    assert c.down.column("lead_id").to_pylist() == [rows[i]["lead_id"] for i in down]
    path = tmp_path / "prev.parquet"
    lf.write_output(prev.rename_columns(["lead_id", "score"]), path)
    c2 = Q.crossings(None, model, data, score="total", threshold=40, previous=str(path),
                     id_column="lead_id")
    assert c2.up.equals(c.up) and c2.down.equals(c.down)


def test_crossings_between_two_models(model, draft, data):
    old = lf.score(model, data).column("total").to_pylist()
    # A draft whose total actually moves: more weight on engagement.
    moved = lf.Model.from_yaml_string(
        DRAFT_YAML.replace("0.6 * fit + 0.4 * engagement", "0.4 * fit + 0.6 * engagement"))
    new = lf.score(moved, data).column("total").to_pylist()
    c = Q.crossings(model, moved, data, score="total", threshold=30, id_column="row_id")
    up, down = ref_cross(old, new, 30)
    assert c.up.column("row_id").to_pylist() == up and up
    assert c.down.column("row_id").to_pylist() == down and down


def test_migration_matches_reference_and_duckdb(model, draft, data):
    a = lf.score(model, data).column("grade").to_pylist()
    b = lf.score(draft, data).column("grade").to_pylist()
    got = Q.migration(model, draft, data, "grade")
    pairs = {(r["old"], r["new"]): r["count"] for r in got.to_pylist()}
    want: dict = {}
    for x, y in zip(a, b):
        want[(x, y)] = want.get((x, y), 0) + 1
    assert {k: v for k, v in pairs.items() if v} == want
    assert len(pairs) == 16 and sum(pairs.values()) == N  # every label pair, no NULL row
    assert got.column("old").to_pylist()[:4] == ["A"] * 4
    con = duckdb.connect()
    con.register("leads", data)
    for name, m in (("a", model), ("b", draft)):
        con.execute(f"CREATE VIEW {name} AS "
                    + lf.to_sql(m, data.schema, relation="leads", include_input=True))
    sql = dict(((x, y), n) for x, y, n in con.execute(
        "SELECT a.grade, b.grade, count(*) FROM a JOIN b USING (row_id) GROUP BY ALL").fetchall())
    assert sql == want


def test_migration_lists_unassigned_leads(model, data):
    # focus leaves leads unassigned (no default case): a NULL row and column appear.
    got = Q.migration(model, model, data, "focus").to_pylist()
    assert {(r["old"], r["new"]) for r in got} == {
        (x, y) for x in ("target", "nurture", None) for y in ("target", "nurture", None)}
    assert all(r["count"] == 0 for r in got if r["old"] != r["new"])


# -- errors -------------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda m, d: Q.top_k(m, d, 0, "total"), "k must be a positive integer"),
    (lambda m, d: Q.top_k(m, d, -3, "total"), "k must be a positive integer"),
    (lambda m, d: Q.top_k(m, d, 3, "total", per="teir"), "did you mean 'tier'"),
    (lambda m, d: Q.count(m, d, "totl >= 3"), "did you mean 'total'"),
    (lambda m, d: Q.count(m, d, "tier = 'hott'"), "hott"),
    (lambda m, d: Q.count(m, d, "total + 1"), ""),
    (lambda m, d: Q.histogram(m, d, "total", [10, 5]), "strictly increasing"),
    (lambda m, d: Q.histogram(m, d, "total", []), "non-empty"),
    (lambda m, d: Q.histogram(m, d, "total", 0), "bins must be >= 1"),
    (lambda m, d: Q.histogram(m, d, "totl", 5), "did you mean 'total'"),
    (lambda m, d: Q.histogram(m, d, "enagement", [1, 2]), "did you mean 'engagement'"),
    (lambda m, d: Q.quantiles(m, d, "total", [1.5]), "in [0, 1]"),
    (lambda m, d: Q.crossings(None, m, d, score="total", threshold=3), "old model"),
    (lambda m, d: Q.crossings(None, m, d, score="total", threshold=3, previous="prev_totl"),
     "did you mean 'prev_total'"),
    (lambda m, d: Q.crossings(None, m, d, score="total", threshold=3,
                              previous=pa.table({"x": [1]})), "id_column"),
    (lambda m, d: Q.crossings(None, m, d, score="total", threshold=3, id_column="lead_id",
                              previous=pa.table({"lead_id": [1, 1], "total": [1.0, 2.0]})),
     "repeat ids"),
    (lambda m, d: Q.migration(m, m, d, "grdae"), "did you mean 'grade'"),
])
def test_bad_queries_raise_leadscore_errors(model, data, call, message):
    with pytest.raises(LeadscoreError) as e:
        call(model, data)
    assert message in str(e.value)


def test_quantiles_of_no_values_are_null():
    m = lf.Model("m").derived("s", "annual_revenue")
    t = pa.table({"annual_revenue": pa.array([None, None], pa.float64())})
    # a derived score's NULL becomes 0: quantiles of [0, 0]
    assert Q.quantiles(m, t, "s", 0.5).column("value").to_pylist() == [0.0]
    assert math.isfinite(Q.histogram(m, t, "s", 2).column("lo").to_pylist()[1])
