"""lf.rule_stats / `leadscore rules` / `leadscore check --data`: per-rule counts checked
against a plain numpy computation on generated data (several batches, NULLs, caps, floors,
a label), one hand-picked test per warning, the CLI's JSON and errors, the real data sets."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.cli import main  # noqa: E402
from leadscore_fast.sinks import write_output  # noqa: E402

MODEL = {"name": "m", "scores": {
    "fit": {"range": [0, 40], "rules": [
        {"name": "big x", "when": "x > 0.5", "points": "x * 30", "cap": 20},
        {"name": "flag", "when": "f", "points": -5},
        {"name": "student", "when": "occ = 'Student'", "points": 7},
        {"name": "neg", "when": "x < 0.3", "points": "x * 50 - 12", "floor": -4},
        {"name": "always", "points": 1}]},
    "total": {"expr": "fit * 2"}},
    "segments": {"tier": [{"name": "hot", "when": "fit >= 15"}, {"name": "cold"}]}}


def _generated(n=20_000, seed=7):
    rng = np.random.default_rng(seed)
    x = rng.random(n)
    x[rng.random(n) < 0.1] = np.nan
    f = rng.random(n) < 0.3
    fnull = rng.random(n) < 0.2
    occ = rng.choice(np.array(["Student", "Working Professional", "Unemployed"]), n)
    onull = rng.random(n) < 0.15
    y = rng.random(n) < 0.25
    t = pa.table({"x": pa.array(x),  # NaN reads as NULL
                  "f": pa.array(f, mask=fnull), "occ": pa.array(occ, mask=onull),
                  "conv": pa.array(y)})
    return pa.Table.from_batches(t.to_batches(max_chunksize=3_000)), (x, f, fnull, occ, onull, y)


def test_counts_contributions_bounds_and_lift_match_numpy():
    t, (x, f, fnull, occ, onull, y) = _generated()
    h = lf.rule_stats(MODEL, t, label="conv")
    n = len(x)
    xn = np.isnan(x)
    with np.errstate(invalid="ignore"):
        conds = {"big x": (x > 0.5, xn), "flag": (f & ~fnull, fnull),
                 "student": ((occ == "Student") & ~onull, onull),
                 "neg": (x < 0.3, xn), "always": (np.ones(n, bool), np.zeros(n, bool))}
        pts = {"big x": np.minimum(x * 30, 20), "flag": np.full(n, -5.0),
               "student": np.full(n, 7.0), "neg": np.maximum(x * 50 - 12, -4),
               "always": np.ones(n)}
    assert h.leads == n
    rate = y.mean()
    for r in h.rules:
        hit, null = conds[r["rule"]]
        hit = hit & ~null
        assert (r["true"], r["null"], r["false"]) == (hit.sum(), null.sum(), n - hit.sum() - null.sum())
        assert r["share"] == hit.sum() / n
        assert r["mean_contribution"] == pytest.approx(np.where(hit, pts[r["rule"]], 0).sum() / n, rel=1e-12)
        assert r["conversion_hits"] == pytest.approx(y[hit].mean(), rel=1e-12)
        assert r["lift"] == pytest.approx(y[hit].mean() / rate, rel=1e-12)
    by = {r["rule"]: r for r in h.rules}
    with np.errstate(invalid="ignore"):
        assert by["big x"]["capped"] == ((x > 0.5) & (x * 30 > 20)).sum()
        assert by["neg"]["floored"] == ((x < 0.3) & (x * 50 - 12 < -4)).sum()
    assert by["big x"]["floored"] == 0 and by["flag"]["capped"] == 0
    assert h.conversion_rate == pytest.approx(rate, rel=1e-12)


def _kinds(h):
    return [(w["kind"], w.get("rule"), w.get("column")) for w in h.warnings]


def test_warning_never_fires_and_always_fires():
    m = {"name": "m", "scores": {"s": {"rules": [
        {"name": "never", "when": "v > 100", "points": 1},
        {"name": "always", "when": "v >= 0", "points": 1},
        {"name": "sometimes", "when": "v > 2", "points": 1},
        {"name": "no condition", "points": 1}]}}}
    h = lf.rule_stats(m, pa.table({"v": [0, 1, 2, 3, 4]}))
    assert _kinds(h) == [("never_fires", "never", None), ("always_fires", "always", None)]
    assert "never fires" in h.warnings[0]["message"] and "5 leads" in h.warnings[0]["message"]


def test_warning_unknown_literal_with_did_you_mean():
    m = {"name": "m", "scores": {"s": {"rules": [
        {"name": "pro", "when": "occ = 'Working Profesional'", "points": 10},
        {"name": "in list", "when": "occ IN ('Student', 'Housewif')", "points": 1},
        {"name": "fine", "when": "'Student' = occ", "points": 1}]}},
        "segments": {"g": [{"name": "odd", "when": "occ <> 'Unemployd'"}, {"name": "rest"}]}}
    t = pa.table({"occ": ["Working Professional", "Student", "Housewife", None, "Unemployed"]})
    h = lf.rule_stats(m, t)
    unknown = [w for w in h.warnings if w["kind"] == "unknown_value"]
    assert [(w["value"], w["suggestion"]) for w in unknown] == [
        ("Working Profesional", "Working Professional"), ("Housewif", "Housewife"),
        ("Unemployd", "Unemployed")]
    assert unknown[0]["message"] == ("score 's', rule 'pro': column 'occ' never contains "
                                     "'Working Profesional'; did you mean 'Working Professional'?")
    assert unknown[2]["message"].startswith("segmentation 'g', case 'odd'")
    # and the rule that can never fire says so too
    assert ("never_fires", "pro", None) in _kinds(h)


def test_unknown_literal_in_a_dictionary_column_and_no_close_value():
    m = {"name": "m", "scores": {"s": {"rules": [{"name": "r", "when": "c = 'zzz'", "points": 1}]}}}
    t = pa.table({"c": pa.array(["alpha", "beta", "alpha"]).dictionary_encode()})
    (w, *_) = [w for w in lf.rule_stats(m, t).warnings if w["kind"] == "unknown_value"]
    assert w["suggestion"] is None and "it holds e.g. 'alpha', 'beta'" in w["message"]


def test_warning_null_heavy_names_the_column():
    m = {"name": "m", "scores": {"s": {"rules": [
        {"name": "rich", "when": "revenue > 10 AND size > 1", "points": 5}]}}}
    t = pa.table({"revenue": pa.array([None, None, None, 20.0, 5.0]), "size": [2, 2, 2, 2, 2]})
    h = lf.rule_stats(m, t)
    assert _kinds(h) == [("null_heavy", "rich", "revenue")]
    assert "NULL for 60% of leads, 60% because column 'revenue' is NULL" in h.warnings[0]["message"]
    # below the threshold: no warning
    t2 = pa.table({"revenue": pa.array([None, 30.0, 3.0, 20.0, 5.0]), "size": [2, 2, 2, 2, 2]})
    assert lf.rule_stats(m, t2).warnings == []


@pytest.fixture
def files(tmp_path):
    import yaml

    model = tmp_path / "m.yaml"
    model.write_text(yaml.safe_dump({"name": "m", "scores": {"fit": {"rules": [
        {"name": "pro", "when": "occ = 'Working Profesional'", "points": 10},
        {"name": "visits", "when": "visits > 1", "points": "visits", "cap": 3}]}}}))
    data = tmp_path / "d.csv"
    write_output(pa.table({"occ": ["Working Professional", "Student", "Student", None],
                           "visits": [1, 2, 5, 9], "converted": ["yes", "no", "yes", "no"]}), data)
    return model, data


def _cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_cli_rules_json_table_and_errors(files):
    model, data = files
    r = _cli("rules", model, data, "--label", "converted", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["leads"] == 4 and d["conversion_rate"] == 0.5
    visits = d["rules"][1]
    assert (visits["true"], visits["capped"], visits["conversion_hits"]) == (3, 2, 1 / 3)
    assert [w["kind"] for w in d["warnings"]] == ["never_fires", "unknown_value"]
    r = _cli("rules", model, data)
    assert r.exit_code == 0 and "fit / visits" in r.output
    assert "did you mean 'Working Professional'?" in r.output
    r = _cli("rules", model, data, "--label", "convertd")
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "unknown label column 'convertd' (did you mean 'converted'?)" in r.output


def test_cli_check_data_prints_the_warnings(files):
    model, data = files
    r = _cli("check", model, "--data", data)
    assert r.exit_code == 0, r.output
    assert "OK" in r.output and "scored 4 leads" in r.output
    assert "never contains 'Working Profesional'; did you mean 'Working Professional'?" in r.output
    r = _cli("check", model)  # without --data: no scoring, no warnings
    assert r.exit_code == 0 and "warning" not in r.output


def test_x_education_rules_end_to_end():
    from test_real_data import DATA, EXAMPLES

    path = DATA / "x_education_leads.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    m = lf.Model.from_yaml(str(EXAMPLES / "x_education.yaml"))
    h = lf.rule_stats(m, lf.source(path, null_values=["Select"]), label="Converted")
    assert h.leads == 9_240 and h.conversion_rate == pytest.approx(3_561 / 9_240)
    assert all(r["true"] + r["false"] + r["null"] == 9_240 for r in h.rules)
    # the typo of the issue, written into the shipped model: caught, with the right value
    bad = m.to_dict()
    for s in bad["scores"].values():
        for r in s.get("rules", []):
            if r.get("when") and "'Working Professional'" in r["when"]:
                r["when"] = r["when"].replace("'Working Professional'", "'Working Profesional'")
    h2 = lf.rule_stats(bad, lf.source(path, null_values=["Select"]))
    assert any(w["kind"] == "unknown_value" and w["suggestion"] == "Working Professional"
               for w in h2.warnings)


def test_generated_models_against_the_reference_evaluator():
    """TRUE / NULL counts and mean contributions of every rule of generated models (NULLs,
    caps, floors, ranges) against tests/reference.py: the condition counted through one-rule
    scores (`when: c` and `when: (c) IS NULL`, points 1), the contribution as the rule alone."""
    from hypothesis import given

    from reference import reference_score, table_rows
    from strategies import cases, examples

    @examples(0.2)
    @given(cases(max_rows=25))
    def check(case):
        h = lf.rule_stats(case.model, case.table, as_of=case.as_of)
        rows = table_rows(case.table)
        names = list(case.model["scores"])
        got = iter(h.rules)
        for name, spec in case.model["scores"].items():
            earlier = {k: v for k, v in case.model["scores"].items() if names.index(k) < names.index(name)}
            for rule in spec.get("rules") or []:
                r = next(got)
                assert (r["score"], r["rule"]) == (name, rule["name"])
                probes = {"__rule": {"rules": [rule]}}
                if rule.get("when") is not None:
                    probes["__t"] = {"rules": [{"name": "t", "when": rule["when"], "points": 1}]}
                    probes["__n"] = {"rules": [{"name": "n", "when": f"({rule['when']}) IS NULL", "points": 1}]}
                ref = reference_score({**case.model, "scores": {**earlier, **probes}, "segments": {}},
                                      rows, case.as_of)
                n = len(rows)
                if rule.get("when") is not None:
                    assert r["true"] == sum(ref["__t"]) and r["null"] == sum(ref["__n"])
                else:
                    assert (r["true"], r["null"]) == (n, 0)
                assert r["true"] + r["false"] + r["null"] == n
                if n:
                    want = sum(ref["__rule"]) / n
                    assert r["mean_contribution"] == pytest.approx(want, rel=1e-9, abs=1e-9)

    check()
