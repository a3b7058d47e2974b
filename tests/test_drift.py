"""lf.drift / `leadscore drift`: PSI against a plain numpy implementation on generated data
with ties and NULL scores, segment shares, rule hit rates and NULL rates against numpy, the
flags, inputs of every kind `score` reads, the CLI, and the bank file's two halves."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402

MODEL = {"name": "m", "scores": {
    "s": {"rules": [{"name": "v", "points": "v"}]},   # a NULL v adds 0
    "raw": {"expr": "CASE WHEN v > 3 THEN v END"},      # derived: NULL reads as 0
    "hits": {"rules": [{"name": "big", "when": "v > 3", "points": 1},
                       {"name": "has w", "when": "w IS NOT NULL", "points": 1}]}},
    "segments": {"tier": [{"name": "hot", "when": "s >= 5"}, {"name": "cold", "when": "s > 0"}]}}


def numpy_psi(ref, cur, bins=10, eps=1e-4):
    """The documented definition, written out plainly: bins [e_{i-1}, e_i) between the
    distinct reference deciles, one more for NaN; empty shares count as eps."""
    ref, cur = np.asarray(ref, float), np.asarray(cur, float)
    r_ok = ref[~np.isnan(ref)]
    edges = np.unique(np.quantile(r_ok, np.arange(1, bins) / bins)) if len(r_ok) else np.zeros(0)

    def shares(x):
        counts = []
        ok = x[~np.isnan(x)]
        bounds = [-np.inf] + list(edges) + [np.inf]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            counts.append(int(((ok >= lo) & (ok < hi)).sum()))
        counts.append(int(np.isnan(x).sum()))
        return np.array(counts, float) / len(x)

    p, q = shares(ref), shares(cur)
    total = 0.0
    for a, b in zip(p, q):
        if a == 0 and b == 0:
            continue
        a, b = max(a, eps), max(b, eps)
        total += (b - a) * np.log(b / a)
    return total


def _table(v, w=None):
    v = np.asarray(v, float)
    return pa.table({"v": pa.array(v, mask=np.isnan(v)),
                     "w": pa.array(np.zeros(len(v)) if w is None else w)})


@settings(max_examples=40, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 9), st.none()), min_size=1, max_size=200),
       st.lists(st.one_of(st.integers(0, 12), st.none()), min_size=1, max_size=200))
def test_psi_matches_numpy_with_ties(ref, cur):
    r = np.array([np.nan if x is None else x for x in ref], float)
    c = np.array([np.nan if x is None else x for x in cur], float)
    d = lf.drift(MODEL, _table(r), _table(c))
    by = {s["score"]: s for s in d.scores}
    assert by["s"]["psi"] == pytest.approx(numpy_psi(np.nan_to_num(r), np.nan_to_num(c)), abs=1e-12)
    rr = np.where(r > 3, r, 0)
    cc = np.where(c > 3, c, 0)
    assert by["raw"]["psi"] == pytest.approx(numpy_psi(rr, cc), abs=1e-12)
    assert sum(by["s"]["reference"]) == len(r) and sum(by["s"]["current"]) == len(c)


def test_psi_hand_picked():
    m = {"name": "m", "scores": {"s": {"rules": [{"name": "v", "points": "v"}]}}}
    from leadscore_fast.drift_report import psi
    ref, cur = [1, 2, 3, 3, 4], [1, 1, 1, 9, 9]
    assert psi(ref, ref) == 0.0
    assert psi([5, 5, 0], [5, 5, 0]) == 0.0
    # an empty bin counts as EPS = 1e-4
    assert psi([10, 0], [5, 5]) == pytest.approx((0.5 - 1e-4) * np.log(0.5 / 1e-4) + (0.5 - 1.0) * np.log(0.5), rel=1e-12)
    d = lf.drift(m, _table(ref), _table(cur))
    assert d.scores[0]["psi"] == pytest.approx(numpy_psi(ref, cur), abs=1e-12)


def test_segments_rules_null_rates_and_flags_against_numpy():
    rng = np.random.default_rng(3)
    n = 30_000
    r = rng.integers(0, 10, n).astype(float)
    c = rng.integers(2, 12, n).astype(float)
    r[rng.random(n) < 0.05] = np.nan
    c[rng.random(n) < 0.05] = np.nan
    wr = pa.array(rng.random(n))
    wc = pa.array(rng.random(n), mask=rng.random(n) < 0.4)  # an enrichment field stopped arriving
    ref = pa.Table.from_batches(_table(r, wr).to_batches(max_chunksize=7_000))
    d = lf.drift(MODEL, ref, _table(c, wc))
    assert d.reference_leads == n and d.current_leads == n
    s = {x["score"]: x for x in d.scores}["s"]
    assert s["psi"] == pytest.approx(numpy_psi(np.nan_to_num(r), np.nan_to_num(c)), abs=1e-12)
    assert s["flag"] == ("major" if s["psi"] > 0.25 else "moderate")
    rs, cs = np.nan_to_num(r), np.nan_to_num(c)
    seg = {x["segment"]: x for x in d.segments}
    assert seg["hot"]["reference_share"] == (rs >= 5).mean()
    assert seg["cold"]["current_share"] == ((cs > 0) & (cs < 5)).mean()
    assert seg[None]["change"] == pytest.approx((cs <= 0).mean() - (rs <= 0).mean())
    rule = {x["rule"]: x for x in d.rules}
    with np.errstate(invalid="ignore"):
        assert rule["big"]["reference_hit_rate"] == (r > 3).mean()
        assert rule["big"]["current_hit_rate"] == (c > 3).mean()
    assert rule["has w"]["change"] == pytest.approx(wc.is_valid().to_numpy(zero_copy_only=False).mean() - 1)
    cols = {x["column"]: x for x in d.columns}
    assert cols["v"]["reference_null_rate"] == np.isnan(r).mean()
    assert cols["w"]["current_null_rate"] == wc.null_count / n and cols["w"]["flagged"]
    assert not cols["v"]["flagged"]
    assert any("column 'w'" in w for w in d.warnings) and any("PSI" in w for w in d.warnings)


def test_no_drift_on_the_same_data_and_any_input_kind(tmp_path):
    t = _table(np.arange(100) % 7)
    p = tmp_path / "a.parquet"
    write_output(t, p)
    d = lf.drift(MODEL, p, t.to_reader() if hasattr(t, "to_reader") else t)
    assert all(s["psi"] == 0.0 and s["flag"] == "stable" for s in d.scores)
    assert all(x["change"] == 0 for x in d.segments + d.rules + d.columns)
    assert d.warnings == []


def test_cli_drift_json_table_and_errors(tmp_path):
    import yaml

    model = tmp_path / "m.yaml"
    model.write_text(yaml.safe_dump(MODEL))
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    write_output(_table(np.arange(200) % 10), a)
    write_output(_table(np.arange(200) % 10 + 5), b)
    r = CliRunner().invoke(main, ["drift", str(model), str(a), str(b), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["scores"][0]["flag"] == "major" and d["scores"][0]["psi"] > 0.25
    r = CliRunner().invoke(main, ["drift", str(model), str(a), str(b)])
    assert r.exit_code == 0 and "major" in r.output and "warning: score 's'" in r.output
    r = CliRunner().invoke(main, ["drift", str(model), str(a), str(tmp_path / "nope.csv")])
    assert r.exit_code == 2 and "nope.csv" in r.output and "Traceback" not in r.output


def test_bank_marketing_halves():
    from test_real_data import DATA, EXAMPLES

    path = DATA / "bank_marketing_full.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    t = lf.source(path).read_all()
    m = lf.Model.from_yaml(str(EXAMPLES / "bank_marketing.yaml"))
    half = t.num_rows // 2
    first, second = t.slice(0, half), t.slice(half)
    d = lf.drift(m, first, second)
    assert (d.reference_leads, d.current_leads) == (half, t.num_rows - half)
    scored = {k: np.asarray(lf.score(m, x).column("total").to_numpy(zero_copy_only=False))
              for k, x in (("a", first), ("b", second))}
    total = {s["score"]: s for s in d.scores}["total"]
    assert total["psi"] == pytest.approx(numpy_psi(scored["a"], scored["b"]), abs=1e-12)
    # the file is in call order (May 2008 first, later campaigns after): the halves differ
    assert total["psi"] > 0.1
    h = lf.rule_stats(m, first, label="y")
    assert h.leads == half and all(r["true"] + r["false"] + r["null"] == half for r in h.rules)


def test_an_empty_input_gives_no_psi_and_valid_json(tmp_path):
    import yaml

    empty = _table(np.zeros(0))
    d = lf.drift(MODEL, _table(np.arange(10.0)), empty)
    assert all(s["psi"] is None and s["flag"] == "-" for s in d.scores) and d.current_leads == 0
    model = tmp_path / "m.yaml"
    model.write_text(yaml.safe_dump(MODEL))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_output(_table(np.arange(10.0)), a)
    write_output(empty, b)
    r = CliRunner().invoke(main, ["drift", str(model), str(a), str(b), "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["scores"][0]["psi"] is None


def test_drift_and_rule_stats_over_a_database_table_and_a_dataset(tmp_path):
    from leadscore_fast.sources.database import DatabaseSource

    ref = _table(np.arange(300) % 10)
    cur = _table(np.arange(300) % 10 + 3)
    db = tmp_path / "leads.duckdb"
    con = duckdb_connect(db)
    con.register("r", ref)
    con.execute("CREATE TABLE leads AS SELECT * FROM r")
    con.close()
    (tmp_path / "cur").mkdir()
    write_output(cur.slice(0, 150), tmp_path / "cur" / "part-0.parquet")
    write_output(cur.slice(150), tmp_path / "cur" / "part-1.parquet")
    d = lf.drift(MODEL, DatabaseSource(f"duckdb:///{db}", "leads"), tmp_path / "cur")
    want = lf.drift(MODEL, ref, cur)
    assert d.scores == want.scores and d.rules == want.rules and d.columns == want.columns
    h = lf.rule_stats(MODEL, DatabaseSource(f"duckdb:///{db}", "leads"))
    assert h.rules == lf.rule_stats(MODEL, ref).rules


def duckdb_connect(path):
    duckdb = pytest.importorskip("duckdb")
    return duckdb.connect(str(path))


def test_an_error_says_which_input(tmp_path):
    import yaml

    model = tmp_path / "m.yaml"
    model.write_text(yaml.safe_dump(MODEL))
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    write_output(_table(np.arange(10.0)), a)
    write_output(pa.table({"v": [1.0]}), b)  # no column w
    r = CliRunner().invoke(main, ["drift", str(model), str(a), str(b)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "unknown column 'w'" in r.output and f"(drift: reading the current input {b})" in r.output
