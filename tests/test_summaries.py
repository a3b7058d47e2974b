"""summaries.py: per-segment counts, shares, score mean/min/max and conversion lift, against a
plain-Python reference over score()'s output and against DuckDB GROUP BY."""
from __future__ import annotations

import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.errors import LeadscoreError  # noqa: E402
from leadscore_fast.summaries import summarize  # noqa: E402
from test_queries import data, duck, model, rows  # noqa: E402,F401  (fixtures)

SCORES = ["fit", "engagement", "total"]


def ref(rows, seg, label=None):
    out = {}
    groups = {}
    for r in rows:
        groups.setdefault(r[seg], []).append(r)
    labelled = [r[label] for r in rows if label and r[label] is not None]
    overall = sum(labelled) / len(labelled) if labelled else None
    for g, members in groups.items():
        d = {"count": len(members), "share": len(members) / len(rows)}
        for s in SCORES:
            vals = [r[s] for r in members]
            d.update({f"{s}_mean": sum(vals) / len(vals), f"{s}_min": min(vals),
                      f"{s}_max": max(vals)})
        if label:
            ys = [r[label] for r in members if r[label] is not None]
            rate = sum(ys) / len(ys) if ys else None
            d.update({"conversions": float(sum(ys)), "conversion_rate": rate,
                      "lift": rate / overall if rate is not None else None})
        out[g] = d
    return out


@pytest.fixture(scope="module")
def labelled_rows(model, data):
    return lf.score(model, data, keep=["converted", "row_id"]).to_pylist()


@pytest.mark.parametrize("seg", ["tier", "grade", "priority", "focus"])
def test_summary_matches_reference(model, data, labelled_rows, seg):
    got = summarize(model, data, segmentation=seg, label="converted").to_pylist()
    want = ref(labelled_rows, seg, "converted")
    labels = list(lf.compile(model, data.schema).segments[
        model.segment_names.index(seg)]["labels"])
    order = [r["segment"] for r in got]
    assert order == labels + ([None] if None in want else [])  # label order, NULL last
    for r in got:
        w = want.get(r["segment"])
        if w is None:  # a label no lead has
            assert r["count"] == 0 and r["total_mean"] is None and r["conversion_rate"] is None
            continue
        for key, value in w.items():
            assert r[key] == pytest.approx(value, rel=1e-12), (r["segment"], key)


def test_summary_matches_duckdb(model, data):
    got = {r["segment"]: r for r in summarize(model, data, segmentation="tier",
                                                 label="converted").to_pylist()}
    sql = duck(model, data, "SELECT tier, count(*), avg(total), min(total), max(total), "
                            "avg(converted::INT) FROM scored GROUP BY tier")
    assert len(sql) == len(got)
    for tier, n, mean, lo, hi, rate in sql:
        r = got[tier]
        assert r["count"] == n
        assert (r["total_mean"], r["total_min"], r["total_max"]) == pytest.approx(
            (mean, lo, hi), rel=1e-9)
        assert r["conversion_rate"] == pytest.approx(rate, rel=1e-9)


def test_all_segmentations_stacked_in_one_table(model, data):
    got = summarize(model, data)
    assert list(dict.fromkeys(got.column("segmentation").to_pylist())) == model.segment_names
    assert "lift" not in got.column_names
    for seg in model.segment_names:
        counts = [r["count"] for r in got.to_pylist() if r["segmentation"] == seg]
        assert sum(counts) == data.num_rows


def test_streamed_input_and_numeric_label(model, data):
    t = data.set_column(data.schema.get_field_index("converted"), "converted",
                        data.column("converted").cast(pa.int64()))
    reader = pa.RecordBatchReader.from_batches(t.schema, t.to_batches(max_chunksize=500))
    a = summarize(model, reader, segmentation="tier", label="converted")
    b = summarize(model, data, segmentation="tier", label="converted")
    assert a.column("count").equals(b.column("count"))
    assert a.column("lift").to_pylist() == pytest.approx(b.column("lift").to_pylist())


@pytest.mark.parametrize("kw, message", [
    ({"segmentation": "teir"}, "did you mean 'tier'"),
    ({"label": "convrted"}, "did you mean 'converted'"),
    ({"label": "industry"}, "holds '[a-z]+', which is neither a conversion"),
    ({"label": "converted", "positive": "yes"}, "positive= is for a text label"),
])
def test_bad_arguments(model, data, kw, message):
    with pytest.raises(LeadscoreError, match=message):
        summarize(model, data, **kw)


@pytest.mark.parametrize("yes, no, positive", [
    ("yes", "no", None), (" Yes", "NO ", None), ("True", "false", None), ("won", "open", "won"),
])
def test_text_label_equals_the_boolean_one(model, data, yes, no, positive):
    """A text outcome (the bank-marketing file's y is yes/no) gives the same conversion table as
    the boolean; NULLs stay out of the rate; positive= names the value for other spellings."""
    import pyarrow.compute as pc

    conv = data.column("converted")
    text = pc.if_else(conv, pa.scalar(yes), pa.scalar(no))
    for arr in (text, text.dictionary_encode()):
        t = data.append_column("outcome", arr)
        got = summarize(model, t, segmentation="tier", label="outcome", positive=positive)
        want = summarize(model, data, segmentation="tier", label="converted")
        for c in ("count", "conversions", "conversion_rate", "lift"):
            assert got.column(c).to_pylist() == want.column(c).to_pylist(), c


def test_model_without_segmentations():
    m = lf.Model("m").derived("s", "1")
    with pytest.raises(LeadscoreError, match="no segmentations"):
        summarize(m, pa.table({"x": [1]}))


def test_text_label_with_nulls_leaves_them_out():
    # the bug: a NULL in a yes/no label column was reported as a value "neither a conversion
    # nor its absence"
    import pyarrow as pa
    m = {"name": "m", "scores": {"s": {"rules": [{"name": "r", "points": 1}]}},
         "segments": {"g": [{"name": "all"}]}}
    t = pa.table({"y": ["yes", None, "no", "no"]})
    row = summarize(m, t, label="y").to_pylist()[0]
    assert row["conversions"] == 1.0 and abs(row["conversion_rate"] - 1 / 3) < 1e-12
