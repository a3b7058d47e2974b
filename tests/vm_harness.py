"""Hand-assembled programs for the VM tests: a fake Program (ARCHITECTURE §3) so the numba
kernel can be tested without the Rust compiler, and helpers that expose registers as output."""
from __future__ import annotations

import numpy as np
import pyarrow as pa

from leadscore_fast.vm import opcodes as O
from leadscore_fast.vm.opcodes import INSN_WIDTH


def insn(op, *operands):
    return [op, *operands] + [0] * (INSN_WIDTH - 1 - len(operands))


class FakeProgram:
    def __init__(self, insns, columns=(), *, consts_f=(), consts_i=(), n_regs=(8, 8, 8),
                 lookups=(), tables=(), scores=("s",), segments=(), queries=(), as_of=None,
                 name="t"):
        self.code = np.array([insn(*i) for i in insns], dtype="<i8").tobytes()
        self.consts_f = [float(x) for x in consts_f]
        self.consts_i = [int(x) for x in consts_i]
        self.n_regs = tuple(n_regs)
        self.columns = [c if isinstance(c, dict) else {"name": c, "kind": "x", "has_any": None}
                        for c in columns]
        self.lookups = list(lookups)
        self._tables = list(tables)  # per lookup: dict value → float, plus key None for NULL
        self.scores = list(scores)
        self.segments = list(segments)
        self.queries = [query(**q) if "size" not in q else q for q in queries]
        self.as_of = as_of
        self.name = name

    def eval_lookup(self, t, values):
        f = self._tables[t]
        return [float(f.get(v, f.get("*", np.nan))) for v in values] + [float(f[None])]


def query(kind, name="q", slot=0, index=0, edges=(), k=0, per=None, groups=1):
    """A ``Program.queries`` entry (ARCHITECTURE §6); size follows from kind and edges."""
    size = {"count": 1, "hist": len(edges) + 2}.get(kind, 0)
    return {"name": name, "kind": kind, "slot": slot, "size": size, "index": index,
            "edges": [float(e) for e in edges], "k": k, "per": per, "groups": groups}


def same_floats(a, b) -> bool:
    """float64 arrays equal to the bit, any NaN equal to any NaN (NaN is NULL)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    return bool(((a.view(np.int64) == b.view(np.int64)) | both_nan).all())


def assert_same_tables(got: pa.Table, want: pa.Table, what="native"):
    """Two score() outputs identical: float columns to the bit, the rest equal."""
    assert got.column_names == want.column_names
    for name in got.column_names:
        g, w = got.column(name), want.column(name)
        assert g.type == w.type, name
        if pa.types.is_floating(g.type):
            gv, wv = g.to_numpy(zero_copy_only=False), w.to_numpy(zero_copy_only=False)
            assert same_floats(gv, wv) and g.null_count == w.null_count and \
                g.is_null().equals(w.is_null()), f"{what} differs from the interpreter in {name}: " \
                f"{gv.tolist()} vs {wv.tolist()}"
        else:
            assert g.equals(w), f"{what} differs from the interpreter in {name}: {g} vs {w}"


def assert_same_runs(got, want, what="native"):
    """Two runner.run() results identical (scores to the bit, every query answer)."""
    assert got.n_rows == want.n_rows
    assert got.scores.keys() == want.scores.keys()
    for name in got.scores:
        assert same_floats(got.scores[name], want.scores[name]), f"{what}: score {name}"
    assert got.segments.keys() == want.segments.keys()
    for name, (codes, labels) in got.segments.items():
        assert np.array_equal(codes, want.segments[name][0]) and labels == want.segments[name][1], name
    assert got.counts == want.counts, what
    assert got.hists.keys() == want.hists.keys()
    for name in got.hists:
        assert np.array_equal(got.hists[name], want.hists[name]), f"{what}: hist {name}"
    assert got.masks.keys() == want.masks.keys()
    for name in got.masks:
        assert np.array_equal(got.masks[name], want.masks[name]), f"{what}: mask {name}"
    assert got.topk.keys() == want.topk.keys()
    for name in got.topk:
        assert len(got.topk[name]) == len(want.topk[name])
        for g, w in zip(got.topk[name], want.topk[name]):
            assert np.array_equal(g, w), f"{what}: top-k {name}"
        for g, w in zip(got.topk_values[name], want.topk_values[name]):
            assert same_floats(g, w), f"{what}: top-k values {name}"


def _native(kw) -> bool:
    return (kw or {}).get("executor") == "native"


def run_queries(insns, data, *, run_kw=None, **prog_kw):
    """Run ``insns`` with :func:`leadscore_fast.runner.run`; return the RunResult. On the
    native executor (``run_kw["executor"]``) the interpreter runs it too, and the two must
    agree to the bit."""
    from leadscore_fast.runner import run as run_program

    if isinstance(data, dict):
        data = pa.table(data)
    prog_kw.setdefault("columns", list(data.schema.names))
    prog_kw.setdefault("scores", [])
    prog = FakeProgram(insns, **prog_kw)
    res = run_program(prog, data, **(run_kw or {}))
    if _native(run_kw):
        assert_same_runs(res, run_program(prog, data, **dict(run_kw, executor="interpreter")))
    return res


def table(**cols) -> pa.Table:
    return pa.table({k: v for k, v in cols.items()})


def bool_out(reg: int):
    """Instructions exposing bool register ``reg`` as segmentation 0 (labels T, F)."""
    return [(O.SEG_SET, 0, reg, 0), (O.NOT, 7, reg), (O.SEG_SET, 0, 7, 1)]


def run(insns, data, *, out="f", reg=0, score_kw=None, **prog_kw):
    """Run ``insns`` (+ the output instructions for ``out``) over ``data``; return a list.

    out: "f" float register → score; "i" int register (via I2F); "b" bool register (tri-state
    as True/False/None); "raw" return the whole output Table. On the native executor
    (``score_kw["executor"]``) the interpreter runs it too, and the two must agree to the bit.
    """
    insns = list(insns)
    if isinstance(data, dict):
        data = pa.table(data)
    prog_kw.setdefault("columns", list(data.schema.names))
    if out == "f":
        insns.append((O.STORE_SCORE, 0, reg, 0))
    elif out == "i":
        insns += [(O.I2F, 7, reg), (O.STORE_SCORE, 0, 7, 0)]
    elif out == "b":
        insns += bool_out(reg)
        prog_kw.setdefault("segments", [{"name": "b", "labels": ["T", "F"]}])
        prog_kw.setdefault("scores", [])
    prog = FakeProgram(insns, **prog_kw)
    from leadscore_fast.scoring import score

    res = score(prog, data, **(score_kw or {}))
    if _native(score_kw):  # bit for bit what the interpreter gives
        assert_same_tables(res, score(prog, data, **dict(score_kw, executor="interpreter")))
    if out == "raw":
        return res
    if out == "b":
        return [None if v is None else v == "T" for v in res.column("b").to_pylist()]
    return res.column("s").to_pylist()
