"""The fused-kernel code generator: a Program's bytecode → LLVM IR for one native row loop.

- Each opcode's row semantics are a transcription of its kernel.py helper, in the same
  operation order (no fast-math, no reassociation): same inputs, same bits as the interpreter.
- Only bytecode is read: opcodes, register and column numbers, numeric constants. Rule text
  never reaches the generated code, and nothing is passed to eval/exec: the IR is built with
  llvmlite's IR builder; vm/native.py compiles it, vm/fused.py decides when.
- A kernel is specialised to the batch's layout (Layout): each column's physical type and
  whether it has a validity bitmap, and which LOOKUP_RULE_K have a points table.
- Rows are processed in chunks: validity and boolean bitmaps are first expanded to bytes in a
  small scratch area (8 rows per multiply), then the row loop runs, per stage (see
  STAGE_INSTRUCTIONS). DECAY's vectorised 2**t covers exponents within +-1022; a chunk with a
  finite one outside re-runs the stage with the exact libm path, as the interpreter does.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from llvmlite import ir

from leadscore_fast.vm import opcodes as O
from leadscore_fast.vm.columns import PT_BOOL, PT_NULL
from leadscore_fast.vm.fused_ops import EMITTERS, LOOKUPS
from leadscore_fast.vm.fused_row import (
    ELEM, F64, I1, I8, I32, I64, Row, const_f, const_i8, const_i64,
)

SYMBOL = "leadscore_fused"
# A row loop of more than about 1,000 instructions is no longer vectorised by LLVM (a
# 1,843-instruction model ran 5x slower, scalar), so longer programs run as consecutive stages:
# one row loop per stage over the chunk, the registers a later stage reads kept in chunk-wide
# scratch between them (an interpreter's registers, but a few per stage boundary, not per op).
STAGE_INSTRUCTIONS = 500  # measured: a 614-instruction stage of the 1,000-rule model was left
# scalar ("cannot identify array bounds"), 460-instruction ones vectorised; a program of one
# stage runs fastest (200 rules: 64 ms in one stage, 83 ms in two), so stages are long

# The args array the entry function reads (int64 words), built by Kernel.args():
#   [as_of, n (row stride of the outputs), out_f address, out_seg address, chunk rows,
#    masks address,
#    per column: data address, validity address, element offset,
#    per table: address in lut_b, address in lut_f, last index (size - 1)]
HEAD = 6
PER_COL = 3
PER_TAB = 3

VOID = ir.VoidType()
NAN = float("nan")
_LN2 = float(np.log(2.0))
_E = [1.0 / float(np.prod(np.arange(1, k + 1, dtype=np.float64))) for k in range(14)]
HIST_EDGES_MAX = 16  # a histogram is one compare-and-count per bucket and row: up to here



class NotFusable(Exception):
    """The program (or this batch's layout) is outside what fused kernels cover."""


class Outputs(NamedTuple):
    """What the kernel writes: scores and segment codes (when ``materialize``), query counters
    (``slots`` int64 accumulators per block) and row masks."""
    scores: int
    segs: int
    slots: int
    masks: int
    materialize: bool


class Layout(NamedTuple):
    """What a kernel is specialised to besides the program: per column (ptype, has_valid),
    per LOOKUP_RULE_K instruction whether its points table is non-empty."""
    columns: tuple
    points: tuple


class _Values(dict):
    """One kind of value of a row in a stage: the SSA value of each register (segmentation,
    stored score) so far; one an earlier stage wrote is loaded from its spill row when first
    read, and one nobody wrote is a program the generator does not cover."""

    def __init__(self, kind, unspill):
        super().__init__()
        self.kind, self.unspill = kind, unspill

    def __missing__(self, r):
        try:
            value = self.unspill(self.kind, r)
        except KeyError:
            raise NotFusable(f"{self.kind}{r} read before written") from None
        self[r] = value
        return value


def _effects(insn) -> tuple[set, set]:
    """The values an instruction reads and writes: ("F"|"I"|"B", register), ("seg", g), and
    ("stored", score) for what STORE_SCORE wrote (LOAD_SCORE reads it)."""
    op = insn[0]
    reads, writes = set(), set()
    for kind, v in zip(O.OPCODES[op][1], insn[1:]):
        if kind in ("dF", "dI", "dB"):
            writes.add((kind[1], v))
        elif kind == "aF":
            reads.add(("F", v))
            writes.add(("F", v))
        elif kind in ("F", "I", "B") or (kind in ("B?", "I?") and v >= 0):
            reads.add((kind[0], v))
    if op == O.STORE_SCORE:
        writes.add(("stored", insn[1]))
        if insn[3] == 2:
            writes.add(("F", insn[2]))
    elif op == O.LOAD_SCORE:
        reads.add(("stored", insn[2]))
    elif op == O.SEG_SET:
        reads.add(("seg", insn[1]))
        writes.add(("seg", insn[1]))
    elif op == O.SEG_MATRIX:
        reads |= {("seg", insn[2]), ("seg", insn[3])}
        writes.add(("seg", insn[1]))
    elif op == O.LOAD_SEG:
        reads.add(("seg", insn[2]))
    return reads, writes


# --- code generation -------------------------------------------------------------------------
class Gen:
    """Builds the module for one (program, layout)."""

    def __init__(self, code, consts_f, consts_i, outs: Outputs, lay: Layout):
        self.code = [tuple(int(x) for x in insn) for insn in code]
        self.kf = [float(x) for x in consts_f]
        self.ki = [int(x) for x in consts_i]
        self.outs, self.lay = outs, lay
        self.n_scores, self.n_segs = outs.scores, outs.segs
        for insn in self.code:
            if insn[0] == O.HIST and insn[4] > HIST_EDGES_MAX:
                raise NotFusable(f"a histogram of {insn[4]} edges")
        self.module = ir.Module(name="leadscore_fused")
        self._plan_stages()
        # columns and tables the program reads, in first-use order
        self.cols: list[int] = []
        self.tabs: list[tuple[int, str]] = []  # (lut index, "b" tri-state | "f" float)
        self.bitmaps: list[tuple[int, str]] = []  # (column, "valid" | "data") to expand
        k = 0
        for insn in self.code:
            op = insn[0]
            if op not in O.COLUMN_OPCODES:
                continue
            c = insn[2]
            pt, has_valid = lay.columns[c]
            if c not in self.cols:
                self.cols.append(c)
            if has_valid and pt != PT_NULL and (c, "valid") not in self.bitmaps:
                self.bitmaps.append((c, "valid"))
            if pt == PT_BOOL and op in (O.LOAD_B, O.LOAD_F) and (c, "data") not in self.bitmaps:
                self.bitmaps.append((c, "data"))
            if op in LOOKUPS:
                kind = "b" if op in (O.LOOKUP_B, O.LOOKUP_RULE_K) else "f"
                if (insn[3], kind) not in self.tabs:
                    self.tabs.append((insn[3], kind))
            if op == O.LOOKUP_RULE_K:
                if lay.points[k] and (insn[5] - 1, "f") not in self.tabs:
                    self.tabs.append((insn[5] - 1, "f"))
                k += 1

    def _plan_stages(self):
        """Cut the program into stages and find what crosses their boundaries: ``live_in[k]``
        maps each value stage k reads before writing it to the stage that wrote it last (None:
        a segmentation's initial "unassigned"); ``spills`` lists (value, stage) pairs a later
        stage reads, each with its own scratch row (so a stage re-run for DECAY's exact path
        reads its inputs unchanged)."""
        n = len(self.code)
        per = max(1, int(STAGE_INSTRUCTIONS))
        count = max(1, -(-n // per))
        self.stages = [(k * n // count, (k + 1) * n // count) for k in range(count)]
        self.rule_k = {}  # pc of a LOOKUP_RULE_K → its index in Layout.points
        for pc, insn in enumerate(self.code):
            if insn[0] == O.LOOKUP_RULE_K:
                self.rule_k[pc] = len(self.rule_k)
        last_writer: dict = {}
        self.live_in: list[dict] = []
        spills: dict = {}
        for k, (lo, hi) in enumerate(self.stages):
            written: set = set()
            live: dict = {}
            reads_then_writes = [_effects(insn) for insn in self.code[lo:hi]]
            if k == len(self.stages) - 1:  # the row's end stores every segmentation
                reads_then_writes.append(({("seg", g) for g in range(self.n_segs)}, set()))
            for reads, writes in reads_then_writes:
                for key in sorted(reads):  # sorted: the same IR in every process
                    if key not in written and key not in live:
                        src = last_writer.get(key)
                        if src is None and key[0] != "seg":
                            raise NotFusable(f"{key} read before written")
                        live[key] = src
                        if src is not None:
                            spills.setdefault((key, src), len(spills))
                written |= writes
            for key in written:
                last_writer[key] = k
            self.live_in.append(live)
        self.spills = spills  # (value, stage that wrote it) → scratch row
        # per stage: pc → the spilled values its instruction writes for the last time in the
        # stage, stored right there (not at the row's end, which would keep them all live)
        self.spill_after = [dict() for _ in self.stages]
        for (key, k), slot in spills.items():
            lo, hi = self.stages[k]
            pc = max(q for q in range(lo, hi) if key in _effects(self.code[q])[1])
            self.spill_after[k].setdefault(pc, []).append((key, slot))
        self.stage_decay = [any(insn[0] == O.DECAY for insn in self.code[lo:hi])
                            for lo, hi in self.stages]

    # -- small helpers -------------------------------------------------------------------------
    f, i64, i8 = staticmethod(const_f), staticmethod(const_i64), staticmethod(const_i8)

    def _loop(self, b, fn, n, reductions, body):
        """for i in range(n): body(b, i, values) -> new values; returns the final values.
        ``reductions``: initial values of the loop-carried values."""
        pre = b.block
        hdr = fn.append_basic_block("loop")
        blk = fn.append_basic_block("body")
        out = fn.append_basic_block("done")
        b.branch(hdr)
        b.position_at_end(hdr)
        i = b.phi(I64)
        i.add_incoming(self.i64(0), pre)
        phis = []
        for v in reductions:
            p = b.phi(v.type)
            p.add_incoming(v, pre)
            phis.append(p)
        b.cbranch(b.icmp_signed("<", i, n), blk, out)
        b.position_at_end(blk)
        new = body(b, i, phis)
        end = b.block
        i.add_incoming(b.add(i, self.i64(1)), end)
        for p, v in zip(phis, new):
            p.add_incoming(v, end)
        b.branch(hdr)
        b.position_at_end(out)
        return phis

    # -- the module ----------------------------------------------------------------------------
    def build(self) -> str:
        """The module's IR text: the row kernel ``leadscore_rows`` (every pointer its own
        noalias parameter, so LLVM vectorises without runtime overlap checks) and the entry
        ``leadscore_fused``, which reads those parameters from the args array."""
        params = []  # (type, name, where the entry finds it)
        head = HEAD + PER_COL * len(self.lay.columns)
        for c in self.cols:
            pt, has_valid = self.lay.columns[c]
            w = HEAD + PER_COL * c
            if pt in ELEM:
                params.append((ELEM[pt].as_pointer(), f"data{c}", ("word", w)))
            if pt != PT_NULL:
                if has_valid:
                    params.append((I8.as_pointer(), f"valid{c}", ("word", w + 1)))
            params.append((I64, f"off{c}", ("word", w + 2)))
        for t, kind in self.tabs:
            w = head + PER_TAB * t
            params.append(((I8 if kind == "b" else F64).as_pointer(), f"tab{kind}{t}",
                           ("word", w + (0 if kind == "b" else 1))))
            params.append((I64, f"last{kind}{t}", ("word", w + 2)))
        if self.outs.materialize:
            for s in range(self.n_scores):
                params.append((F64.as_pointer(), f"score{s}", ("row", 2, 8 * s)))
            for g in range(self.n_segs):
                params.append((I32.as_pointer(), f"seg{g}", ("row", 3, 4 * g)))
        for k in range(self.outs.masks):
            params.append((I8.as_pointer(), f"mask{k}", ("row", 5, k)))
        # every spill row its own noalias pointer: with rows of one pointer at runtime offsets
        # LLVM needs a check per pair before it vectorises, and past 8 pairs it does not
        for k in range(2 * len(self.spills)):
            params.append((I8.as_pointer(), f"spill{k}", ("spill", k)))
        params += [(I8.as_pointer(), "scratch", ("arg", 1)),
                   (I64.as_pointer(), "nulls", ("arg", 2)),
                   (I64, "as_of", ("word", 0)), (I64, "chunk", ("word", 4)),
                   (I64, "r0", ("arg", 3)), (I64, "r1", ("arg", 4))]
        inner = ir.Function(self.module, ir.FunctionType(VOID, [t for t, _, _ in params]),
                            "leadscore_rows")
        inner.linkage = "internal"
        inner.attributes.add("noinline")
        for a, (_, name, _) in zip(inner.args, params):
            a.name = name
            if isinstance(a.type, ir.PointerType):
                a.add_attribute("noalias")
        self.p = {name: a for a, (_, name, _) in zip(inner.args, params)}
        self._inner(inner)
        self._entry(inner, params)
        return str(self.module)

    def _entry(self, inner, params):
        """void leadscore_fused(int64* args, int8* scratch, int64* nulls, int64 r0, int64 r1)."""
        fnty = ir.FunctionType(VOID, [I64.as_pointer(), I8.as_pointer(), I64.as_pointer(),
                                      I64, I64])
        fn = ir.Function(self.module, fnty, SYMBOL)
        b = ir.IRBuilder(fn.append_basic_block())

        def word(k):
            return b.load(b.gep(fn.args[0], [self.i64(k)]))

        vals = []
        for ty, _, where in params:
            if where[0] == "word":
                v = word(where[1])
            elif where[0] == "row":  # output row: base address + row * n * itemsize
                v = b.add(word(where[1]), b.mul(self.i64(where[2]), word(1)))
            elif where[0] == "spill":  # spill row k: scratch after the expanded bitmaps
                bitmaps = b.mul(self.i64(max(len(self.bitmaps), 1)), b.add(word(4), self.i64(8)))
                row = b.mul(self.i64(8 * where[1]), word(4))
                v = b.gep(fn.args[1], [b.add(bitmaps, row)])
            else:
                v = fn.args[where[1]]
            if isinstance(ty, ir.PointerType) and v.type != ty:
                v = b.inttoptr(v, ty) if v.type == I64 else b.bitcast(v, ty)
            vals.append(v)
        b.call(inner, vals)
        b.ret_void()

    def _inner(self, fn):
        b = ir.IRBuilder(fn.append_basic_block("entry"))
        p = self.p
        # chunk loop over [r0, r1)
        r0, r1 = p["r0"], p["r1"]
        chunk_rows = p["chunk"]
        self.stride = b.add(chunk_rows, self.i64(8))  # scratch bytes per expanded bitmap
        n_chunks = b.sdiv(b.add(b.sub(r1, r0), b.sub(chunk_rows, self.i64(1))), chunk_rows)
        n_counts = self.outs.slots + self.n_scores + self.n_segs  # the acc row of a block

        def chunk(b, k, counts):
            s = b.add(r0, b.mul(k, chunk_rows))
            rest = b.sub(r1, s)
            m = b.select(b.icmp_signed("<", rest, chunk_rows), rest, chunk_rows)
            for slot, (c, which) in enumerate(self.bitmaps):
                self._expand(b, fn, c, which, slot, s, m)
            zero = [self.i64(0)] * n_counts
            for k in range(len(self.stages)):
                got = self._loop(b, fn, m, [ir.Constant(I1, 0)] + zero,
                                 lambda b, i, red: self._row(b, i, s, red, False, k))
                bad, fast = got[0], got[1:]
                if self.stage_decay[k]:  # re-run the stage the exact way (kernel.decay)
                    pre = b.block
                    slow = fn.append_basic_block("exact")
                    join = fn.append_basic_block("join")
                    b.cbranch(bad, slow, join)
                    b.position_at_end(slow)
                    again = self._loop(b, fn, m, [ir.Constant(I1, 0)] + zero,
                                       lambda b, i, red: self._row(b, i, s, red, True, k))[1:]
                    end = b.block
                    b.branch(join)
                    b.position_at_end(join)
                    out = []
                    for v_fast, v_exact in zip(fast, again):
                        phi = b.phi(I64)
                        phi.add_incoming(v_fast, pre)
                        phi.add_incoming(v_exact, end)
                        out.append(phi)
                    fast = out
                counts = [b.add(a, v) for a, v in zip(counts, fast)]
            return counts

        totals = self._loop(b, fn, n_chunks, [self.i64(0)] * n_counts, chunk)
        for k, v in enumerate(totals):
            ptr = b.gep(p["nulls"], [self.i64(k)])
            b.store(b.add(b.load(ptr), v), ptr)
        b.ret_void()

    def _expand(self, b, fn, c, which, slot, s, m):
        """Bits off+s .. off+s+m of column c's validity or data bitmap → bytes 0/1 in the
        scratch slot, 8 rows per step: two bitmap bytes shifted to the row's bit offset, then
        spread over a word by one multiply (no table, no per-bit loop)."""
        p = self.p
        i64 = self.i64
        bm = b.bitcast(p[f"{which if which == 'valid' else 'data'}{c}"], I8.as_pointer())
        dst64 = b.bitcast(b.gep(p["scratch"], [b.mul(i64(slot), self.stride)]), I64.as_pointer())
        base = b.add(p[f"off{c}"], s)
        q = b.ashr(base, i64(3))
        shift = b.and_(base, i64(7))
        last = b.ashr(b.add(base, b.sub(m, i64(1))), i64(3))  # the bitmap's last byte we need

        def eight(b, k, _):
            at = b.add(q, k)
            nxt = b.add(at, i64(1))
            nxt = b.select(b.icmp_signed("<", nxt, last), nxt, last)  # never past the end
            lo = b.zext(b.load(b.gep(bm, [at])), I64)
            hi = b.zext(b.load(b.gep(bm, [nxt])), I64)
            byte = b.and_(b.lshr(b.or_(lo, b.shl(hi, i64(8))), shift), i64(0xFF))
            x = b.and_(b.mul(byte, i64(0x0101010101010101)), i64(0x8040201008040201))
            x = b.and_(b.lshr(b.add(x, i64(0x7F7F7F7F7F7F7F7F)), i64(7)),
                       i64(0x0101010101010101))
            st = b.store(x, b.gep(dst64, [k]))
            st.align = 1
            return []

        self._loop(b, fn, b.ashr(b.add(m, i64(7)), i64(3)), [], eight)

    # -- one row -------------------------------------------------------------------------------
    def _row(self, b, i, s, red, exact, stage):
        """Stage ``stage`` of the program for row s + i, one emitter per instruction
        (fused_ops.EMITTERS); returns the new reductions (bad, counters and null counts)."""
        live_in = self.live_in[stage]

        def unspill(kind, r):  # a value from an earlier stage, loaded where first read
            src = live_in[(kind, r)]
            if src is None:  # a segmentation no earlier stage assigned
                return ir.Constant(I32, -1)
            return self._unspill(b, i, (kind, r), self.spills[((kind, r), src)])

        values = {kind: _Values(kind, unspill) for kind in ("F", "I", "B", "seg", "stored")}
        row = Row(self, b, i, b.add(s, i), values, red[0], list(red[1:]), exact)
        spill_after = self.spill_after[stage]
        first, end = self.stages[stage]
        for pc in range(first, end):
            for key, slot in spill_after.get(pc - 1, ()):  # written last by the previous one
                self._spill(b, i, values[key[0]][key[1]], key, slot)
            op, a0, a1, a2, a3, a4 = self.code[pc]
            emit = EMITTERS.get(op)
            if emit is None:
                raise NotFusable(f"opcode {op}")
            row.pc = pc
            emit(row, op, a0, a1, a2, a3, a4)
        for key, slot in spill_after.get(end - 1, ()):
            self._spill(b, i, values[key[0]][key[1]], key, slot)
        counts = row.counts
        if self.outs.materialize and stage == len(self.stages) - 1:
            j = row.j
            for g in range(self.n_segs):
                x = row.segs[g]
                b.store(x, b.gep(self.p[f"seg{g}"], [j]))
                k = self.outs.slots + self.n_scores + g
                counts[k] = b.add(counts[k],
                                  b.zext(b.icmp_signed("<", x, ir.Constant(I32, 0)), I64))
        return [row.bad] + counts

    def _slot(self, b, i, slot, ty):
        """Row i of spill row ``slot`` (8 bytes per row, a noalias parameter of its own)."""
        return b.gep(b.bitcast(self.p[f"spill{slot}"], ty.as_pointer()), [i])

    def _spill(self, b, i, value, key, slot):
        if key[0] == "I":  # (value, valid): the valid flag in the value's high row
            b.store(value[0], self._slot(b, i, slot, I64))
            b.store(b.zext(value[1], I8), self._slot(b, i, slot + len(self.spills), I8))
        else:
            b.store(value, self._slot(b, i, slot, value.type))

    def _unspill(self, b, i, key, slot):
        ty = {"F": F64, "stored": F64, "B": I8, "seg": I32}.get(key[0])
        if key[0] == "I":
            valid = b.load(self._slot(b, i, slot + len(self.spills), I8))
            return (b.load(self._slot(b, i, slot, I64)),
                    b.icmp_unsigned("!=", valid, self.i8(0)))
        return b.load(self._slot(b, i, slot, ty))

    def overflow_intrinsic(self, name):
        """llvm.s{add,sub,mul}.with.overflow.i64: {wrapped result, overflowed}."""
        fn = self.module.globals.get(name)
        if fn is None:
            ret = ir.LiteralStructType([I64, I1])
            fn = ir.Function(self.module, ir.FunctionType(ret, [I64, I64]), name)
        return fn

    def finite(self, b, x):
        """x is neither NaN nor ±inf (np.isfinite)."""
        ax = b.call(self.intrinsic("llvm.fabs.f64", 1), [x])
        return b.fcmp_ordered("<", ax, ir.Constant(F64, float("inf")))

    def intrinsic(self, name, arity):
        fn = self.module.globals.get(name)
        if fn is None:
            fn = ir.Function(self.module, ir.FunctionType(F64, [F64] * arity), name)
        return fn

    def decay(self, b, pts, age, hl, bad, exact):
        """kernel.decay for one row: p * 2**t, t = -(age / hl), as exponent bits times a
        polynomial; outside +-1022 (or NULL) NaN, and ``bad`` set where libm would give a
        number, for the exact re-run (kernel.decay's second loop)."""
        f = self.f
        t = b.fneg(b.fdiv(age, hl))
        ok = b.and_(b.fcmp_ordered(">=", t, f(-1022.0)), b.fcmp_ordered("<=", t, f(1022.0)))
        t = b.select(ok, t, f(0.0))
        n = b.call(self.intrinsic("llvm.floor.f64", 1), [b.fadd(t, f(0.5))])
        x = b.fmul(b.fsub(t, n), f(_LN2))
        y = f(_E[13])
        for k in range(12, 6, -1):
            y = b.fma(y, x, f(_E[k]))
        for k in range(6, -1, -1):
            y = b.fma(y, x, f(_E[k]))
        scale = b.bitcast(b.shl(b.add(b.fptosi(n, I64), self.i64(1023)), self.i64(52)), F64)
        v = b.select(ok, b.fmul(b.fmul(pts, y), scale), f(NAN))
        if exact:
            pw = self.intrinsic("llvm.pow.f64", 2)
            h = hl
            slow = b.select(b.fcmp_unordered("!=", h, f(0.0)),
                            b.fmul(pts, b.call(pw, [f(0.5), b.fdiv(age, h)])), f(NAN))
            v = b.select(b.fcmp_unordered("uno", v, v), slow, v)
        else:
            t_raw = b.fneg(b.fdiv(age, hl))
            redo = b.and_(b.and_(b.not_(ok), b.fcmp_ordered("ord", t_raw, t_raw)),
                          b.fcmp_ordered("ord", pts, pts))
            bad = b.or_(bad, redo)
        return v, bad


def ir_text(code, consts_f, consts_i, outs: Outputs, lay: Layout) -> str:
    """The LLVM IR a program compiles to for this layout (before optimisation)."""
    return Gen(code, consts_f, consts_i, outs, lay).build()
