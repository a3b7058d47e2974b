"""model.py: loading, the builder, validation messages, round-trips, engine JSON."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from leadscore_fast.expr import col, days_since, decay
from leadscore_fast.model import Bands, Model, Rule, SegmentCase, Src

pytest.importorskip("leadscore_fast._engine")  # the ModelError class lives in the extension
from leadscore_fast.errors import ModelError  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "b2b_inbound.yaml"

YAML = """\
name: b2b
as_of: 2026-11-01T00:00:00Z
scores:
  fit:
    range: [0, 100]
    rules:
      - name: target industry
        when: industry IN ('software', 'fintech')
        points: 15
      - name: visits
        points: 5 * pricing_visits
        cap: 25
      - name: recent
        points: decay(20, days_since(last_activity_at), 30)
  engagement:
    rules:
      - {name: webinar, when: webinar_attended, points: 10}
  total:
    expr: 0.6 * fit + 0.4 * engagement
segments:
  tier:
    - { name: hot,  when: total >= 80 }
    - { name: warm, when: total >= 40 }
    - { name: cold }
"""


def built() -> Model:
    return (Model("b2b", as_of="2026-11-01T00:00:00Z")
            .score("fit", range=(0, 100))
            .rule("target industry", when="industry IN ('software', 'fintech')", points=15)
            .rule("visits", points="5 * pricing_visits", cap=25)
            .rule("recent", points="decay(20, days_since(last_activity_at), 30)")
            .score("engagement")
            .rule("webinar", when="webinar_attended", points=10)
            .derived("total", "0.6 * fit + 0.4 * engagement")
            .segments("tier", [("hot", "total >= 80"), ("warm", "total >= 40"), ("cold", None)]))


def err(text: str, source: str = "m.yaml") -> str:
    with pytest.raises(ModelError) as e:
        Model.from_yaml_string(text, source)
    return str(e.value)


def test_yaml_loads_into_dataclasses():
    m = Model.from_yaml_string(YAML, "m.yaml")
    assert m.name == "b2b" and m.as_of == "2026-11-01T00:00:00Z"
    assert m.score_names == ["fit", "engagement", "total"] and m.segment_names == ["tier"]
    fit = m.scores[0]
    assert fit.range == (0, 100) and not fit.derived
    assert fit.rules[0] == Rule("target industry", Src("15"),
                                Src("industry IN ('software', 'fintech')"))
    assert fit.rules[1].cap == 25 and fit.rules[1].floor is None
    assert m.scores[2].derived and m.scores[2].expr.text == "0.6 * fit + 0.4 * engagement"
    assert m.segmentations[0].cases[-1] == SegmentCase("cold", None)


def test_builder_equals_yaml():
    assert built() == Model.from_yaml_string(YAML)


def test_builder_with_expr_objects():
    m = (Model("b2b", as_of="2026-11-01")
         .score("fit", range=(0, 100))
         .rule("target industry", when=col("industry").isin("software", "fintech"), points=15)
         .rule("visits", points=5 * col("pricing_visits"), cap=25)
         .rule("recent", points=decay(20, days_since("last_activity_at"), 30))
         .derived("total", 0.6 * col("fit") + 0.4 * col("engagement"))
         .segments("tier", [("hot", col("total") >= 80), ("warm", "total >= 40"), ("cold", None)]))
    assert m.scores[0].rules[1].points.text == "5 * pricing_visits"
    assert m.scores[1].expr.text == "(0.6 * fit) + (0.4 * engagement)"
    assert m.segmentations[0].cases[0].when.text == "total >= 80"
    same = Model("b2b", as_of="2026-11-01T00:00:00Z").score("fit", range=[0, 100], rules=[
        {"name": "target industry", "when": "industry IN ('software', 'fintech')", "points": 15},
        Rule("visits", Src("5 * pricing_visits"), cap=25),
        {"name": "recent", "points": "decay(20, days_since(last_activity_at), 30)"},
    ]).derived("total", "(0.6 * fit) + (0.4 * engagement)").segments(
        "tier", {"hot": "total >= 80", "warm": "total >= 40", "cold": None})
    assert same == m


def test_round_trips():
    for m in (built(), Model.from_yaml(EXAMPLE)):
        assert Model.from_yaml_string(m.to_yaml()) == m
        assert Model.from_dict(m.to_dict()) == m
    d = built().to_dict()
    assert d["scores"]["fit"]["rules"][0]["points"] == 15  # numbers stay numbers
    assert d["segments"]["tier"][2] == {"name": "cold"}


def test_yaml_scalar_types():
    m = Model.from_yaml_string("""\
scores:
  s:
    rules:
      - {name: always, when: yes, points: 1.5}
      - {name: no, when: false, points: -2}
segments:
  on: [{name: off, when: s > 0}, {name: 2024}]
""", "m.yaml")
    r = m.scores[0].rules
    assert (r[0].when.text, r[0].points.text) == ("TRUE", "1.5")
    assert (r[1].name, r[1].when.text, r[1].points.text) == ("no", "FALSE", "-2")
    assert m.segment_names == ["on"] and [c.label for c in m.segmentations[0].cases] == [
        "off", "2024"]
    assert m.name == "model"


def test_as_of_normalised():
    assert Model.from_yaml_string("as_of: 2026-11-01\nscores: {s: {expr: '1'}}").as_of == \
        "2026-11-01T00:00:00Z"
    assert Model("m", as_of="2026-11-01T01:00:00+01:00").as_of == "2026-11-01T00:00:00Z"
    assert "ISO-8601" in err("as_of: soon\nscores: {s: {expr: '1'}}")


def test_engine_json_matches_the_contract():
    j = json.loads(Model.from_yaml_string(YAML, "models/b2b.yaml").to_engine_json())
    assert j["name"] == "b2b" and j["source"] == "models/b2b.yaml"
    assert j["as_of"] == "2026-11-01T00:00:00Z"
    fit = j["scores"][0]
    assert (fit["name"], fit["line"], fit["range"], fit["expr"]) == ("fit", 4, [0, 100], None)
    assert fit["rules"][0] == {
        "name": "target industry", "line": 7,
        "when": {"text": "industry IN ('software', 'fintech')", "line": 8, "col": 15},
        "points": {"text": "15", "line": 9, "col": 17}, "cap": None, "floor": None}
    assert fit["rules"][1]["cap"] == 25
    total = j["scores"][2]
    assert total == {"name": "total", "line": 18, "range": None, "rules": None,
                     "expr": {"text": "0.6 * fit + 0.4 * engagement", "line": 19, "col": 11}}
    tier = j["segments"][0]
    assert (tier["name"], tier["line"]) == ("tier", 21)
    assert tier["cases"][0] == {"label": "hot", "line": 22,
                                "when": {"text": "total >= 80", "line": 22, "col": 27}}
    assert tier["cases"][2] == {"label": "cold", "line": 24, "when": None}
    # built in Python: positions are unknown (0)
    jb = json.loads(built().to_engine_json())
    assert jb["source"] == "<python>" and jb["scores"][0]["rules"][0]["when"]["line"] == 0


def test_bands_desugar():
    m = Model.from_yaml_string("""\
scores: {total: {expr: a}}
segments:
  tier: { bands: { score: total, edges: [40, 80], labels: [cold, warm, hot] } }
""", "m.yaml")
    g = m.segmentations[0]
    assert g.bands == Bands("total", (40, 80), ("cold", "warm", "hot"))
    assert [(c.label, c.when.text) for c in g.cases] == [
        ("hot", "total >= 80"), ("warm", "total >= 40"), ("cold", "total IS NOT NULL")]
    assert g.cases[0].when.line == 3
    # the shorthand survives to_dict / to_yaml, and equals the builder's
    assert m.to_dict()["segments"]["tier"] == {
        "bands": {"score": "total", "edges": [40, 80], "labels": ["cold", "warm", "hot"]}}
    assert Model.from_yaml_string(m.to_yaml()) == m
    b = Model("model").derived("total", "a").bands("tier", "total", [40, 80],
                                                     ["cold", "warm", "hot"])
    assert b == m


@pytest.mark.parametrize("bands, message", [
    ("{score: t, edges: [80, 40], labels: [a, b, c]}", "4:41: segmentation 'tier': bands edges "
     "must be strictly increasing, but 40 follows 80"),
    ("{score: t, edges: [40, 40], labels: [a, b, c]}", "strictly increasing"),
    ("{score: t, edges: [40, 80], labels: [a, b]}", "4:54: segmentation 'tier': bands needs 3 "
     "labels for 2 edges"),
    ("{score: t, edges: [40], labels: [a, a]}", "duplicate label 'a'"),
    ("{score: t, edges: [x], labels: [a, b]}", "bands edge must be a number, got str 'x'"),
    ("{score: t, labels: [a, b]}", "bands needs 'edges'"),
    ("{score: t, edges: [1], labels: [a, b], label: x}", "4:57: unknown key 'label' in "
     "segmentation 'tier' bands; did you mean 'labels'?"),
])
def test_bands_errors(bands, message):
    text = f"scores:\n  t: {{expr: a}}\nsegments:\n  tier: {{ bands: {bands} }}\n"
    assert message in err(text)


@pytest.mark.parametrize("text, message", [
    ("", "m.yaml: empty model"),
    ("name: x\n", "m.yaml:1:1: empty model: it defines no scores"),
    ("scores: {}\n", "m.yaml:1:9: empty model"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, pionts: 1}\n",
     "m.yaml:4:19: unknown key 'pionts' in score 'fit', rule #1; did you mean 'points'?"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, when: x}\n",
     "m.yaml:4:9: score 'fit', rule 'a' is missing 'points'"),
    ("scores:\n  fit:\n    rules:\n      - {points: 1}\n", "m.yaml:4:9: score 'fit', rule #1 "
     "has no 'name'"),
    ("scores:\n  fit:\n    expr: a\n    rules: []\n", "m.yaml:3:5: score 'fit' has both "
     "'rules' and 'expr'"),
    ("scores:\n  fit:\n    range: [0, 1]\n", "m.yaml:3:5: score 'fit' needs 'rules'"),
    ("scores:\n  fit:\n    rules: []\n", "m.yaml:3:12: score 'fit': 'rules' must be a "
     "non-empty list"),
    ("scores:\n  fit: {expr: a, range: [0, x]}\n", "m.yaml:2:29: score 'fit': range hi must "
     "be a number, got str 'x'"),
    ("scores:\n  fit: {expr: a, range: [9, 1]}\n", "m.yaml:2:25: score 'fit': range lo 9 is "
     "greater than hi 1"),
    ("scores:\n  fit: {expr: a, range: 5}\n", "range must be [lo, hi]"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, points: 1, cap: '5'}\n",
     "m.yaml:4:36: score 'fit', rule 'a': cap must be a number, got str '5'"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, points: 1, cap: 5, floor: 6}\n",
     "m.yaml:4:45: score 'fit', rule 'a': floor 6 is greater than cap 5"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, points: ''}\n",
     "m.yaml:4:28: score 'fit', rule 'a': points must be an expression: empty expression"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, points: [1]}\n",
     "points must be an expression: got a list"),
    ("scores:\n  fit:\n    rules:\n      - {name: a, points: .nan}\n", "NaN"),
    ("scores: {fit: {expr: a}}\nsegments: {fit: [{name: x}]}\n",
     "m.yaml:2:12: duplicate name 'fit': already a score"),
    ("scores: {fit: {expr: a}}\nsegments: {s: [{name: x, when: a}, {name: x}]}\n",
     "m.yaml:2:36: segmentation 's': duplicate label 'x'"),
    ("scores: {fit: {expr: a}}\nsegments: {s: [{name: x}, {name: y, when: a}]}\n",
     "m.yaml:2:27: segmentation 's': case 'y' comes after the default case 'x'"),
    ("scores: {fit: {expr: a}}\nsegments: {s: []}\n", "non-empty list of cases"),
    ("scores: {fit: {expr: a}}\nsegment: {}\n", "m.yaml:2:1: unknown key 'segment' in the "
     "model; did you mean 'segments'?"),
    ("scores: {fit: {expr: a}}\nfoo: 1\n", "expected one of: name, description, as_of"),
    ("scores: [a, b]\n", "m.yaml:1:9: scores must be a mapping"),
    ("- a\n", "m.yaml:1:1: the model must be a mapping, got a list"),
])
def test_validation_messages(text, message):
    msg = err(text)
    assert message in msg, msg
    assert msg.startswith("m.yaml"), msg


def test_from_dict_and_builder_errors_name_the_source():
    with pytest.raises(ModelError, match=r"^<dict>: score 'a', rule 'r' is missing 'points'"):
        Model.from_dict({"scores": {"a": {"rules": [{"name": "r"}]}}})
    with pytest.raises(ModelError, match=r"^<python>: duplicate name 'fit'"):
        Model("m").score("fit").rule("r", 1).derived("fit", "2")
    with pytest.raises(ModelError, match="must follow score"):
        Model("m").derived("t", "1").rule("r", 1)
    with pytest.raises(ModelError, match="floor 3 is greater than cap 2"):
        Model("m").score("s").rule("r", 1, cap=2, floor=3)
    with pytest.raises(ModelError, match="empty model"):
        Model("m").to_engine_json()
    with pytest.raises(ModelError, match="score 's' has no rules"):
        Model("m").score("s").to_engine_json()


def test_file_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("name: x\nscores:\n  fit:\n    rules:\n      - {name: a}\n")
    with pytest.raises(ModelError, match=rf"^{p}:5:9: score 'fit', rule 'a' is missing"):
        Model.from_yaml(p)
    p.write_text("scores: {t: {expr: a}}\n")
    assert Model.from_yaml(p).name == "bad"  # the file name stands in for a missing name
    assert Model.from_yaml(p).source == str(p)


def test_example_model_loads():
    m = Model.from_yaml(EXAMPLE)
    assert m.score_names == ["fit", "engagement", "total"]
    assert m.segment_names == ["tier", "fit_band"]
    j = json.loads(m.to_engine_json())
    assert all(r["points"]["line"] > 0 for s in j["scores"] for r in s["rules"] or ())


# -- grades, bands and the fit × engagement matrix ------------------------------------------

MATRIX_YAML = YAML + """\
  grade:
    bands: { score: fit, edges: [25, 50, 75], labels: [D, C, B, A] }
  band:
    bands: { score: total, edges: [40, 80], labels: [cold, warm, hot] }
  priority:
    matrix: [grade, tier]
"""


def test_matrix_loads_round_trips_and_builds():
    m = Model.from_yaml_string(MATRIX_YAML, "m.yaml")
    g = m.segmentations[-1]
    assert (g.name, g.matrix, g.cases) == ("priority", ("grade", "tier"), [])
    assert Model.from_yaml_string(m.to_yaml()) == m
    assert Model.from_dict(m.to_dict()) == m
    assert m.to_dict()["segments"]["priority"] == {"matrix": ["grade", "tier"]}
    assert "matrix: [grade, tier]" in m.to_yaml()
    b = (built().bands("grade", "fit", edges=[25, 50, 75], labels=["D", "C", "B", "A"])
         .bands("band", col("total"), [40, 80], ["cold", "warm", "hot"])
         .matrix("priority", "grade", "tier"))
    assert b == m
    seg = json.loads(m.to_engine_json())["segments"][-1]
    assert seg == {"name": "priority", "line": seg["line"], "matrix": ["grade", "tier"]}
    assert seg["line"] == MATRIX_YAML.splitlines().index("  priority:") + 1


@pytest.mark.parametrize("pair, message", [
    ("[grade, tiers]", "m.yaml:30:21: segmentation 'priority': matrix over unknown "
                       "segmentation 'tiers'; did you mean 'tier'?"),
    ("[grade, later]", "m.yaml:30:21: segmentation 'priority': matrix over 'later', which is "
                       "defined below it; move 'later' above 'priority'"),
    ("[grade, fit]", "which is a score, not a segmentation"),
    ("[grade, priority]", "matrix over itself"),
    ("[grade]", "matrix must name two earlier segmentations, e.g. [grade, tier], got 1 names"),
    ("[grade, grade]", "names 'grade' twice"),
    ("grade", "matrix must name two earlier segmentations"),
])
def test_matrix_errors_name_file_and_line(pair, message):
    text = MATRIX_YAML.replace("[grade, tier]", pair) + "  later:\n    - cold\n"
    assert message in err(text)


def test_matrix_builder_errors():
    with pytest.raises(ModelError, match="did you mean 'tier'"):
        built().matrix("priority", "tier", "teir")
    with pytest.raises(ModelError, match="duplicate name 'tier'"):
        built().bands("grade", "fit", [50], ["low", "high"]).matrix("tier", "grade", "tier")


def test_unknown_segmentation_shorthand_is_suggested():
    assert "did you mean 'matrix'" in err(YAML + "  p:\n    matirx: [tier, tier]\n")


@pytest.mark.parametrize("bands, message", [
    ("{ score: fit, edges: [50, 25], labels: [D, C, B] }",
     "strictly increasing, but 25 follows 50"),
    ("{ score: fit, edges: [25, 25], labels: [D, C, B] }", "strictly increasing"),
    ("{ score: fit, edges: [25, 50], labels: [D, C, B, A] }",
     "needs 3 labels for 2 edges (one more label than edges), got 4"),
    ("{ score: fit, edges: [25, 50], labels: [D, C] }", "got 2"),
])
def test_band_errors(bands, message):
    assert message in err(YAML + f"  grade:\n    bands: {bands}\n")


def test_bands_semantics_edges_and_nulls():
    """Exactly 40 is warm (each edge starts the next band); a NULL score value is NULL."""
    import pyarrow as pa

    import leadscore_fast as lf

    m = (Model("m").derived("total", "coalesce(v, 0)")
         .bands("tier", "total", [40, 80], ["cold", "warm", "hot"])
         .bands("raw", "v", [40, 80], ["cold", "warm", "hot"])
         .bands("grade", "total", [25, 50, 75], ["D", "C", "B", "A"])
         .matrix("priority", "grade", "tier")
         .matrix("raw_priority", "grade", "raw")
         .segments("focus", [("go", "tier != 'cold' AND raw IS NOT NULL"), ("later", None)]))
    v = [None, 0.0, 39.999, 40.0, 79.9, 80.0, 1e9, -5.0]
    out = lf.score(m, pa.table({"v": pa.array(v, pa.float64())})).to_pydict()
    assert out["tier"] == ["cold", "cold", "cold", "warm", "warm", "hot", "hot", "cold"]
    assert out["raw"] == [None, "cold", "cold", "warm", "warm", "hot", "hot", "cold"]
    assert out["grade"] == ["D", "D", "C", "C", "A", "A", "A", "D"]
    assert out["priority"] == ["D-cold", "D-cold", "C-cold", "C-warm", "A-warm", "A-hot",
                               "A-hot", "D-cold"]
    assert out["raw_priority"][0] is None and out["raw_priority"][3] == "C-warm"
    assert out["focus"] == ["later", "later", "later", "go", "go", "go", "go", "later"]
    program = lf.compile(m, pa.schema([("v", pa.float64())]))
    labels = program.segments[m.segment_names.index("priority")]["labels"]
    assert labels == [f"{g}-{t}" for g in "ABCD" for t in ("hot", "warm", "cold")]
