"""Fused kernels (vm/fused.py, vm/fused_ir.py, vm/native.py): the same bits as the interpreter, on generated
models and data and on the cases that take their own code paths (bitmaps at any offset, DECAY
beyond the vectorised range, big dictionaries, nulls); when a program fuses; the disk cache."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import synthetic  # noqa: E402
from leadscore_fast.vm import executor, fused, fused_ir  # noqa: E402
from strategies import cases, examples  # noqa: E402

REFERENCE = synthetic.REFERENCE_MODEL_YAML


def assert_identical(got: pa.Table, want: pa.Table) -> None:
    """Same columns, same NULLs, and the same bits in every non-NULL value (0.0 vs -0.0 and
    last-bit rounding differences fail)."""
    assert got.column_names == want.column_names
    for name in want.column_names:
        g, w = got[name].combine_chunks(), want[name].combine_chunks()
        assert g.type == w.type, name
        assert g.is_null().equals(w.is_null()), f"{name}: NULLs differ"
        if pa.types.is_floating(w.type):
            gv = g.fill_null(0.0).to_numpy().view(np.int64)
            wv = w.fill_null(0.0).to_numpy().view(np.int64)
            bad = np.flatnonzero(gv != wv)
            assert bad.size == 0, (f"{name}: {bad.size} rows differ, first {bad[:3]}: "
                                   f"{g.to_numpy()[bad[:3]]} vs {w.to_numpy()[bad[:3]]}")
        else:
            assert g.equals(w), name


@pytest.fixture
def fused_calls(monkeypatch):
    """Fuse from the first row (compiling while the call waits); yields a list that counts
    fused kernel runs."""
    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
    monkeypatch.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
    monkeypatch.delenv("LEADSCORE_FUSED", raising=False)
    calls = []
    real = fused.Kernel.run

    def counting(self, *args):
        calls.append(args[3:])
        return real(self, *args)

    monkeypatch.setattr(fused.Kernel, "run", counting)
    return calls


def interpreted(model, data, *, fn=None, **kw):
    """``fn`` (default ``lf.score``) on the numba interpreter: the interpreter's answer."""
    old = {k: os.environ.get(k) for k in ("LEADSCORE_FUSED", "LEADSCORE_EXECUTOR")}
    os.environ.update(LEADSCORE_FUSED="0", LEADSCORE_EXECUTOR="interpreter")
    try:
        return (fn or lf.score)(model, data, **kw)
    finally:
        for k, v in old.items():
            if v is None:
                del os.environ[k]
            else:
                os.environ[k] = v


# ---- property: generated models and data ------------------------------------------------------

@examples(0.5)
@given(cases(), st.sampled_from([1, 2]), st.sampled_from([fused_ir.STAGE_INSTRUCTIONS, 3]))
def test_fused_kernels_give_the_interpreters_bits(case, threads, stage):
    """On generated models and data, in one stage or in stages of 3 instructions."""
    os.environ.update(LEADSCORE_FUSE_AFTER_ROWS="0", LEADSCORE_FUSE_BACKGROUND="0")
    default, fused_ir.STAGE_INSTRUCTIONS = fused_ir.STAGE_INSTRUCTIONS, stage
    try:
        got = lf.score(case.model, case.table, as_of=case.as_of, chunk_rows=case.chunk_rows,
                       threads=threads)
    finally:
        fused_ir.STAGE_INSTRUCTIONS = default
        del os.environ["LEADSCORE_FUSE_AFTER_ROWS"], os.environ["LEADSCORE_FUSE_BACKGROUND"]
    want = interpreted(case.model, case.table, as_of=case.as_of, chunk_rows=case.chunk_rows,
                       threads=threads)
    assert_identical(got, want)


# ---- hand-picked ------------------------------------------------------------------------------

@pytest.mark.parametrize("null_rate", [0.0, 0.05, 0.5])
def test_reference_model_fuses_and_matches(fused_calls, null_rate):
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(30_000, seed=3, null_rate=null_rate)
    got = lf.score(model, leads, threads=2)
    assert fused_calls, "the reference model should run fused"
    assert_identical(got, interpreted(model, leads, threads=2))


@pytest.mark.parametrize("offset", [1, 3, 8, 13])
def test_sliced_batches_read_bitmaps_at_any_bit_offset(fused_calls, offset):
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(5_000, seed=4, null_rate=0.3).slice(offset, 4_000)
    batches = pa.Table.from_batches(leads.to_batches(max_chunksize=777))
    got = lf.score(model, batches, chunk_rows=100, threads=2)
    assert fused_calls
    assert_identical(got, interpreted(model, batches, chunk_rows=100, threads=2))


def test_decay_beyond_the_vectorised_range_takes_the_exact_path(fused_calls):
    """Ages over 1022 half-lives (and negative ones: future dates) leave 2**t's vectorised
    range: the chunk is re-run with libm's pow, as the interpreter does."""
    model = {"name": "d", "as_of": "2026-01-01T00:00:00Z", "scores": {"s": {"rules": [
        {"name": "r", "points": "decay(points, days_since(at), half_life)"}]}}}
    day = 86_400_000_000
    as_of = 1_767_225_600_000_000  # 2026-01-01 in microseconds
    us = [0, -10**15, 10**15, None, as_of - 5 * day, as_of + 3000 * day, as_of - 7 * day]
    hl = [1.0, 0.01, 0.5, 3.0, 0.0, 1.0, 7.0]
    table = pa.table({
        "at": pa.array(us * 50, pa.timestamp("us", tz="UTC")),
        "points": pa.array([10.0, 1e300, -3.0, 7.0, 2.0, 1.0, 8.0] * 50),
        "half_life": pa.array(hl * 50)})
    got = lf.score(model, table, chunk_rows=64)
    assert fused_calls
    assert_identical(got, interpreted(model, table, chunk_rows=64))
    values = got["s"].to_pylist()
    assert values[:3] == [0.0, 0.0, 0.0]  # 2**-(over 1022): 0, through pow
    assert values[3:5] == [0.0, 0.0]  # NULL age, half-life 0: NULL points add nothing
    assert values[5] == float("inf")  # 2**3000, a future date
    assert values[6] == 4.0  # one half-life, inside the vectorised range


def test_a_pow_after_a_decay_keeps_the_decays_exact_re_run(fused_calls):
    """Regression: the generator's pow arm reused the name of the row's "needs the exact
    path" flag, so a pow after a DECAY in the same stage cleared it and a decay beyond the
    vectorised range stayed NULL instead of libm's subnormal."""
    model = {"name": "d", "scores": {
        "s": {"rules": [{"name": "r", "points": "decay(points, age, 1)"}]},
        "t": {"rules": [{"name": "p", "points": "pow(x, y)"}]}}}
    table = pa.table({"points": pa.array([20.0, 20.0] * 40), "age": pa.array([1050.0, 3.0] * 40),
                      "x": pa.array([1.0, 2.0] * 40), "y": pa.array([2.0, 2.0] * 40)})
    got = lf.score(model, table, chunk_rows=16)
    assert fused_calls
    assert_identical(got, interpreted(model, table, chunk_rows=16))
    assert got["s"].to_pylist()[:2] == [20.0 * 2.0 ** -1050, 2.5]  # a subnormal, not NULL


def test_big_dictionaries_use_the_tri_state_tables(fused_calls):
    """Past runner.POINTS_TABLE_MAX values LOOKUP_RULE_K reads the tri-state table: another
    layout, another kernel."""
    from leadscore_fast import runner

    n_values = runner.POINTS_TABLE_MAX + 500
    values = pa.array([f"v{i}" for i in range(n_values)])
    rows = np.arange(20_000)
    col = pa.DictionaryArray.from_arrays(
        pa.array(rows * 7919 % n_values, pa.int32(), mask=rows % 11 == 0), values)
    model = {"name": "big", "scores": {"s": {"rules": [
        {"name": "a", "when": "tag IN ('v1', 'v8000', 'v9000')", "points": 4},
        {"name": "b", "when": "tag LIKE 'v9%'", "points": 2.5}]}}}
    table = pa.table({"tag": col})
    got = lf.score(model, table, threads=2)
    assert fused_calls
    assert_identical(got, interpreted(model, table, threads=2))


def test_programs_with_big_lookup_tables_are_interpreted(fused_calls, monkeypatch):
    """A fused row reads every table of the program: past TABLE_BYTES_MAX in all they would
    miss the cache, so the interpreter (one table per instruction and chunk) runs them."""
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(3_000, seed=8)
    lf.score(model, leads)
    assert fused_calls
    fused_calls.clear()
    monkeypatch.setattr(fused, "TABLE_BYTES_MAX", 64)
    got = lf.score(model, leads)
    assert not fused_calls
    assert_identical(got, interpreted(model, leads))


def test_case_math_and_lookups_fuse_too(fused_calls):
    model = {"name": "case", "scores": {"s": {"rules": [
        {"name": "r", "points": "CASE WHEN x > 1 THEN ln(x) ELSE sqrt(x) END"},
        {"name": "c", "points": "COALESCE(x, -1) + greatest(x, 3)"}]}}}
    table = pa.table({"x": pa.array([0.5, 2.0, None, 10.0])})
    got = lf.score(model, table)
    assert fused_calls
    assert got["s"].to_pylist() == pytest.approx(
        [np.sqrt(0.5) + 3.5, np.log(2.0) + 5.0, -1.0 + 3.0, np.log(10.0) + 20.0])
    assert_identical(got, interpreted(model, table))


def test_counts_and_masks_fuse_top_k_is_interpreted(fused_calls):
    """COUNT_IF, STORE_MASK and HIST fuse (per-block counters and a row store); TOPK keeps
    per-block heaps updated row by row: the interpreter runs programs with it."""
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(2_000, seed=2, null_rate=0.2)
    where = "total >= 30 AND tier != 'cold'"
    n = lf.count(model, leads, where=where)
    assert fused_calls
    assert interpreted(model, leads, fn=lf.count, where=where) == n
    fused_calls.clear()
    best = lf.top_k(model, leads, 5, by="total")
    assert best.num_rows == 5
    # the top-k pass over 2,000 rows is interpreted; only scoring the 5 winners may fuse
    assert all(r1 - r0 <= 5 for r0, r1 in fused_calls)


def test_a_program_fuses_once_it_is_hot(monkeypatch, tmp_path):
    """Interpreted until it has been asked for LEADSCORE_FUSE_AFTER_ROWS rows; then its kernel
    compiles on a background thread while the interpreter goes on, and later calls run fused."""
    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "1000")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))  # an empty fused-kernel cache
    monkeypatch.delenv("LEADSCORE_FUSED_CACHE", raising=False)  # (which this would override)
    monkeypatch.setattr(executor, "NATIVE_MAX_ROWS", 0)  # these small batches are bulk here
    model = lf.Model.from_yaml_string(REFERENCE.replace("points: 15\n", "points: 15.25\n", 1))
    leads = synthetic.generate_leads(600, seed=5)
    interpreted(model, leads)  # the interpreter loaded: no first-score-in-a-process fusing
    started = []
    real = executor.FusedBatch.__init__
    here = threading.get_ident()  # batches other tests' leftover threads start do not count

    def counted(self, *a):
        if threading.get_ident() == here and a[3] == leads.num_rows:
            started.append(1)
        real(self, *a)

    monkeypatch.setattr(executor.FusedBatch, "__init__", counted)
    first = lf.score(model, leads)  # 600 rows: not hot
    second = lf.score(model, leads)  # 1,200: hot, its kernel starts compiling
    assert not started
    assert fused.wait_for_compiles(timeout=120)
    third = lf.score(model, leads)
    assert started
    assert list(tmp_path.glob("fused/*.o"))  # and cached for the next process
    assert_identical(second, first)
    assert_identical(third, first)


def test_a_failed_background_compile_is_reported_once_and_interpreted(monkeypatch, tmp_path):
    """The compile runs in a child process; when it fails (here: IR LLVM cannot parse) the
    next call warns, once, and the program stays interpreted."""
    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
    monkeypatch.setenv("LEADSCORE_FUSED_CACHE", str(tmp_path))
    monkeypatch.setattr(fused_ir.Gen, "build", lambda self: "this is not LLVM IR")
    monkeypatch.setattr(executor, "NATIVE_MAX_ROWS", 0)  # these small batches are bulk here
    model = lf.Model.from_yaml_string(REFERENCE.replace("points: 10\n", "points: 10.5\n", 1))
    leads = synthetic.generate_leads(1_000, seed=11)
    interpreted(model, leads)
    want = lf.score(model, leads)  # starts the background compile, runs interpreted
    assert fused.wait_for_compiles(timeout=120)
    with pytest.warns(fused.FusedKernelWarning, match="LLVM IR parsing error"):
        got = lf.score(model, leads)
    assert_identical(got, want)
    assert_identical(lf.score(model, leads), want)  # no second warning (filterwarnings=error)
    assert not list(tmp_path.glob("*.o")) and not list(tmp_path.glob(".ir-*"))


_EXIT_EARLY = """
import os, sys, time
import leadscore_fast as lf
from leadscore_fast.synthetic import generate_leads
rules = [{"name": f"r{i}", "when": f"web_visits > {i}", "points": i % 7} for i in range(150)]
model = {"name": "big", "scores": {"s": {"rules": rules}}}
lf.score(model, generate_leads(2000))  # past FIRST_SYNC_MAX: compiles in the background
print(len(os.listdir(os.environ["LEADSCORE_FUSED_CACHE"])), flush=True)
"""


def test_a_process_that_ends_mid_compile_still_caches_the_kernel(tmp_path):
    env = dict(os.environ, LEADSCORE_FUSED_CACHE=str(tmp_path), LEADSCORE_FUSE_AFTER_ROWS="0")
    env.pop("LEADSCORE_FUSED", None)
    out = subprocess.run([sys.executable, "-c", _EXIT_EARLY], env=env, capture_output=True,
                         text=True, check=True, timeout=300)
    assert out.stdout.strip().splitlines()[-1] == "1"  # only the IR file: still compiling
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("*.o")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert len(list(tmp_path.glob("*.o"))) == 1
    assert not list(tmp_path.glob(".ir-*"))


def test_an_error_in_a_fused_worker_reaches_the_caller(fused_calls, monkeypatch):
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(6_000, seed=6)
    want = lf.score(model, leads, threads=2, chunk_rows=256)

    def broken(self, *args):
        raise FloatingPointError("fused worker failed")

    with monkeypatch.context() as mp:
        mp.setattr(fused.Kernel, "run", broken)
        with pytest.raises(FloatingPointError, match="fused worker failed"):
            lf.score(model, leads, threads=2, chunk_rows=256)
    assert_identical(lf.score(model, leads, threads=2, chunk_rows=256), want)


def test_rule_text_never_reaches_the_generated_code():
    """The generator reads bytecode only: a string constant of a rule is evaluated into a
    lookup table by the Rust engine and is nowhere in the IR."""
    from leadscore_fast import runner

    marker = "zz_marker_os_system"
    model = {"name": "m", "scores": {"s": {"rules": [
        {"name": "r", "when": f"tag = '{marker}' OR n > 2", "points": 3}]}}}
    table = pa.table({"tag": pa.array(["a", marker]).dictionary_encode(), "n": [1, 5]})
    program = runner.compile_cached(lf.compiler.as_model(model), table.schema)
    prep = runner.Prepared(program)
    meta = np.array([[4, 0, 0], [5, 0, 0]], np.int64)  # int32 codes, int64
    lut_off = np.arange(len(prep.lookups) + len(prep.points) + 1) * 3
    lay = fused.layout(prep.code, meta, lut_off)
    outs = fused.Outputs(scores=1, segs=0, slots=0, masks=0, materialize=True)
    ir_text = fused_ir.ir_text(prep.code, prep.consts_f, prep.consts_i, outs, lay)
    assert "leadscore_fused" in ir_text and marker not in ir_text


_SCRIPT = """
import json, leadscore_fast as lf
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads
from leadscore_fast.vm import fused
t = lf.score(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), generate_leads(3000, seed=1))
ks = list(fused._KERNELS.values())
print(json.dumps([len(ks), [k.from_cache for k in ks], sum(t["total"].to_pylist())]))
"""


def test_a_new_process_loads_the_fused_kernel_from_disk(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "numba"),
               LEADSCORE_FUSE_AFTER_ROWS="0", LEADSCORE_FUSE_BACKGROUND="0")
    env.pop("LEADSCORE_FUSED", None)
    env.pop("LEADSCORE_FUSED_CACHE", None)  # the kernels go under NUMBA_CACHE_DIR

    def run():
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, capture_output=True,
                             text=True, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run()
    assert first[:2] == [1, [False]]
    objects = list((tmp_path / "fused").glob("*.o"))
    assert len(objects) == 1
    assert run() == [1, [True], first[2]]
    # a damaged entry is compiled again, not loaded
    objects[0].write_bytes(objects[0].read_bytes()[:100])
    assert run() == [1, [False], first[2]]


def test_an_unwritable_cache_only_costs_the_compile(tmp_path, monkeypatch, fused_calls):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(blocker / "numba"))  # fused/ cannot be made
    model = lf.Model.from_yaml_string(REFERENCE.replace("points: 8\n", "points: 8.5\n", 1))
    leads = synthetic.generate_leads(2_000, seed=9)
    got = lf.score(model, leads)
    assert fused_calls
    assert_identical(got, interpreted(model, leads))


def test_a_module_llvm_refuses_warns_and_is_interpreted(monkeypatch, fused_calls):
    from leadscore_fast.vm import native

    def broken(*a, **k):
        raise RuntimeError("LLVM says no")

    monkeypatch.setattr(native, "load", broken)
    model = lf.Model.from_yaml_string(REFERENCE.replace("points: 5\n", "points: 5.5\n", 1))
    leads = synthetic.generate_leads(2_000, seed=10)
    with pytest.warns(fused.FusedKernelWarning, match="LLVM says no"):
        got = lf.score(model, leads)
    assert not fused_calls
    assert_identical(got, interpreted(model, leads))


def test_threads_scoring_different_models_at_once(monkeypatch, tmp_path):
    """Several Python threads score different models together while their kernels compile in
    the background: every result is the interpreter's."""
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "2000")
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    leads = synthetic.generate_leads(1_500, seed=12, null_rate=0.1)
    models = [lf.Model.from_yaml_string(
        REFERENCE.replace("points: 20\n", f"points: {20 + k / 8}\n", 1)) for k in range(1, 5)]
    want = [interpreted(m, leads) for m in models]

    def score_three_times(k):
        return [lf.score(models[k], leads, threads=2) for _ in range(3)]

    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(score_three_times, range(4)))
    assert fused.wait_for_compiles(timeout=120)
    for k in range(4):
        for g in got[k] + [lf.score(models[k], leads)]:
            assert_identical(g, want[k])
    assert fused.wait_for_compiles(timeout=120)  # the ones those calls started


@pytest.mark.parametrize("stage", [1, 4, 25])
def test_programs_run_in_stages_give_the_same_bits(fused_calls, monkeypatch, stage):
    """A long program runs as stages, one row loop each, the values a later stage reads kept
    in spill rows between them: cut anywhere, the bits are the interpreter's."""
    monkeypatch.setattr(fused_ir, "STAGE_INSTRUCTIONS", stage)
    model = lf.Model.from_yaml_string(REFERENCE)
    leads = synthetic.generate_leads(5_000, seed=13, null_rate=0.2)
    got = lf.score(model, leads, chunk_rows=700, threads=2)
    assert fused_calls
    assert_identical(got, interpreted(model, leads, chunk_rows=700, threads=2))
    where = "total >= 30 AND tier != 'cold'"
    assert lf.count(model, leads, where=where) == sum(
        1 for t, g in zip(got["total"].to_pylist(), got["tier"].to_pylist())
        if t is not None and t >= 30 and g != "cold")


def test_at_most_so_many_background_compiles_at_once(monkeypatch, tmp_path):
    """Each background compile takes a core: past MAX_BACKGROUND_COMPILES the next hot program
    stays interpreted until one is free, and fuses on a later call."""
    monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
    monkeypatch.setenv("LEADSCORE_FUSED_CACHE", str(tmp_path))
    monkeypatch.setattr(fused, "MAX_BACKGROUND_COMPILES", 1)
    assert fused.wait_for_compiles(timeout=120)  # none left over from other tests
    leads = synthetic.generate_leads(1_000, seed=14)
    models = [lf.Model.from_yaml_string(
        REFERENCE.replace("points: 8\n", f"points: {8 + k / 16}\n", 1)) for k in (1, 2)]
    interpreted(models[0], leads)
    want = [interpreted(m, leads) for m in models]
    for m in models:  # both hot; the second finds the one slot taken
        lf.score(m, leads)
    assert len([j for j in fused._PENDING.values() if j is not None]) <= 1
    assert fused.wait_for_compiles(timeout=120)
    for m, w in zip(models, want):
        lf.score(m, leads)  # the second starts its compile now
    assert fused.wait_for_compiles(timeout=120)
    assert len(list(tmp_path.glob("*.o"))) == 2
    for m, w in zip(models, want):
        assert_identical(lf.score(m, leads), w)


def test_a_process_whose_programs_run_fused_never_loads_numba(tmp_path):
    """vm/executor.py imports the interpreter only for a batch it interprets: a fresh process
    whose program compiles to a fused kernel at once (executor="fused"), and a later one that
    finds it in the disk cache, score without importing numba (0.3 s of every CLI run), with the same
    bits as the interpreter."""
    data = tmp_path / "leads.parquet"
    import pyarrow.parquet as pq

    pq.write_table(synthetic.generate_leads(1000, seed=9), data)
    out = tmp_path / "out.parquet"
    code = ("import sys, leadscore_fast as lf\n"
            "from leadscore_fast.synthetic import REFERENCE_MODEL_YAML as M\n"
            f"t = lf.score(lf.Model.from_yaml_string(M), {str(data)!r}, executor='fused')\n"
            "import pyarrow.parquet as pq\n"
            f"pq.write_table(t, {str(out)!r})\n"
            "from leadscore_fast.vm import fused\n"
            "print(dict(fused.ROWS_RUN), 'numba' in sys.modules)\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("LEADSCORE_FUSED", None)
    env.pop("LEADSCORE_FUSED_CACHE", None)
    env.pop("LEADSCORE_FUSE_AFTER_ROWS", None)
    for run in ("compiles", "from the cache"):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == "{'fused': 1000, 'interpreted': 0, 'native': 0} False", \
            (run, r.stdout)
        import pyarrow.parquet as pq

        want = interpreted(lf.Model.from_yaml_string(REFERENCE), str(data))
        assert_identical(pq.read_table(out), want)
