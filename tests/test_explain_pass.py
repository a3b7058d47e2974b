"""lf.explain's one pass (explain_pass.py, engine/src/explain.rs): the reasons picked in the
scoring pass on the native executor agree bit for bit with the reasons picked from the
materialised contribution columns (checked against the reference in test_explain.py), on
generated models (nulls, caps, floors, ranges) cut into many chunks and blocks; and
CompiledModel.explain_one is lf.explain's row."""
from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import explain_pass  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402
from strategies import cases, examples  # noqa: E402


def materialised(*args, **kw):
    """lf.explain on the other path: contribution columns, then the reasons from them."""
    with mock.patch.object(explain_pass, "unsupported", lambda prep: "test"):
        return lf.explain(*args, **kw)


def same(got: pa.Table, want: pa.Table):
    assert got.schema == want.schema
    for name in got.column_names:
        a, b = got.column(name), want.column(name)
        assert a.to_pylist() == b.to_pylist() or _nan_equal(a, b), name
        if pa.types.is_list(a.type):  # the points to the bit
            pa_, pb = (np.asarray(c.combine_chunks().flatten().field("points")) for c in (a, b))
            assert pa_.tobytes() == pb.tobytes(), name
        elif pa.types.is_floating(a.type):
            assert np.asarray(a.combine_chunks().fill_null(0.0)).tobytes() == \
                np.asarray(b.combine_chunks().fill_null(0.0)).tobytes(), name


def _nan_equal(a, b):
    return all(x == y or (_nan(x) and _nan(y)) for x, y in zip(a.to_pylist(), b.to_pylist()))


def _nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


def one_pass_runs(model, table) -> bool:
    from leadscore_fast.explanations import as_model, plan_contributions
    from leadscore_fast.runner import Session

    ses = Session(plan_contributions(as_model(model)).model, table, as_of=None, threads=1,
                  chunk_rows=None)
    return explain_pass.unsupported(ses.prep) is None


@examples(0.3)
@given(cases(max_rows=40))
def test_one_pass_is_the_materialised_path_bit_for_bit(case):
    for top, threads in ((1, 1), (3, 2), (40, 2)):
        kw = {"top": top, "as_of": case.as_of, "threads": threads,
              "chunk_rows": case.chunk_rows, "reasons_text": top == 3}
        same(lf.explain(case.model, case.table, **kw), materialised(case.model, case.table, **kw))


@pytest.fixture(scope="module")
def leads():
    t = generate_leads(60_000, seed=11, batch_rows=25_000)
    return t


def test_reference_model_in_many_blocks(leads):
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)
    assert one_pass_runs(model, leads)
    got = lf.explain(model, leads, top=3, keep=["lead_id"], threads=2, chunk_rows=1000)
    assert got.column("reasons_fit").num_chunks > 3  # one list array per executor block
    same(got, materialised(model, leads, top=3, keep=["lead_id"], threads=2, chunk_rows=1000))
    scored = lf.score(model, leads, keep=["lead_id"])
    for name in scored.column_names:
        assert got.column(name).equals(scored.column(name)), name


def test_every_reason_sums_to_the_score(leads):
    # top = every rule: the entries, the clamp's included, add up to the score
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)
    got = lf.explain(model, leads.slice(0, 5000), top=8, threads=2, chunk_rows=512)
    for s in ("fit", "engagement"):
        for v, reasons in zip(got.column(s).to_pylist(), got.column(f"reasons_{s}").to_pylist()):
            total = math.fsum(r["points"] for r in reasons)
            assert abs(total - v) <= 1e-12 * max(1.0, abs(v)), (v, reasons)


def test_hand_picked_range_only_floors_and_empty_input():
    model = {"name": "m", "scores": {
        "base": {"range": [10, 20], "rules": [{"name": "never", "when": "x > 100", "points": 1}]},
        "s": {"range": [0, 5], "rules": [
            {"name": "big", "when": "x > 0", "points": "x", "floor": 1},
            {"name": "neg", "when": "y", "points": -3}]}}}
    t = pa.table({"x": [0.5, 9.0, None, -2.0], "y": [True, None, True, False]})
    got = lf.explain(model, t, top=1).to_pylist()
    # a rule that never fires, clamped up to 10: only the range entry
    assert [r["reasons_base"] for r in got] == [[{"rule": "(range)", "points": 10.0}]] * 4
    # x = 0.5 floored to 1, y -3 → -2 → clamped to 0: top 1 is neg, then the range's +2
    assert got[0]["reasons_s"] == [{"rule": "neg", "points": -3.0}, {"rule": "(range)", "points": 2.0}]
    # x = 9 → 9, clamped to 5: big, then -4
    assert got[1]["reasons_s"] == [{"rule": "big", "points": 9.0}, {"rule": "(range)", "points": -4.0}]
    assert got[3]["reasons_s"] == []
    empty = lf.explain(model, t.slice(0, 0), top=2)
    assert empty.num_rows == 0 and empty.schema == lf.explain(model, t, top=2).schema


def test_explain_one_is_the_row_of_lf_explain(leads):
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)
    t = leads.slice(0, 300)
    cm = lf.compile(model, t.schema)
    want = lf.explain(model, t, top=2).to_pylist()
    for i, row in enumerate(t.to_pylist()):
        got = cm.explain_one(row, top=2)
        assert got == want[i] or _rows_nan_equal(got, want[i]), i
    # a missing column is NULL, unknown keys are ignored, as in score_one
    lead = dict(t.to_pylist()[0], industry=None, extra="x")
    lead.pop("company_size")
    row = dict(t.to_pylist()[0], industry=None, company_size=None)
    assert cm.explain_one(lead) == lf.explain(model, pa.Table.from_pylist([row], t.schema)).to_pylist()[0]


def _rows_nan_equal(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        a[k] == b[k] or (_nan(a[k]) and _nan(b[k])) for k in a)
