"""merge.py: parts of counts, histograms, top-k and summaries over random partitions of the
leads combine into exactly the single-process answer."""
from __future__ import annotations

import pickle

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.exactsum import ExactSums  # noqa: E402
from leadscore_fast.queries import QueryError  # noqa: E402
from test_queries import data, model  # noqa: E402,F401  (fixtures)

AS_OF = "2026-11-01T00:00:00Z"


def partitions(table: pa.Table, seed: int, n: int | None = None) -> list[pa.Table]:
    """Consecutive slices of random sizes (some empty), in order."""
    rng = np.random.default_rng(seed)
    n = n or int(rng.integers(2, 9))
    cuts = np.sort(rng.integers(0, table.num_rows + 1, n - 1))
    bounds = [0, *cuts.tolist(), table.num_rows]
    return [table.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]


@pytest.mark.parametrize("seed", range(4))
def test_count_and_histogram(model, data, seed):
    parts = partitions(data, seed)
    where = "total >= 40 AND tier != 'cold'"
    got = lf.merge.combine(lf.merge.count(model, p, where, as_of=AS_OF) for p in parts)
    assert got.result() == lf.count(model, data, where, as_of=AS_OF)
    edges = [0, 10, 20.5, 40, 80]
    hist = lf.merge.combine([lf.merge.histogram(model, p, "total", edges, as_of=AS_OF)
                             for p in parts])
    assert hist.result().equals(lf.histogram(model, data, "total", edges, as_of=AS_OF))


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("per", [None, "tier"])
def test_top_k(model, data, seed, per):
    parts = partitions(data, seed)
    # whole-number ranking values: many ties, which must break by input order
    by = "round(total / 10)"
    got = lf.merge.combine(
        pickle.loads(pickle.dumps(lf.merge.top_k(model, p, 25, by, per=per,
                                                 columns=["row_id"], part=i, as_of=AS_OF)))
        for i, p in enumerate(parts)).result()
    want = lf.top_k(model, data, 25, by, per=per, columns=["row_id"], as_of=AS_OF)
    assert got.equals(want)


@pytest.mark.parametrize("seed", range(4))
def test_summaries_merge_bit_for_bit(model, data, seed):
    parts = partitions(data, seed)
    for kw in ({}, {"segmentation": "tier", "label": "converted"}):
        got = lf.merge.combine(lf.merge.summarize(model, p, as_of=AS_OF, **kw)
                               for p in reversed(parts))  # merge order does not matter
        assert got.result().equals(lf.summarize(model, data, as_of=AS_OF, **kw))


def test_exact_sums_are_exact_and_order_free():
    import math

    rng = np.random.default_rng(3)
    v = np.concatenate([rng.normal(0, 1e6, 5000), rng.normal(0, 1e-300, 100),
                        [5e-324, -5e-324, 1e308, 1e308, -1e308, 0.0, -0.0],
                        rng.uniform(-100, 100, 5000)])
    g = rng.integers(0, 3, len(v))
    one = ExactSums(3)
    one.add(g, v)
    assert [float(x) for x in one.totals()] == [math.fsum(v[g == i]) for i in range(3)]
    merged = ExactSums(3)
    for idx in np.array_split(rng.permutation(len(v)), 5):
        part = ExactSums(3)
        part.add(g[idx], v[idx])
        merged = merged.merge(part)
    assert (merged.totals() == one.totals()).all()
    inf = ExactSums(2)
    inf.add(np.array([0, 1, 1]), np.array([np.inf, np.inf, -np.inf]))
    assert inf.totals()[0] == np.inf and np.isnan(inf.totals()[1])


def test_mismatched_parts_are_refused(model, data):
    a = lf.merge.histogram(model, data, "total", [0, 50], as_of=AS_OF)
    b = lf.merge.histogram(model, data, "total", [0, 60], as_of=AS_OF)
    with pytest.raises(QueryError, match="other edges"):
        lf.merge.combine([a, b])
    with pytest.raises(QueryError, match="different queries"):
        lf.merge.combine([a, lf.merge.count(model, data, "total > 1", as_of=AS_OF)])
    with pytest.raises(QueryError, match="give the edges"):
        lf.merge.histogram(model, data, "total", 10)
    with pytest.raises(QueryError, match="no parts"):
        lf.merge.combine([])
