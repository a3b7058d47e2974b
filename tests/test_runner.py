"""The runner (ARCHITECTURE §6) on compiled programs: query answers checked against numpy over
the materialised score and segment columns; materialize=False, chunking, threads and
multi-batch input give the same answers."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast import _engine, synthetic  # noqa: E402
from leadscore_fast.runner import RunResult, run  # noqa: E402
from leadscore_fast.schema import schema_kinds  # noqa: E402

GRADE = {"name": "grade", "line": 0, "cases": [  # 4 labels, NULL below 10
    {"label": "A", "line": 0, "when": {"text": "fit >= 60", "line": 0, "col": 0}},
    {"label": "B", "line": 0, "when": {"text": "fit >= 40", "line": 0, "col": 0}},
    {"label": "C", "line": 0, "when": {"text": "fit >= 25", "line": 0, "col": 0}},
    {"label": "D", "line": 0, "when": {"text": "fit >= 10", "line": 0, "col": 0}}]}
MATRIX = {"name": "priority", "line": 0, "matrix": ["tier", "grade"]}


def _q(kind, name, text, **kw):
    return {"kind": kind, "name": name, "expr": {"text": text, "line": 0, "col": 0}, **kw}


QUERIES = [
    _q("count", "hot", "total >= 40 AND tier != 'cold'"),
    _q("count", "graded", "tier IN ('hot', 'warm') AND grade IS NOT NULL"),
    _q("count", "ungraded", "grade IS NULL"),
    _q("hist", "h_total", "total", edges=[0, 10, 20, 40]),
    _q("hist", "h_fit", "fit", edges=list(range(0, 101, 5))),  # > 16 edges
    _q("topk", "best", "total", k=50),
    _q("topk", "best_tier", "total", k=20, per="tier"),
    _q("topk", "best_prio", "engagement", k=7, per="priority"),
    _q("mask", "m_fit", "fit > 30"),
    _q("mask", "m_prio", "priority = 'hot-A' OR engagement < 5"),
]


@pytest.fixture(scope="module")
def leads():
    return synthetic.generate_leads(20_000, seed=11)


def _program(leads, queries=QUERIES, segments=(GRADE, MATRIX)):
    d = json.loads(lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML).to_engine_json())
    d["segments"] += list(segments)
    d["queries"] = list(queries)
    return _engine.compile(json.dumps(d), json.dumps(schema_kinds(leads.schema)))


@pytest.fixture(scope="module")
def program(leads):
    return _program(leads)


@pytest.fixture(scope="module")
def reference(program, leads) -> RunResult:
    return run(program, leads, threads=1)


def _topk_ref(values, groups, n_groups, k):
    out = []
    for g in range(n_groups):
        rows = np.flatnonzero((groups == g) & ~np.isnan(values))
        order = np.lexsort((rows, -values[rows]))  # value desc, earlier row first
        out.append(rows[order][:k].tolist())
    return out


def test_answers_match_numpy(reference):
    r = reference
    fit, eng, total = r.scores["fit"], r.scores["engagement"], r.scores["total"]
    tier, tier_labels = r.segments["tier"]
    grade, _ = r.segments["grade"]
    prio, prio_labels = r.segments["priority"]
    assert tier_labels == ["hot", "warm", "cold"] and r.n_rows == 20_000
    # the matrix segmentation
    assert prio_labels == [f"{a}-{b}" for a in tier_labels for b in "ABCD"]
    want_prio = np.where((tier >= 0) & (grade >= 0), tier * 4 + grade, -1)
    assert np.array_equal(prio, want_prio) and (prio == -1).any() and (prio >= 0).any()

    assert r.counts["hot"] == int(((total >= 40) & (tier != 2)).sum())
    assert r.counts["graded"] == int(((tier <= 1) & (grade >= 0)).sum())
    assert r.counts["ungraded"] == int((grade < 0).sum()) > 0
    for name, x, edges in [("h_total", total, [0, 10, 20, 40]), ("h_fit", fit, list(range(0, 101, 5)))]:
        want = np.bincount(np.searchsorted(edges, x, side="right"), minlength=len(edges) + 1)
        assert r.hists[name].tolist() == [0] + want.tolist()
        assert r.hists[name].sum() == r.n_rows
    assert [g.tolist() for g in r.topk["best"]] == _topk_ref(total, np.zeros(len(total)), 1, 50)
    assert [g.tolist() for g in r.topk["best_tier"]] == _topk_ref(total, tier, 3, 20)
    assert [g.tolist() for g in r.topk["best_prio"]] == _topk_ref(eng, prio, 12, 7)
    for name, rows in r.topk.items():
        for g, vals in zip(rows, r.topk_values[name]):
            x = eng if name == "best_prio" else total
            assert np.array_equal(vals, x[g])
    assert np.array_equal(r.masks["m_fit"], fit > 30)
    assert np.array_equal(r.masks["m_prio"], (prio == prio_labels.index("hot-A")) | (eng < 5))


def _same_answers(a: RunResult, b: RunResult):
    assert a.n_rows == b.n_rows
    assert a.counts == b.counts
    assert a.hists.keys() == b.hists.keys()
    for k in a.hists:
        assert np.array_equal(a.hists[k], b.hists[k])
    assert a.masks.keys() == b.masks.keys()
    for k in a.masks:
        assert np.array_equal(a.masks[k], b.masks[k])
    assert {k: [g.tolist() for g in v] for k, v in a.topk.items()} == \
        {k: [g.tolist() for g in v] for k, v in b.topk.items()}


@pytest.mark.parametrize("chunk_rows, threads", [(4096, 2), (3, 2), (1000, 1), (777, 2)])
def test_materialize_chunks_threads(program, leads, reference, chunk_rows, threads):
    for materialize in (True, False):
        r = run(program, leads, chunk_rows=chunk_rows, threads=threads, materialize=materialize)
        _same_answers(reference, r)
        if materialize:
            for k, v in reference.scores.items():
                assert np.array_equal(v, r.scores[k], equal_nan=True)
            for k, (codes, labels) in reference.segments.items():
                assert np.array_equal(codes, r.segments[k][0]) and labels == r.segments[k][1]
        else:
            assert r.scores == {} and r.segments == {}


def test_multi_batch_inputs(program, leads, reference):
    parts = [leads.slice(0, 4999), leads.slice(4999, 1), leads.slice(5000, 9000), leads.slice(14000)]
    chunked = pa.concat_tables(parts)
    reader = pa.RecordBatchReader.from_batches(leads.schema, chunked.to_batches())
    for data, mat in [(chunked, True), (reader, False)]:
        r = run(program, data, threads=2, chunk_rows=512, materialize=mat)
        _same_answers(reference, r)
        if mat:
            assert np.array_equal(r.scores["total"], reference.scores["total"])
            assert np.array_equal(r.segments["priority"][0], reference.segments["priority"][0])


def test_score_is_built_on_the_runner(program, leads, reference):
    out = lf.score(program, leads, keep="industry")
    assert out.column_names == ["fit", "engagement", "total", "tier", "grade", "priority", "industry"]
    for k, v in reference.scores.items():
        assert np.array_equal(out.column(k).to_numpy(), v)
    labels = reference.segments["priority"][1]
    codes = reference.segments["priority"][0]
    assert out.column("priority").to_pylist() == [labels[c] if c >= 0 else None for c in codes]


def test_run_accepts_models_and_as_of(leads):
    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    r = run(model, leads.slice(0, 100))
    assert r.counts == {} and set(r.scores) == {"fit", "engagement", "total"}
    assert np.array_equal(r.scores["total"], lf.score(model, leads.slice(0, 100)).column("total").to_numpy())
    later = run(model, leads.slice(0, 100), as_of="2030-01-01")
    assert not np.array_equal(later.scores["engagement"], r.scores["engagement"])


def test_queries_without_scores_columns(leads):
    """A count whose expression only reads input columns, with no matrix segmentations."""
    p = _program(leads, [_q("count", "big", "company_size >= 1000"),
                         _q("topk", "rich", "annual_revenue", k=3)], segments=())
    r = run(p, leads, materialize=False)
    size = leads.column("company_size").to_numpy(zero_copy_only=False)
    rev = leads.column("annual_revenue").to_numpy(zero_copy_only=False).astype(float)
    assert r.counts["big"] == int(np.nansum(size >= 1000))
    assert r.topk["rich"][0].tolist() == _topk_ref(rev, np.zeros(len(rev)), 1, 3)[0]


@pytest.mark.parametrize("chunk_rows,threads", [(3, 1), (4096, 2)])
def test_score_output_validity_from_kernel_null_counts(chunk_rows, threads):
    """score() builds validity only for outputs the kernel counted NULLs in: a rule score that
    is inf + -inf (NaN) and a segmentation without a default are NULL exactly there, and
    outputs without NULLs have no validity bitmap."""
    model = lf.Model.from_yaml_string("""
name: nulls
scores:
  s:
    rules:
      - {name: up, points: x * 2e307}
      - {name: down, points: -x * 2e307}
  t: {expr: x}
segments:
  band:
    - {name: high, when: x >= 5}
  always:
    - {name: all}
""")
    x = pa.array([1, 10, None, 7, 2, 10, 3], pa.int64())
    out = lf.score(model, pa.table({"x": x}), chunk_rows=chunk_rows, threads=threads)
    assert out.column("s").to_pylist() == [0.0, None, 0.0, 0.0, 0.0, None, 0.0]
    assert out.column("band").to_pylist() == [None, "high", None, "high", None, "high", None]
    assert out.column("t").to_pylist() == [1.0, 10.0, 0.0, 7.0, 2.0, 10.0, 3.0]
    for name in ("t", "always"):
        assert out.column(name).null_count == 0
        assert out.column(name).chunk(0).buffers()[0] is None


def test_derived_scores_read_by_later_expressions_see_null_as_zero():
    """A derived score is 0 where its expression is NULL, also for the expressions that read
    it (the compiler reuses its register, zeroed in place, or reloads the stored column)."""
    model = lf.Model.from_yaml_string("""
name: derived
scores:
  d: {expr: x}
  t: {expr: d + 1}
  u: {expr: d + x}
segments:
  g:
    - {name: zero, when: d = 0}
    - {name: other}
""")
    x = pa.array([2.0, None, 0.0, None], pa.float64())
    out = lf.score(model, pa.table({"x": x}), chunk_rows=3)
    assert out.column("d").to_pylist() == [2.0, 0.0, 0.0, 0.0]
    assert out.column("t").to_pylist() == [3.0, 1.0, 1.0, 1.0]
    assert out.column("u").to_pylist() == [4.0, 0.0, 0.0, 0.0]  # d + NULL is NULL, stored as 0
    assert out.column("g").to_pylist() == ["other", "zero", "zero", "zero"]


def test_block_count_follows_threads_and_topk_size():
    """Several blocks per thread (taken one at a time), but one per thread when every block
    would hold big top-k heaps; and a big top_k gives the same answer as a small one."""
    from leadscore_fast.vm import pool

    assert pool.max_blocks(1) == 1
    workers = pool.workers(2)
    if workers > 1:
        assert pool.max_blocks(2) == workers * pool.BLOCKS_PER_THREAD
        assert pool.max_blocks(2, pool.TOPK_ENTRIES_MAX) == workers
    leads = synthetic.generate_leads(30_000, seed=3)
    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    small = lf.top_k(model, leads, 100, by="total", threads=2)
    big = lf.top_k(model, leads, 200_000, by="total", threads=2)
    assert big.num_rows == 30_000
    assert big.slice(0, 100).equals(small)


@pytest.mark.parametrize("ahead", [0, 1, 3])
def test_batches_started_ahead_give_the_same_answers(program, leads, reference, monkeypatch,
                                                     ahead):
    """The next batches start on the worker threads before this one's output is taken
    (runner.BATCHES_AHEAD): answers and outputs do not change, queries included."""
    from leadscore_fast import runner

    monkeypatch.setattr(runner, "BATCHES_AHEAD", ahead)
    chunked = pa.Table.from_batches(leads.to_batches(max_chunksize=1500))
    for threads in (1, 2):
        r = run(program, chunked, threads=threads, chunk_rows=256)
        _same_answers(reference, r)
        assert np.array_equal(r.scores["total"], reference.scores["total"])
    out = lf.score(program, chunked, threads=2, chunk_rows=256)
    assert [b.num_rows for b in out.to_batches()] == [b.num_rows for b in chunked.to_batches()]
    assert np.array_equal(out.column("total").to_numpy(), reference.scores["total"])


def test_an_error_in_a_worker_reaches_the_caller_and_the_pool_survives(leads, monkeypatch):
    from leadscore_fast.vm import kernel

    model = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    chunked = pa.Table.from_batches(leads.slice(0, 6000).to_batches(max_chunksize=1000))
    want = lf.score(model, chunked, threads=2, chunk_rows=256)

    def broken(*args):
        raise FloatingPointError("worker failed")

    with monkeypatch.context() as mp:
        mp.setenv("LEADSCORE_EXECUTOR", "interpreter")  # its pool (tests/test_vm_fused.py: fused)
        mp.setattr(kernel, "run_block_core", broken)
        with pytest.raises(FloatingPointError, match="worker failed"):
            lf.score(model, chunked, threads=2, chunk_rows=256)
    assert lf.score(model, chunked, threads=2, chunk_rows=256).equals(want)


def test_programs_are_kept_by_model_and_schema_content(leads):
    """score(model, ...) again compiles nothing: same model content and schema, same Program
    (and its prepared lookup tables); another model or schema gets its own."""
    from leadscore_fast import runner

    yaml = synthetic.REFERENCE_MODEL_YAML
    first = runner.compile_cached(lf.Model.from_yaml_string(yaml), leads.schema)
    assert runner.compile_cached(lf.Model.from_yaml_string(yaml), leads.schema) is first
    other = lf.Model.from_yaml_string(yaml.replace("points: 20", "points: 21", 1))
    assert runner.compile_cached(other, leads.schema) is not first
    # the schema counts by its column kinds: int32 or int64 compile alike, a new column does not
    wider = leads.schema.set(leads.schema.get_field_index("company_size"),
                             pa.field("company_size", pa.int64()))
    assert runner.compile_cached(lf.Model.from_yaml_string(yaml), wider) is first
    more = leads.schema.append(pa.field("extra", pa.string()))
    assert runner.compile_cached(lf.Model.from_yaml_string(yaml), more) is not first
    batch = leads.slice(0, 500)
    assert lf.score(other, batch).equals(lf.score(other, batch))
    assert not lf.score(other, batch).column("fit").equals(
        lf.score(lf.Model.from_yaml_string(yaml), batch).column("fit"))
