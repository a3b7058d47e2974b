"""One row of a fused kernel while its instructions are emitted: the SSA value of every
register so far, the row's reductions, and the value helpers the emitters share (a column's
element as int64 / float64, its validity, dictionary code → table index, SQL's 0/1/2 booleans).

The emitters of fused_ops.py read and write a Row; fused_ir.py makes one per row loop body.
"""
from __future__ import annotations

from llvmlite import ir

from leadscore_fast.vm.columns import (
    PT_BOOL, PT_DATE32, PT_DATE64, PT_F32, PT_F64, PT_I8, PT_I16, PT_I32, PT_I64, PT_NULL,
    PT_TS_MS, PT_TS_NS, PT_TS_S, PT_TS_US, PT_U8, PT_U16, PT_U32, PT_U64,
)

F64 = ir.DoubleType()
F32 = ir.FloatType()
I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
NAN = float("nan")
INF = float("inf")

# the element type of each physical type's data buffer; others (null, other) have none to read
ELEM = {PT_F64: F64, PT_F32: F32, PT_I8: I8, PT_I16: I16, PT_I32: I32, PT_I64: I64, PT_U8: I8,
        PT_U16: I16, PT_U32: I32, PT_U64: I64, PT_BOOL: I8, PT_TS_S: I64, PT_TS_MS: I64,
        PT_TS_US: I64, PT_TS_NS: I64, PT_DATE32: I32, PT_DATE64: I64}
UNSIGNED = (PT_U8, PT_U16, PT_U32, PT_U64)
INTS = (PT_I8, PT_I16, PT_I32, PT_I64, PT_U8, PT_U16, PT_U32, PT_U64)
TIMES = (PT_TS_S, PT_TS_MS, PT_TS_US, PT_TS_NS, PT_DATE32, PT_DATE64)
_TIME_MULT = {PT_TS_US: 1, PT_TS_MS: 1000, PT_DATE64: 1000, PT_TS_S: 1_000_000,
              PT_DATE32: 86_400_000_000}


def const_f(x):
    return ir.Constant(F64, x)


def const_i64(x):
    return ir.Constant(I64, x)


def const_i8(x):
    return ir.Constant(I8, x)


class Row:
    """The state of one row of one stage while it is emitted.

    ``rf``/``ri``/``rb``: float, int (value, valid) and boolean (i8 0 FALSE / 1 NULL / 2 TRUE)
    registers; ``segs``: segmentation → code so far (-1 unassigned); ``stored``: score → what
    STORE_SCORE wrote (for LOAD_SCORE); ``counts``: the query counters and null counts;
    ``bad``: a DECAY exponent outside the fast path's range (the stage re-runs exactly).
    """

    true = ir.Constant(I1, 1)
    false = ir.Constant(I1, 0)
    two = ir.Constant(I8, 2)
    zero_b = ir.Constant(I8, 0)
    null_b = ir.Constant(I8, 1)

    def __init__(self, gen, b, i, j, values, bad, counts, exact):
        self.gen, self.b, self.i, self.j = gen, b, i, j
        self.p, self.lay = gen.p, gen.lay
        self.kf, self.ki = gen.kf, gen.ki
        self.rf, self.ri, self.rb = values["F"], values["I"], values["B"]
        self.segs, self.stored = values["seg"], values["stored"]
        self.bad, self.counts, self.exact = bad, counts, exact

    f, i64, i8 = staticmethod(const_f), staticmethod(const_i64), staticmethod(const_i8)

    def pt(self, c):
        """Column c's physical type in this layout."""
        return self.lay.columns[c][0]

    # booleans
    def cond(self, r):
        """A `B?` operand as i1 (TRUE), or None for -1: always TRUE."""
        return None if r < 0 else self.b.icmp_unsigned("==", self.rb[r], self.two)

    def tri(self, c):
        """i1 → 0 FALSE / 2 TRUE."""
        return self.b.select(c, self.two, self.zero_b)

    def isnan(self, x):
        return self.b.fcmp_unordered("uno", x, x)

    def fsel(self, c, x, y):
        return x if c is None else self.b.select(c, x, y)

    # columns
    def scratch_byte(self, c, which):
        """Row i of column c's expanded validity or data bitmap (one byte 0/1)."""
        b, gen = self.b, self.gen
        slot = gen.bitmaps.index((c, which))
        return b.load(b.gep(self.p["scratch"], [b.add(b.mul(self.i64(slot), gen.stride), self.i)]))

    def elem(self, c):
        b = self.b
        return b.load(b.gep(self.p[f"data{c}"], [b.add(self.p[f"off{c}"], self.j)]))

    def valid(self, c):
        """i1, or None when the column has no validity bitmap."""
        pt, has_valid = self.lay.columns[c]
        if not has_valid or pt == PT_NULL:
            return None
        return self.b.icmp_unsigned("!=", self.scratch_byte(c, "valid"), self.zero_b)

    def as_int(self, c):
        """An integer column's value as int64 (uint64 wraps, as in load_i)."""
        x = self.elem(c)
        if x.type == I64:
            return x
        return self.b.zext(x, I64) if self.pt(c) in UNSIGNED else self.b.sext(x, I64)

    def as_float(self, c):
        """load_f: a column as float64, before NULL masking."""
        b, pt = self.b, self.pt(c)
        if pt == PT_F64:
            return self.elem(c)
        if pt == PT_F32:
            return b.fpext(self.elem(c), F64)
        if pt == PT_BOOL:
            return b.uitofp(self.scratch_byte(c, "data"), F64)
        if pt == PT_U64:
            return b.uitofp(self.elem(c), F64)
        return b.sitofp(self.as_int(c), F64)  # ints, times, dates (uint8..32 zero-extended)

    def epoch_us(self, c):
        """A time column's value as int64 microseconds since the epoch (load_days and
        load_us): ns floored by 1000 (numba's // on int64), other units multiplied."""
        b, i64 = self.b, self.i64
        x, unit = self.as_int(c), self.pt(c)
        if unit == PT_TS_NS:
            q = b.sdiv(x, i64(1000))
            fix = b.and_(b.icmp_signed("!=", b.srem(x, i64(1000)), i64(0)),
                         b.icmp_signed("<", x, i64(0)))
            return b.sub(q, b.zext(fix, I64))
        return x if _TIME_MULT[unit] == 1 else b.mul(x, i64(_TIME_MULT[unit]))

    def code_index(self, c, last):
        """Dictionary code → table index, the NULL entry (``last``) for NULLs."""
        b, pt = self.b, self.pt(c)
        if pt in (PT_I32, PT_U32):
            code = b.zext(self.elem(c), I64)  # read as uint32: a negative int32 is past the end
        elif pt in INTS:
            code = self.as_int(c)  # compared as uint64: negative wraps past the end
        else:
            return last
        inside = b.icmp_unsigned("<", code, last)
        v = self.valid(c)
        if v is not None:
            inside = b.and_(inside, v)
        return b.select(inside, code, last)

    # intrinsics
    def call(self, name, *args):
        """A float64 LLVM intrinsic (llvm.floor.f64, llvm.pow.f64, ...)."""
        return self.b.call(self.gen.intrinsic(name, len(args)), list(args))
