"""Property: learn never writes a model the engine rejects, whatever the column types, names,
nulls and cardinalities, and the engine puts every row in the bin learn counted it in."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, event, given, settings, strategies as st

pytest.importorskip("sklearn")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast.learning import learn  # noqa: E402
from leadscore_fast.queries import QueryError  # noqa: E402

names = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=8)
words = st.text(st.sampled_from("ab' \"#:\n\\é%_"), max_size=4)


@st.composite
def column(draw, n):
    kind = draw(st.sampled_from(["int", "float", "bool", "text", "date", "timestamp"]))
    card = draw(st.integers(1, 12))
    null = draw(st.sampled_from([0.0, 0.1, 0.5]))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    nulls = rng.random(n) < null
    if kind == "int":
        pool = draw(st.lists(st.integers(-10**12, 10**12), min_size=card, max_size=card))
        v = [int(x) for x in rng.choice(pool, n)]
        arr = pa.array(v, pa.int64(), mask=nulls)
    elif kind == "float":
        pool = draw(st.lists(st.floats(-1e9, 1e9, allow_nan=False), min_size=card,
                             max_size=card)) if card < 12 else None
        v = rng.choice(pool, n) if pool else rng.normal(size=n) * 10 ** rng.integers(-3, 6)
        arr = pa.array(v, pa.float64(), mask=nulls)
    elif kind == "bool":
        arr = pa.array(rng.random(n) < 0.5, mask=nulls)
    elif kind == "text":
        pool = draw(st.lists(words, min_size=card, max_size=card))
        arr = pa.array([str(x) for x in rng.choice(pool, n)], pa.string(), mask=nulls)
        if draw(st.booleans()):
            arr = arr.dictionary_encode()
    elif kind == "date":
        arr = pa.array(rng.integers(19000, 20500, n).astype(np.int32), pa.date32(), mask=nulls)
    else:
        us = rng.integers(1_600_000_000, 1_800_000_000, n) * 1_000_000
        arr = pa.array(us, pa.timestamp("us", tz=draw(st.sampled_from([None, "UTC"]))),
                       mask=nulls)
    return arr


@st.composite
def tables(draw):
    n = draw(st.integers(30, 300))
    k = draw(st.integers(1, 4))
    cols = draw(st.lists(names, min_size=k, max_size=k, unique=True).filter(
        lambda c: "y" not in c))
    arrays = [draw(column(n)) for _ in cols]
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    y = rng.random(n) < 0.4
    y[:2] = [True, False]
    return pa.table(arrays + [pa.array(y)], names=cols + ["y"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(tables(), st.sampled_from([0.0, 0.3]))
def test_learn_writes_models_the_engine_compiles(table, holdout):
    try:
        r = learn(table, "y", holdout=holdout, baselines=False, min_iv=0.0,
                  as_of=dt.datetime(2026, 11, 1))
    except QueryError as e:
        assert "no column" in str(e) or "fewer than the bins" in str(e), str(e)
        event("nothing to learn")
        return
    event(f"learned {len(r.columns)} columns")
    model = lf.Model.from_yaml_string(r.yaml)
    lf.compile(model, table.schema)
    total = np.asarray(lf.score(model, table).column(r.total).to_numpy(zero_copy_only=False))
    expect = r.scaling.base_points + sum(np.asarray(r.points[cb.column])[cb.codes]
                                         for cb in r.columns)
    np.testing.assert_array_equal(total, expect)


def test_columns_named_like_keywords():
    rng = np.random.default_rng(0)
    n = 400
    y = rng.random(n) < 0.4
    t = pa.table({"FALSE": rng.random(n) < np.where(y, 0.8, 0.3), "null": rng.normal(size=n) + y,
                  "yes": rng.choice(["a", "b"], n), "y": y})
    r = learn(t, "y", holdout=0.0, baselines=False, min_iv=0.0)
    assert {"FALSE", "null"} <= set(r.coefficients)
    total = np.asarray(lf.score(r.model, t).column(r.total).to_numpy(zero_copy_only=False))
    expect = r.scaling.base_points + sum(np.asarray(r.points[cb.column])[cb.codes]
                                         for cb in r.columns)
    np.testing.assert_array_equal(total, expect)
