"""The native executor (engine/src/exec/, ``_engine.run_native``): its check of programs and
buffers, how ``executor="auto"`` picks it, and that a process scoring with it never loads
numba. Its results are compared with the interpreter's bit for bit by the opcode tests
(tests/test_vm_opcodes.py), the differential tests and the conformance grid."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

_engine = pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import synthetic  # noqa: E402
from leadscore_fast.vm import columns, executor, fused, pool  # noqa: E402
from leadscore_fast.vm import opcodes as O  # noqa: E402
from vm_harness import FakeProgram, assert_same_tables, insn  # noqa: E402


def test_ptype_codes_agree_with_columns_py():
    assert _engine.native_ptypes() == columns.PTYPE_NAMES


def test_every_opcode_is_supported():
    for code, (name, _) in O.OPCODES.items():
        assert executor.native_unsupported(np.array([insn(code)], np.int64)) is None, name
    assert "unknown opcode 999" in executor.native_unsupported(np.array([insn(999)], np.int64))


def _args(code, n=4, **over):
    """run_native's arguments for ``code`` over one float64 column of n rows."""
    data = np.arange(n, dtype=np.float64).view(np.uint8)
    data.setflags(write=False)
    datas, valids = pool.buffer_list([data]), pool.buffer_list([columns.EMPTY])
    a = dict(code=np.array([insn(*i) for i in code], np.int64), consts_f=np.array([1.0]),
             consts_i=np.zeros(0, np.int64), n_f=2, n_i=1, n_b=1, datas=datas.where,
             valids=valids.where, meta=np.array([[columns.PT_F64, 0, 0]], np.int64),
             lut_f=np.zeros(0), lut_b=np.zeros(0, np.uint8), lut_off=np.zeros(1, np.int64),
             as_of=0, n=n, chunk=8192, nblocks=1, out_f=np.zeros((1, n)),
             out_seg=np.zeros((0, n), np.int32), materialize=True, row_base=0,
             acc=np.zeros((1, 1), np.int64), masks=np.zeros((0, n), np.uint8),
             tk_meta=np.zeros((0, 3), np.int64), tk_val=np.zeros((1, 0, 0)),
             tk_row=np.zeros((1, 0, 0), np.int64))
    a.update(over)
    return a, (datas, valids)


def test_run_native_directly():
    a, keep = _args([(O.LOAD_F, 0, 0), (O.ARITH_FK, 1, 0, 0, 0), (O.STORE_SCORE, 0, 1, 0)])
    _engine.run_native(**a)
    assert a["out_f"].tolist() == [[1.0, 2.0, 3.0, 4.0]]
    assert a["acc"].tolist() == [[0]]  # no NULL written


@pytest.mark.parametrize("code, why", [
    ([(O.LOAD_F, 5, 0)], "register out of range"),
    ([(O.LOAD_F, 0, 1)], "column out of range"),
    ([(O.STORE_SCORE, 1, 0, 0)], "score out of range"),
    ([(O.COUNT_IF, 0, 0)], "accumulator slots 0..1 outside"),
    ([(O.CONST_F, 0, 3)], "(kF) = 3"),
    ([(O.DECAY, 0, 0, 1, 1)], "destination register must differ"),
    ([(999,)], "unknown opcode 999"),
])
def test_refuses_bad_programs_with_the_reason(code, why):
    a, keep = _args(code)
    with pytest.raises(lf.errors.ProgramError, match=None) as e:
        _engine.run_native(**a)
    assert why in str(e.value)


def test_refuses_short_buffers_and_wrong_dtypes():
    a, keep = _args([(O.LOAD_F, 0, 0)], n=4)
    with pytest.raises(lf.errors.ProgramError, match="data buffer of 32 bytes"):
        _engine.run_native(**dict(a, n=5, out_f=np.zeros((1, 5)), masks=np.zeros((0, 5), np.uint8),
                                  out_seg=np.zeros((0, 5), np.int32)))
    with pytest.raises(TypeError, match="out_f: expected dtype <f8"):
        _engine.run_native(**dict(a, out_f=np.zeros((1, 4), np.float32)))
    with pytest.raises(TypeError, match="C-contiguous"):
        _engine.run_native(**dict(a, out_f=np.zeros((1, 8))[:, ::2]))
    ro = np.zeros((1, 4))
    ro.setflags(write=False)
    with pytest.raises(ValueError, match="read-only"):
        _engine.run_native(**dict(a, out_f=ro))


def test_executor_names_are_checked():
    with pytest.raises(ValueError, match="executor must be one of"):
        lf.score(FakeProgram([(O.NOP,)], ["x"]), pa.table({"x": [1.0]}), executor="gpu")


def test_auto_runs_small_batches_native(monkeypatch):
    monkeypatch.delenv("LEADSCORE_FUSE_AFTER_ROWS", raising=False)
    monkeypatch.delenv("LEADSCORE_EXECUTOR", raising=False)
    t = synthetic.generate_leads(1000, seed=1)
    m = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    before = dict(fused.ROWS_RUN)
    got = lf.score(m, t)
    assert fused.ROWS_RUN["native"] - before["native"] == 1000
    assert_same_tables(got, lf.score(m, t, executor="interpreter"))


def test_auto_bulk_batches_leave_native_once_the_interpreter_is_loaded(monkeypatch):
    """A bulk batch without a fused kernel at hand runs native only while the interpreter is
    not loaded (no JIT warm-up); once it is, it is interpreted as before."""
    calls = []

    def kernel(force, native):
        calls.append((force, native))
        return None

    code = np.array([insn(O.NOP)], np.int64)
    big = executor.NATIVE_MAX_ROWS
    monkeypatch.setattr(executor, "interpreter_loaded", lambda: False)
    assert executor.choose("auto", code, big, kernel) == ("native", None)
    monkeypatch.setattr(executor, "interpreter_loaded", lambda: True)
    assert executor.choose("auto", code, big, kernel) == ("interpreted", None)
    assert calls == [(False, True), (False, True)]  # asked for a kernel, no first-program wait
    assert executor.choose("auto", code, 10, kernel) == ("native", None)
    assert executor.choose("interpreter", code, 10, kernel) == ("interpreted", None)
    assert executor.choose("fused", code, 10, kernel) == ("interpreted", None)
    assert calls[-1] == (True, False)
    assert executor.choose("fused", code, 10, lambda f, n: "K") == ("fused", "K")


def test_big_batch_on_threads_matches_the_interpreter():
    """Several blocks on several threads: the same split as the interpreter, the same bits."""
    t = synthetic.generate_leads(50_000, seed=4)
    m = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    kw = dict(chunk_rows=1000, threads=2)
    assert_same_tables(lf.score(m, t, executor="native", **kw),
                       lf.score(m, t, executor="interpreter", **kw))


def test_a_native_process_never_imports_numba(tmp_path):
    """Scoring with executor="native" (and with "auto" on a fresh process: small batches)
    loads neither numba nor LLVM's compiler, and gives the interpreter's bits."""
    data = tmp_path / "leads.parquet"
    import pyarrow.parquet as pq

    pq.write_table(synthetic.generate_leads(1000, seed=9), data)
    out = tmp_path / "out.parquet"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               LEADSCORE_FUSED_CACHE=str(tmp_path / "fused"))
    for k in ("LEADSCORE_FUSED", "LEADSCORE_FUSE_AFTER_ROWS", "LEADSCORE_EXECUTOR"):
        env.pop(k, None)
    m = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    for how in ("native", "auto"):
        code = ("import sys, leadscore_fast as lf\n"
                "from leadscore_fast.synthetic import REFERENCE_MODEL_YAML as M\n"
                f"t = lf.score(lf.Model.from_yaml_string(M), {str(data)!r}, executor={how!r})\n"
                "import pyarrow.parquet as pq\n"
                f"pq.write_table(t, {str(out)!r})\n"
                "from leadscore_fast.vm import fused\n"
                "print(fused.ROWS_RUN['native'], 'numba' in sys.modules,"
                " 'llvmlite.binding' in sys.modules)\n")
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        assert r.stdout.split() == ["1000", "False", "False"], (how, r.stdout)
        assert_same_tables(pq.read_table(out), lf.score(m, str(data), executor="interpreter"))


def test_python_threads_score_at_once():
    """run_native releases the GIL and keeps its state per call: threads scoring at once get
    what each would get alone."""
    from concurrent.futures import ThreadPoolExecutor

    m = lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    tables = [synthetic.generate_leads(3000 + 100 * i, seed=i) for i in range(6)]
    want = [lf.score(m, t, executor="interpreter") for t in tables]
    with ThreadPoolExecutor(4) as ex:
        got = list(ex.map(lambda t: lf.score(m, t, executor="native", chunk_rows=512), tables))
    for g, w in zip(got, want):
        assert_same_tables(g, w)
