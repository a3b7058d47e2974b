"""lf.learn / leadscore learn: a scorecard learned from outcomes, written as a model file."""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

pytest.importorskip("sklearn")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast.learning import learn  # noqa: E402
from leadscore_fast.queries import QueryError  # noqa: E402

AS_OF = "2026-11-01T00:00:00Z"
AS_OF_DAY = 20393  # 2026-11-01 in days since the epoch
SOURCE_EFFECT = {"webinar": 1.5, "referral": 0.7, "ads": 0.0, "cold call": -1.0}


def known_scorecard(n=20000, seed=1):
    """Leads drawn from a known scorecard: the log-odds are a sum of per-attribute effects."""
    rng = np.random.default_rng(seed)
    src = rng.choice(list(SOURCE_EFFECT), n, p=[0.2, 0.2, 0.4, 0.2])
    visits = rng.poisson(4, n)
    email_ok = rng.random(n) < 0.6
    age_days = rng.integers(0, 200, n)
    noise = rng.normal(size=n)
    logit = (-1.0 + np.array([SOURCE_EFFECT[s] for s in src]) + 0.25 * np.minimum(visits, 10)
             + 0.8 * email_ok - 0.01 * age_days)
    src_null = rng.random(n) < 0.1
    logit = np.where(src_null, logit - 0.5, logit)
    y = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pa.table({
        "lead source": pa.array(np.where(src_null, None, src).tolist(), pa.string()),
        "visits": visits.astype(np.int64),
        "email_ok": email_ok,
        "last seen": pa.array((AS_OF_DAY - age_days).astype(np.int32), pa.date32()),
        "noise": noise,
        "converted": y,
    })


@pytest.fixture(scope="module")
def synthetic():
    table = known_scorecard()
    return table, learn(table, "converted", as_of=AS_OF, seed=3)


def test_recovers_the_ordering_of_the_generating_model(synthetic):
    table, r = synthetic
    cols = {c.column: c for c in r.columns}
    assert "noise" not in cols and "negligible information value" in r.report.dropped["noise"]
    assert {"lead source", "visits", "email_ok", "last seen"} <= set(cols)
    scored = lf.score(r.model, table)
    # points per source value follow the generating effects
    cb = cols["lead source"]
    pts = {b.label: p for b, p in zip(cb.bins, _bin_points(r, "lead source"))}
    order = sorted(SOURCE_EFFECT, key=SOURCE_EFFECT.get)
    assert [pts[s] for s in order] == sorted(pts[s] for s in order)
    assert pts[order[0]] < pts[order[-1]]
    # more visits, more points; older last-seen, fewer; email_ok TRUE over FALSE
    v = _bin_points(r, "visits")
    assert list(v[:-1] if cols["visits"].bins[-1].when.endswith("IS NULL") else v) == sorted(v)
    d = _bin_points(r, "last seen")
    assert list(d) == sorted(d, reverse=True) and d[0] > d[-1]
    e = dict(zip([b.label for b in cols["email_ok"].bins], _bin_points(r, "email_ok")))
    assert e["TRUE"] > e["FALSE"]
    # conversion per band increases cold < warm < hot
    tier = scored.column("tier").to_pylist()
    y = np.asarray(table.column("converted").to_numpy(zero_copy_only=False), float)
    rates = [y[[t == k for t in tier]].mean() for k in ("cold", "warm", "hot")]
    assert rates[0] < rates[1] < rates[2], rates


def _bin_points(result, column):
    """The points of each bin of ``column`` as written in the model."""
    cb = next(c for c in result.columns if c.column == column)
    score = next(s for s in result.model.scores if any(
        (r.name or "").startswith(column + ": ") for r in (s.rules or ())))
    return np.array([float(str(r.points)) for r in score.rules])[: len(cb.bins)]


def test_scoring_the_training_data_reproduces_the_linear_predictor(synthetic):
    table, r = synthetic
    scored = lf.score(r.model, table)
    total = np.asarray(scored.column("total").to_numpy(zero_copy_only=False))
    lp = r.intercept + sum(r.coefficients[cb.column] * cb.woe_of_rows() for cb in r.columns)
    err = np.abs(total - (r.scaling.t0 + r.scaling.s * lp))
    assert err.max() <= 0.5 * len(r.columns) + 1e-9
    a, b = r.calibration
    p = np.asarray(scored.column("p_convert").to_numpy(zero_copy_only=False))
    np.testing.assert_allclose(p, 1 / (1 + np.exp(-(a + b * total))), rtol=1e-12)


def test_the_written_yaml_round_trips_and_every_command_works_on_it(synthetic, tmp_path):
    from click.testing import CliRunner

    from leadscore_fast.cli import main

    table, r = synthetic
    m = lf.Model.from_yaml_string(r.yaml)
    assert m.to_dict() == r.model.to_dict()
    assert "# " in r.yaml and "conversion" in r.yaml and "WoE" in r.yaml
    assert '"lead source" IS NULL' in r.yaml and 'days_since("last seen")' in r.yaml
    data = tmp_path / "leads.parquet"
    pq.write_table(table.slice(0, 3000), data)
    model = tmp_path / "m.yaml"
    r.save(model)
    run = CliRunner().invoke
    for args in (["check", str(model), "--schema", str(data)],
                 ["score", str(model), str(data), "-o", str(tmp_path / "out.parquet")],
                 ["explain", str(model), str(data), "--where", "tier = 'hot'"],
                 ["evaluate", str(model), str(data), "--label", "converted"]):
        res = run(main, args)
        assert res.exit_code == 0, (args, res.output)
    out = pq.read_table(tmp_path / "out.parquet")
    assert set(out.column("tier").to_pylist()) <= {"hot", "warm", "cold"}


def test_pdo_scaling(synthetic):
    table, _ = synthetic
    r = learn(table, "converted", as_of=AS_OF, pdo=(20, 600, 50), baselines=False)
    assert abs(r.scaling.s - 20 / np.log(2)) < 1e-9
    scored = lf.score(r.model, table)
    total = np.asarray(scored.column("total").to_numpy(zero_copy_only=False))
    lp = r.intercept + sum(r.coefficients[cb.column] * cb.woe_of_rows() for cb in r.columns)
    # 600 points at odds 50:1, 20 more points double the odds
    assert np.abs(total - (600 + 20 / np.log(2) * (lp - np.log(50)))).max() <= \
        0.5 * (len(r.columns) + 1) + 1e-9


def test_report_compares_with_baselines_and_a_hand_written_model(synthetic, tmp_path):
    table, r = synthetic
    h = r.report.holdout
    assert set(h) >= {"learned points (this model)",
                      "logistic regression (one-hot, standardised)",
                      "HistGradientBoostingClassifier"}
    assert h["learned points (this model)"]["auc"] > 0.7
    assert abs(h["learned points (this model)"]["auc"]
               - h["logistic regression (one-hot, standardised)"]["auc"]) < 0.02
    hand = tmp_path / "hand.yaml"
    hand.write_text("name: hand\nscores:\n  total:\n    rules:\n"
                    "      - {name: webinar, when: \"\\\"lead source\\\" = 'webinar'\", points: 10}\n"
                    "      - {name: visits, points: 2 * visits}\n")
    r2 = learn(table, "converted", as_of=AS_OF, compare=str(hand), baselines=False)
    assert "compared: hand" in r2.report.holdout
    assert r2.report.holdout["compared: hand"]["auc"] < h["learned points (this model)"]["auc"]
    assert "learned from" in str(r2.report) and "compared: hand" in str(r2.report)


def test_leakage_guard_excludes_and_allow_keeps(synthetic):
    table, _ = synthetic
    y = table.column("converted").to_pylist()
    rng = np.random.default_rng(0)
    tag = ["won deal" if v and rng.random() < 0.6 else ("lost" if not v and rng.random() < 0.6
                                                        else None) for v in y]
    t = table.append_column("sales tag", pa.array(tag, pa.string()))
    r = learn(t, "converted", as_of=AS_OF, baselines=False)
    assert "sales tag" in r.report.leaks and "sales tag" not in r.coefficients
    assert "leakage guard" in str(r.report)
    r = learn(t, "converted", as_of=AS_OF, baselines=False, allow=["sales tag"])
    assert "sales tag" in r.coefficients


@pytest.mark.parametrize("target, values, message", [
    ("missing", None, "unknown target column 'missing'"),
    ("y", [0, 1, 2, 1] * 10, "not binary"),
    ("y", [1] * 40, "single class"),
    ("y", ["yes", "no", "maybe", "no"] * 10, "neither a conversion"),
    ("y", [0, 1, 1, 0, 1], "fewer than the bins"),
])
def test_bad_targets_are_clear_errors(target, values, message):
    values = values if values is not None else [0, 1] * 20
    t = pa.table({"x": list(range(len(values))), "y": values})
    with pytest.raises(QueryError, match=message):
        learn(t, target, baselines=False)


def test_unknown_column_suggests():
    t = pa.table({"visits": [1, 2] * 20, "y": [0, 1] * 20})
    with pytest.raises(QueryError, match="did you mean 'visits'"):
        learn(t, "y", exclude=["visit"])


def test_odd_names_and_values_are_quoted():
    rng = np.random.default_rng(5)
    n = 4000
    vals = np.array(["it's", 'say "hi"', "a: b # c", "new\nline", "ünï", "x"])
    v = rng.choice(vals, n)
    num = rng.normal(size=n) * 1000
    y = rng.random(n) < np.where(np.isin(v, vals[:3]), 0.7, 0.2) + 0.0 * num
    t = pa.table({"total": num, "p_convert": v, "select": y.astype(np.int64),
                  "Odd \"col\" 'name'": v, "tier": rng.integers(0, 3, n)})
    r = learn(t, "select", holdout=0.0, baselines=False)
    lf.compile(r.model, t.schema)
    scored = lf.score(r.model, t)
    total = np.asarray(scored.column(r.total).to_numpy(zero_copy_only=False))
    expect = r.scaling.base_points + sum(
        np.array([float(str(x.points)) for x in s.rules])[cb.codes]
        for cb, s in zip(r.columns, [sc for sc in r.model.scores
                                     if sc.rules and sc.rules[0].name.split(": ")[0]
                                     in r.coefficients]))
    np.testing.assert_array_equal(total, expect)


def test_cli_learn(tmp_path):
    from click.testing import CliRunner

    from leadscore_fast.cli import main

    table = known_scorecard(6000)
    data = tmp_path / "leads.csv"
    import pyarrow.csv as pcsv

    pcsv.write_csv(table.set_column(5, "converted", pa.array(
        ["yes" if v else "no" for v in table.column("converted").to_pylist()])), data)
    out = tmp_path / "learned.yaml"
    res = CliRunner().invoke(main, ["learn", str(data), "--target", "converted", "--exclude",
                                    "noise", "--points", "0:1000", "--as-of", AS_OF,
                                    "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "holdout" in res.output and "HistGradientBoostingClassifier" in res.output
    assert out.exists()
    res = CliRunner().invoke(main, ["check", str(out), "--schema", str(data)])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["learn", str(data), "--target", "convertd", "-o",
                                    str(tmp_path / "x.yaml")])
    assert res.exit_code == 2 and "did you mean 'converted'" in res.output
    assert not (tmp_path / "x.yaml").exists()


def test_text_target_with_positive_and_json_report(tmp_path):
    import json

    from click.testing import CliRunner

    from leadscore_fast.cli import main

    table = known_scorecard(3000)
    outcome = ["Subscribed" if v else "Declined" for v in table.column("converted").to_pylist()]
    t = table.set_column(5, "outcome", pa.array(outcome))
    with pytest.raises(QueryError, match="positive"):
        learn(t, "outcome", baselines=False)
    r = learn(t, "outcome", positive="Subscribed", baselines=False, as_of=AS_OF)
    assert r.report.conversion == pytest.approx(np.mean(table.column("converted").to_numpy()))
    data = tmp_path / "t.parquet"
    pq.write_table(t, data)
    res = CliRunner().invoke(main, ["learn", str(data), "--target", "outcome", "--positive",
                                    "Subscribed", "--columns", "lead source", "--columns",
                                    "visits", "--pdo", "20", "--no-baselines", "--json",
                                    "--as-of", AS_OF, "-o", str(tmp_path / "m.yaml")])
    assert res.exit_code == 0, res.output
    rep = json.loads(res.output)
    assert {c["column"] for c in rep["columns"]} == {"lead source", "visits"}
    assert set(rep["holdout"]) == {"learned points (this model)"}
    assert "20 points double the odds" in (tmp_path / "m.yaml").read_text()
