"""lf.evaluate and `leadscore evaluate`: AUC and KS against scikit-learn / numpy on data with
ties, gains per decile, capacity and threshold answers, per-segment conversion."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import synthetic  # noqa: E402

MODEL = {"name": "m", "scores": {"total": {"rules": [{"name": "x", "points": "x"}]}},
         "segments": {"tier": [{"name": "hot", "when": "total >= 5"}, {"name": "cold"}]}}


def numpy_ks(s, y):
    ts = np.unique(s)
    tpr = np.array([(s[y == 1] >= t).mean() for t in ts])
    fpr = np.array([(s[y == 0] >= t).mean() for t in ts])
    return float(np.max(tpr - fpr))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.booleans()), min_size=2, max_size=300))
def test_auc_and_ks_match_sklearn_and_numpy_with_ties(rows):
    sklearn = pytest.importorskip("sklearn.metrics")
    s = np.array([r[0] for r in rows], float)
    y = np.array([r[1] for r in rows])
    ev = lf.evaluate(MODEL, pa.table({"x": s, "y": y}), "y")
    if y.all() or not y.any():
        assert ev.auc is None and ev.ks is None
        return
    assert abs(ev.auc - sklearn.roc_auc_score(y, s)) <= 1e-12
    assert abs(ev.ks - numpy_ks(s, y)) <= 1e-12
    assert sum(d["leads"] for d in ev.deciles) == len(rows)
    assert sum(d["conversions"] for d in ev.deciles) == int(y.sum())
    assert ev.deciles[-1]["gains"] == 1.0


def test_synthetic_leads_end_to_end():
    sklearn = pytest.importorskip("sklearn.metrics")
    t = synthetic.generate_leads(50_000, seed=5)
    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    ev = lf.evaluate(model, t, "converted", "total", capacity=5_000, threshold=40)
    scored = lf.score(model, t)
    s = np.asarray(scored.column("total").to_numpy())
    y = np.asarray(t.column("converted").to_numpy(zero_copy_only=False), bool)
    assert abs(ev.auc - sklearn.roc_auc_score(y, s)) <= 1e-12
    assert ev.leads == len(t) and ev.conversions == int(y.sum())
    # capacity: the lowest threshold whose leads fit in 5,000
    cap = ev.capacity
    assert cap["leads"] == int((s >= cap["threshold"]).sum()) <= 5_000
    below = s[s < cap["threshold"]]
    assert int((s >= below.max()).sum()) > 5_000
    assert cap["conversions"] == int(y[s >= cap["threshold"]].sum())
    thr = ev.threshold
    assert thr["leads"] == int((s >= 40).sum()) and thr["conversions"] == int(y[s >= 40].sum())
    # segments: the hot tier converts better than the cold one, shares sum to 1
    tiers = {d["segment"]: d for d in ev.segments if d["segmentation"] == "tier"}
    assert tiers["hot"]["rate"] > tiers["cold"]["rate"]
    assert abs(sum(d["share"] for d in tiers.values()) - 1) < 1e-12
    h = ev.histogram
    assert sum(h["converted"]) == ev.conversions and sum(h["not_converted"]) == ev.leads - ev.conversions


def test_text_labels_nulls_and_errors():
    t = pa.table({"x": [1.0, 9.0, None, 3.0, 7.0], "y": ["no", "Yes", "yes", None, "no"]})
    ev = lf.evaluate(MODEL, t, "y")
    # a NULL x adds no points (the score is 0, not NULL); the NULL label is left out
    assert (ev.leads, ev.conversions, ev.unlabelled) == (4, 2, 1)
    with pytest.raises(lf.QueryError, match="unknown label column 'z'"):
        lf.evaluate(MODEL, t, "z")
    with pytest.raises(lf.QueryError, match="unknown score 'totl'.*did you mean 'total'"):
        lf.evaluate(MODEL, t, "y", "totl")


def test_cli_json_and_plot(tmp_path):
    from click.testing import CliRunner

    from leadscore_fast.cli import main

    t = synthetic.generate_leads(5_000, seed=2)
    import pyarrow.parquet as pq
    pq.write_table(t, tmp_path / "leads.parquet")
    (tmp_path / "m.yaml").write_text(synthetic.REFERENCE_MODEL_YAML)
    args = ["evaluate", str(tmp_path / "m.yaml"), str(tmp_path / "leads.parquet"), "--label", "converted",
            "--capacity", "500"]
    res = CliRunner().invoke(main, args + ["--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["leads"] == 5_000 and 0.5 < d["auc"] <= 1 and d["capacity"]["leads"] <= 500
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and "ROC AUC" in res.output and "decile" in res.output, res.output
    pytest.importorskip("matplotlib")
    res = CliRunner().invoke(main, args + ["--plot", str(tmp_path / "gains.png")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "gains.png").read_bytes()[:4] == b"\x89PNG"
