"""lf.explain's one pass on a fused kernel (explain_pass.py, engine/src/explain_fused.rs)
against the same pass on the native executor (engine/src/explain.rs): bit for bit and in the
same blocks, on generated models (nulls, caps, floors, ranges), several batches, empty
batches, top above the rule count; and the native pass wherever no fused kernel is at hand
(fused kernels off, a program they do not cover, an extension without explain_fused)."""
from __future__ import annotations

import os
from unittest import mock

import pyarrow as pa
import pytest
from hypothesis import given

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import _engine, explain_pass  # noqa: E402
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads  # noqa: E402
from leadscore_fast.vm import fused  # noqa: E402
from strategies import cases, examples  # noqa: E402
from test_explain_pass import same  # noqa: E402

pytestmark = pytest.mark.skipif(not hasattr(_engine, "explain_fused"),
                                reason="the extension has no explain_fused")


def explain_on(executor: str, *args, env=None, **kw):
    """(lf.explain's table, the rows each executor ran) with LEADSCORE_EXECUTOR=executor."""
    before = dict(fused.ROWS_RUN)
    with mock.patch.dict(os.environ, {"LEADSCORE_EXECUTOR": executor,
                                      "LEADSCORE_FUSE_BACKGROUND": "0", **(env or {})}):
        got = lf.explain(*args, **kw)
    return got, {k: fused.ROWS_RUN[k] - before[k] for k in before}


def same_blocks(got: pa.Table, want: pa.Table):
    same(got, want)
    assert [c.num_chunks for c in got.columns] == [c.num_chunks for c in want.columns]


@examples(0.2)
@given(cases(max_rows=40))
def test_fused_pass_is_the_native_pass_bit_for_bit(case):
    for top, threads in ((1, 1), (3, 2), (40, 2)):
        kw = {"top": top, "as_of": case.as_of, "threads": threads,
              "chunk_rows": case.chunk_rows, "reasons_text": top == 3}
        got, ran = explain_on("fused", case.model, case.table, **kw)
        want, ran_native = explain_on("native", case.model, case.table, **kw)
        assert ran_native["fused"] == 0
        same_blocks(got, want)


@pytest.fixture(scope="module")
def leads():
    return generate_leads(60_000, seed=5, batch_rows=25_000)


@pytest.fixture(scope="module")
def model():
    return lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)


@pytest.mark.parametrize("top", [1, 3, 8, 40])
def test_reference_model_in_batches_and_odd_chunks(model, leads, top):
    # three batches; 1000-row chunks: runs that start off the kernel's chunk and byte grid
    kw = {"top": top, "keep": ["lead_id"], "threads": 2, "chunk_rows": 1000}
    got, ran = explain_on("fused", model, leads, **kw)
    assert ran["fused"] == leads.num_rows and ran["native"] == 0
    want, _ = explain_on("native", model, leads, **kw)
    same_blocks(got, want)
    assert got.column("reasons_fit").num_chunks > 3
    scored = lf.score(model, leads, keep=["lead_id"])
    for name in scored.column_names:
        assert got.column(name).equals(scored.column(name)), name


def test_empty_input_and_empty_batches(model, leads):
    empty, _ = explain_on("fused", model, leads.slice(0, 0), top=3)
    assert empty.num_rows == 0
    assert empty.schema == explain_on("native", model, leads.slice(0, 0), top=3)[0].schema
    a, b = leads.slice(0, 700).to_batches()[0], leads.slice(700, 1300).to_batches()[0]
    t = pa.Table.from_batches([a, a.slice(0, 0), b, b.slice(0, 0)])
    got, ran = explain_on("fused", model, t, top=2, threads=2, chunk_rows=256)
    assert ran["fused"] == t.num_rows
    same_blocks(got, explain_on("native", model, t, top=2, threads=2, chunk_rows=256)[0])


def test_auto_takes_the_kernel_scoring_would(model, leads):
    # with fused kernels from the first row, auto runs this pass fused
    got, ran = explain_on("auto", model, leads, env={"LEADSCORE_FUSE_AFTER_ROWS": "0"}, top=3)
    assert ran["fused"] == leads.num_rows
    same_blocks(got, explain_on("native", model, leads, top=3)[0])


@pytest.mark.parametrize("why", ["fused off", "not fusable", "no entry point"])
def test_without_a_kernel_the_native_pass_runs(model, leads, why, monkeypatch):
    t = leads.slice(0, 5000)
    env = {"LEADSCORE_FUSE_AFTER_ROWS": "0"}
    if why == "fused off":
        env["LEADSCORE_FUSED"] = "0"
    elif why == "not fusable":
        monkeypatch.setattr(fused, "fusable", lambda code: False)
    else:
        monkeypatch.delattr(_engine, "explain_fused")
    got, ran = explain_on("auto", model, t, env=env, top=3, threads=2)
    assert ran["fused"] == 0 and ran["native"] == t.num_rows
    monkeypatch.undo()
    same_blocks(got, explain_on("native", model, t, top=3, threads=2)[0])
