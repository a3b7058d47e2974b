"""score_one's fast path (``_engine.score_row``: one lead's values straight to the native
executor) against the batch path, bit for bit: synthetic leads and every conformance grid
(strings, multi-column keys, dates, flags, overflow)."""
from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from conformance.table import conformance_table  # noqa: E402
from leadscore_fast import synthetic  # noqa: E402
from test_conformance import GRIDS, grid_model, load_grid  # noqa: E402


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        x == y or (isinstance(x, float) and isinstance(y, float) and math.isnan(x) and math.isnan(y))
        for x, y in ((a[k], b[k]) for k in a))


def batch_row(cm, row: dict, schema: pa.Schema) -> dict:
    out = cm.score_batch(pa.Table.from_pylist([row], schema=schema)).to_pylist()[0]
    return {k: out[k] for k in cm.score_names + cm.segment_names}


def test_synthetic_leads_score_the_same_one_by_one():
    t = synthetic.generate_leads(500, seed=11)
    cm = lf.compile(lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML), t.schema)
    whole = lf.score(cm, t).to_pylist()
    for row, want in zip(t.to_pylist(), whole):
        got = cm._score_row(row, None)
        assert got is not None
        assert same(got, {k: want[k] for k in got})
        assert same(cm.score_one(row), got)


@pytest.mark.parametrize("grid", GRIDS, ids=lambda p: p.stem)
def test_every_conformance_grid_row(grid):
    cases, departures = load_grid(grid)
    cases += [(e, k) for e, k, _ in departures]
    model = grid_model(cases)
    table = conformance_table()
    cm = lf.compile(model, table.schema)
    want = lf.score(cm, table).to_pylist()
    for i, row in enumerate(table.to_pylist()):
        got = cm._score_row(row, None)
        assert got is not None
        assert same(got, {k: want[i][k] for k in got}), i


def test_values_of_other_types_take_the_arrow_path():
    t = pa.table({"n": pa.array([3], pa.int64()), "x": [1.5]})
    m = {"name": "m", "scores": {"s": {"rules": [{"name": "r", "points": "n * x"}]}}}
    cm = lf.compile(m, t.schema)
    assert cm._score_row({"n": np.int64(3), "x": 1.5}, None) is None  # a numpy scalar
    assert cm.score_one({"n": np.int64(3), "x": 1.5}) == {"s": 4.5}
    assert cm.score_one({"n": 3, "x": 1.5}) == {"s": 4.5}
    assert cm.score_one({"x": 1.5}) == {"s": 0.0}  # a missing column is NULL


def test_values_read_from_the_dict_as_the_batch_path_reads_them():
    """RowScorer takes each plain Python value as its column's kind, and hands anything else
    (a bool where a number goes, an int past int64, a mapping that is not a dict) to the
    Arrow path, which gives the batch path's answer or its error."""
    import collections
    import datetime as dt

    t = pa.table({"n": pa.array([3], pa.int64()), "x": [1.5], "ok": [True],
                  "tags": pa.array([["a"]], pa.list_(pa.string())),
                  "at": pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us", "UTC"))})
    m = {"name": "m", "as_of": "2026-11-01T00:00:00Z", "scores": {"s": {"rules": [
        {"name": "r", "points": "n * x"},
        {"name": "b", "when": "ok", "points": 1},
        {"name": "h", "when": "has_any(tags, 'b', 'c')", "points": 100},
        {"name": "d", "when": "days_since(at) > 30", "points": 1000}]}}}
    cm = lf.compile(m, t.schema)
    lead = {"n": 3, "x": 1.5, "ok": True, "tags": ("z", "c"), "at": dt.date(2026, 1, 1)}
    assert cm._score_row(lead, None) == {"s": 1105.5}
    assert cm.score_one(collections.OrderedDict(lead)) == {"s": 1105.5}
    assert cm.score_one({**lead, "tags": [None, 1, "a"], "at": None, "x": 2}) == {"s": 7.0}
    assert cm._score_row({**lead, "n": True}, None) is None  # a bool is no BIGINT here
    assert cm._score_row({**lead, "ok": 1}, None) is None    # nor an int a BOOLEAN
    assert cm._score_row({**lead, "n": 2 ** 63}, None) is None
    with pytest.raises(lf.errors.LeadscoreError, match="'n'"):
        cm.score_one({**lead, "n": 2 ** 63})
    assert cm.score_one({**lead, "at": "2026-10-30T00:00:00Z"}) == {"s": 105.5}
    assert cm.score_one(lead, as_of="2026-01-15") == {"s": 105.5}
