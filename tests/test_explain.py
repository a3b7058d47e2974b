"""lf.explain and `leadscore explain`: contributions checked against the plain reference on
generated models (nulls, caps, floors, ranges), reasons ordered and summing to the score."""
from __future__ import annotations

import json

import pyarrow as pa
import pytest
from hypothesis import given

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from reference import reference_score, table_rows  # noqa: E402
from strategies import cases, examples  # noqa: E402

MODEL = {"name": "m", "scores": {
    "fit": {"range": [0, 30], "rules": [
        {"name": "a", "when": "x > 0", "points": 10},
        {"name": "b", "when": "x > 1", "points": 10},
        {"name": "c", "when": "x > 2", "points": "x * 10", "cap": 15},
        {"name": "d", "when": "y", "points": -5}]},
    "total": {"expr": "fit * 2"}},
    "segments": {"tier": [{"name": "hot", "when": "fit >= 25"}, {"name": "cold"}]}}


@examples(0.3)
@given(cases(max_rows=30))
def test_contributions_match_the_reference_and_sum_to_the_score(case):
    got = lf.explain(case.model, case.table, contributions=True, as_of=case.as_of)
    for name, spec in case.model["scores"].items():
        rules = spec.get("rules")
        if not rules:
            continue
        total = [0.0] * case.table.num_rows
        mag = [0.0] * case.table.num_rows
        for i, rule in enumerate(rules):
            # the reference contribution: the rule alone, in a score of its own
            one = dict(case.model, scores={**{k: v for k, v in case.model["scores"].items()
                                              if list(case.model["scores"]).index(k)
                                              < list(case.model["scores"]).index(name)},
                                           "__one": {"rules": [rule]}})
            one.pop("segments", None)
            want = reference_score(one, table_rows(case.table), case.as_of)["__one"]
            col = got.column(f"{name}.{rule['name']}").to_pylist()
            assert col == pytest.approx(want, rel=1e-9, abs=1e-9), (name, rule)
            total = [t + c for t, c in zip(total, col)]
            mag = [g + abs(c) for g, c in zip(mag, col)]
        if "range" in spec:
            total = [t + a for t, a in zip(total, got.column(f"{name}.(range)").to_pylist())]
        # the entries sum to the score: exactly where a float can (the hand-picked test
        # below), else to the rounding of the sum (no float adjustment lands on the score)
        v = got.column(name).to_pylist()
        for t, want, g in zip(total, v, mag):
            assert abs(t - want) <= 4.5e-16 * (g + abs(want)), (t, want)


def test_reasons_order_ties_zeros_and_the_range_entry():
    t = pa.table({"x": [3.0, 0.5, 0.0, None], "y": [True, False, None, True]})
    got = lf.explain(MODEL, t, top=2, reasons_text=True).to_pylist()
    # x = 3: a 10, b 10, c 15 (capped from 30), d -5 → 30, clamped to 30: no range entry;
    # top 2 by |points|: c, then a (ties keep file order)
    assert got[0]["fit"] == 30.0
    assert got[0]["reasons_fit"] == [{"rule": "c", "points": 15.0}, {"rule": "a", "points": 10.0}]
    assert got[0]["reasons_fit_text"] == "+15 c, +10 a"
    # x = 0.5: only a → 10
    assert got[1]["reasons_fit"] == [{"rule": "a", "points": 10.0}]
    # x = 0, y NULL: nothing fires: no reasons
    assert got[2]["reasons_fit"] == [] and got[2]["reasons_fit_text"] == ""
    # x NULL, y TRUE: d -5, clamped to 0: the range entry +5 makes the entries sum to 0
    assert got[3]["reasons_fit"] == [{"rule": "d", "points": -5.0}, {"rule": "(range)", "points": 5.0}]
    assert "reasons_total" not in got[0]  # derived scores have no rules


def test_explain_leads_conditions_points_and_segments():
    t = pa.table({"id": [1, 2], "x": [5.0, None], "y": [None, True]})
    (lead,) = lf.explain.__module__ and __import__("leadscore_fast.explanations", fromlist=["x"]).explain_leads(
        MODEL, t, "id = 2", keep=["id"])
    fit = lead["scores"][0]
    assert lead["keep"] == {"id": 2} and fit["value"] == 0.0
    assert [r["condition"] for r in fit["rules"]] == ["NULL", "NULL", "NULL", "TRUE"]
    assert fit["rules"][2]["points"] is None  # x * 10 of a NULL x
    assert fit["rules"][3]["contribution"] == -5.0 and fit["range"] == 5.0
    assert lead["segments"][0]["segment"] == "cold"
    assert lead["segments"][0]["cases"] == [{"label": "hot", "condition": "FALSE"},
                                            {"label": "cold", "condition": None}]


def test_cli(tmp_path):
    from click.testing import CliRunner

    import pyarrow.parquet as pq
    import yaml
    from leadscore_fast.cli import main

    pq.write_table(pa.table({"id": [1, 2], "x": [5.0, None], "y": [None, True]}), tmp_path / "d.parquet")
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(MODEL))
    args = ["explain", str(tmp_path / "m.yaml"), str(tmp_path / "d.parquet"), "--where", "id = 1", "--keep", "id"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0 and "capped at 15" in res.output and "tier = hot" in res.output, res.output
    res = CliRunner().invoke(main, args + ["--json"])
    assert json.loads(res.output)[0]["scores"][0]["value"] == 30.0
