"""One LLVM IR emitter per opcode for the fused kernels (the lowering registry).

``EMITTERS[op](row, op, a0, a1, a2, a3, a4)`` emits one instruction's row semantics into
``row`` (fused_row.Row). Each is a transcription of its kernel.py helper, in the same
operation order (no fast-math, no reassociation), so a fused kernel gives the interpreter's
bits. An opcode is fused exactly when it has an emitter here; the opcode table's `fusion`
column must agree (tests/test_vm_fused.py checks both ways).
"""
from __future__ import annotations

from leadscore_fast.vm import opcodes as O
from leadscore_fast.vm.columns import PT_BOOL, PT_F32, PT_F64, PT_NULL
from leadscore_fast.vm.fused_row import ELEM, I8, I32, I64, INF, INTS, NAN, TIMES, ir

US_PER_DAY = 86_400_000_000.0
LOOKUPS = (O.LOOKUP_F, O.LOOKUP_B, O.LOOKUP_I, O.LOOKUP_RULE_K)
_FCMP = ["==", "!=", "<", "<=", ">", ">="]
_ICMP = ["==", "!=", "<", "<=", ">", ">="]
INT64_MIN = -(1 << 63)

EMITTERS: dict = {}


def emits(*ops):
    """Register the decorated function as the emitter of ``ops``."""
    def register(fn):
        for op in ops:
            assert op not in EMITTERS, f"two emitters for opcode {op}"
            EMITTERS[op] = fn
        return fn
    return register


@emits(O.NOP)
def _nop(r, op, a0, a1, a2, a3, a4):
    pass


# --- columns ---------------------------------------------------------------------------------
@emits(O.LOAD_F)
def _load_f(r, op, a0, a1, a2, a3, a4):
    if r.pt(a1) not in ELEM:
        r.rf[a0] = r.f(NAN)
        return
    r.rf[a0] = r.fsel(r.valid(a1), r.as_float(a1), r.f(NAN))


@emits(O.LOAD_I, O.LOAD_US)  # kernel.load_i (ints and times as stored), load_us (times in µs)
def _load_int(r, op, a0, a1, a2, a3, a4):
    pt = r.pt(a1)
    if pt not in TIMES and (op == O.LOAD_US or pt not in INTS):
        r.ri[a0] = (r.i64(0), r.false)
        return
    v = r.valid(a1)
    r.ri[a0] = (r.epoch_us(a1) if op == O.LOAD_US else r.as_int(a1), r.true if v is None else v)


@emits(O.LOAD_B)
def _load_b(r, op, a0, a1, a2, a3, a4):
    b, pt = r.b, r.pt(a1)
    if pt == PT_BOOL:
        x = b.shl(r.scratch_byte(a1, "data"), r.i8(1))  # 0 FALSE / 2 TRUE
    elif pt in (PT_F64, PT_F32):
        x = r.elem(a1)
        nonzero = b.fcmp_ordered("!=", x, ir.Constant(x.type, 0.0))
        x = b.select(r.isnan(x), r.null_b, r.tri(nonzero))
    elif pt in INTS:
        x = r.tri(b.icmp_signed("!=", r.as_int(a1), r.i64(0)))
    else:  # null, times, other: NULL (as load_b)
        r.rb[a0] = r.null_b
        return
    v = r.valid(a1)
    r.rb[a0] = x if v is None else b.select(v, x, r.null_b)


@emits(O.LOAD_DAYS)
def _load_days(r, op, a0, a1, a2, a3, a4):
    if r.pt(a1) not in TIMES:
        r.rf[a0] = r.f(NAN)
        return
    b = r.b
    d = b.fdiv(b.sitofp(b.sub(r.p["as_of"], r.epoch_us(a1)), ir.DoubleType()), r.f(US_PER_DAY))
    r.rf[a0] = r.fsel(r.valid(a1), d, r.f(NAN))


@emits(O.IS_NULL_COL)
def _is_null_col(r, op, a0, a1, a2, a3, a4):
    pt = r.pt(a1)
    if pt == PT_NULL:
        r.rb[a0] = r.two
        return
    v = r.valid(a1)
    null = r.b.not_(v) if v is not None else r.false
    if pt in (PT_F64, PT_F32):  # NaN in a float column reads as NULL
        null = r.b.or_(null, r.isnan(r.elem(a1)))
    r.rb[a0] = r.tri(null)


@emits(*LOOKUPS)
def _lookup(r, op, a0, a1, a2, a3, a4):
    b = r.b
    use_points = op == O.LOOKUP_RULE_K and r.lay.points[r.gen.rule_k[r.pc]]
    kind = "b" if op in (O.LOOKUP_B, O.LOOKUP_RULE_K) and not use_points else "f"
    t = a4 - 1 if use_points else a2
    idx = r.code_index(a1, r.p[f"last{kind}{t}"])
    value = b.load(b.gep(r.p[f"tab{kind}{t}"], [idx]))
    if op == O.LOOKUP_B:
        r.rb[a0] = value
    elif op == O.LOOKUP_F:
        r.rf[a0] = value
    elif op == O.LOOKUP_I:
        ok = b.fcmp_ordered("ord", value, value)
        r.ri[a0] = (b.select(ok, b.fptosi(value, I64), r.i64(0)), ok)
    else:  # LOOKUP_RULE_K
        k = r.kf[a3]
        if k != k:  # a NULL constant adds nothing
            return
        add = value if use_points else \
            b.select(b.icmp_unsigned("==", value, r.two), r.f(k), r.f(0.0))
        r.rf[a0] = b.fadd(r.rf[a0], add)


# --- scores, segments and constants ----------------------------------------------------------
@emits(O.LOAD_SCORE)
def _load_score(r, op, a0, a1, a2, a3, a4):
    r.rf[a0] = r.stored[a1]  # NotFusable if nothing stored it before


@emits(O.LOAD_SEG)
def _load_seg(r, op, a0, a1, a2, a3, a4):
    x = r.segs[a1]
    r.ri[a0] = (r.b.sext(x, I64), r.b.icmp_signed(">=", x, ir.Constant(I32, 0)))


@emits(O.CONST_F)
def _const_f(r, op, a0, a1, a2, a3, a4):
    r.rf[a0] = r.f(r.kf[a1])


@emits(O.CONST_I)
def _const_i(r, op, a0, a1, a2, a3, a4):
    r.ri[a0] = (r.i64(r.ki[a1]), ir.Constant(ir.IntType(1), int(a2 != 0)))


@emits(O.CONST_B)
def _const_b(r, op, a0, a1, a2, a3, a4):
    r.rb[a0] = r.i8(a1)


@emits(O.ZERO_F)
def _zero_f(r, op, a0, a1, a2, a3, a4):
    r.rf[a0] = r.f(0.0)


# --- numbers ---------------------------------------------------------------------------------
@emits(O.I2F)
def _i2f(r, op, a0, a1, a2, a3, a4):
    x, v = r.ri[a1]
    r.rf[a0] = r.b.select(v, r.b.sitofp(x, ir.DoubleType()), r.f(NAN))


@emits(O.ARITH_F, O.ARITH_FK, O.ARITH_KF)
def _arith_f(r, op, a0, a1, a2, a3, a4):
    b, f = r.b, r.f
    x = f(r.kf[a1]) if op == O.ARITH_KF else r.rf[a1]
    y = f(r.kf[a2]) if op == O.ARITH_FK else r.rf[a2]
    if a3 <= 2:  # + - *
        res = getattr(b, ("fadd", "fsub", "fmul")[a3])(x, y)
    elif a3 == 6:  # pow; 0 to a negative power is NULL
        bad = b.or_(b.fcmp_unordered("uno", x, y),  # a NULL operand (C: pow(1, NaN) = 1)
                    b.and_(b.fcmp_ordered("==", x, f(0.0)), b.fcmp_ordered("<", y, f(0.0))))
        res = b.select(bad, f(NAN), r.call("llvm.pow.f64", x, y))
    else:
        nz = b.fcmp_unordered("!=", y, f(0.0))
        res = b.select(nz, b.fdiv(x, y) if a3 == 3 else b.frem(x, y), f(NAN))
    r.rf[a0] = res


@emits(O.ARITH_I, O.ARITH_IK)
def _arith_i(r, op, a0, a1, a2, a3, a4):
    b, i64 = r.b, r.i64
    x, v = r.ri[a1]
    y, vy = (i64(r.ki[a2]), r.true) if op == O.ARITH_IK else r.ri[a2]
    v = b.and_(v, vy)
    if a3 <= 2:  # + - *: the wrapped value, NULL on overflow (kernel.arith_i)
        name = ("llvm.sadd.with.overflow.i64", "llvm.ssub.with.overflow.i64",
                "llvm.smul.with.overflow.i64")[a3]
        res = b.call(r.gen.overflow_intrinsic(name), [x, y])
        out = b.extract_value(res, 0)
        v = b.and_(v, b.not_(b.extract_value(res, 1)))
    elif a3 == 5:  # truncating //; by 0 NULL (value x), by -1 -x wrapping
        nz = b.icmp_signed("!=", y, i64(0))
        m1 = b.icmp_signed("==", y, i64(-1))
        safe = b.and_(nz, b.not_(m1))
        q = b.sdiv(x, b.select(safe, y, i64(1)))
        out = b.select(m1, b.sub(i64(0), x), q)
        ok = b.and_(nz, b.not_(b.and_(m1, b.icmp_signed("==", x, i64(INT64_MIN)))))
        v = b.and_(v, ok)
    else:  # truncating %; by 0 NULL, by -1 0 (INT64_MIN % -1 traps)
        nz = b.icmp_signed("!=", y, i64(0))
        safe = b.and_(nz, b.icmp_signed("!=", y, i64(-1)))
        out = b.srem(x, b.select(safe, y, i64(1)))
        v = b.and_(v, nz)
    r.ri[a0] = (out, v)


_MATH_CALLS = {1: "llvm.fabs.f64", 3: "llvm.exp.f64", 5: "llvm.floor.f64",
               6: "llvm.ceil.f64", 7: "llvm.round.f64"}  # round: half away from zero
_MATH_POSITIVE = {2: "llvm.log.f64", 8: "llvm.log10.f64", 9: "llvm.log2.f64"}  # x > 0 or NULL


@emits(O.MATH_F)
def _math_f(r, op, a0, a1, a2, a3, a4):
    b, f, x = r.b, r.f, r.rf[a1]
    if a2 == 0:
        res = b.fneg(x)
    elif a2 in _MATH_CALLS:
        res = r.call(_MATH_CALLS[a2], x)
    elif a2 == 4:
        res = b.select(b.fcmp_ordered(">=", x, f(0.0)), r.call("llvm.sqrt.f64", x), f(NAN))
    else:
        res = b.select(b.fcmp_ordered(">", x, f(0.0)), r.call(_MATH_POSITIVE[a2], x), f(NAN))
    r.rf[a0] = res


@emits(O.ROUND_F)  # kernel.round_f
def _round_f(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, k = r.rf[a1], r.f(r.kf[a2])
    if a3:
        res = b.fmul(r.call("llvm.round.f64", b.fdiv(x, k)), k)
        res = b.select(r.gen.finite(b, res), res, r.f(0.0))
        res = b.select(b.fcmp_unordered("uno", x, x), x, res)
    else:
        res = b.fdiv(r.call("llvm.round.f64", b.fmul(x, k)), k)
        res = b.select(r.gen.finite(b, res), res, x)
    r.rf[a0] = res


@emits(O.F2I)  # kernel.f2i
def _f2i(r, op, a0, a1, a2, a3, a4):
    b, f = r.b, r.f
    x = r.call("llvm.rint.f64", r.rf[a1])
    ok = b.and_(b.fcmp_ordered(">=", x, f(-9.223372036854775808e18)),
                b.fcmp_ordered("<", x, f(9.223372036854775808e18)))
    r.ri[a0] = (b.select(ok, b.fptosi(x, I64), r.i64(0)), ok)


@emits(O.NEG_I)  # NULL for INT64_MIN
def _neg_i(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, v = r.ri[a1]
    r.ri[a0] = (b.sub(r.i64(0), x), b.and_(v, b.icmp_signed("!=", x, r.i64(INT64_MIN))))


@emits(O.ABS_I)
def _abs_i(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, v = r.ri[a1]
    r.ri[a0] = (b.select(b.icmp_signed("<", x, r.i64(0)), b.sub(r.i64(0), x), x),
                b.and_(v, b.icmp_signed("!=", x, r.i64(INT64_MIN))))


@emits(O.MINMAX_F)
def _minmax_f(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, y = r.rf[a1], r.rf[a2]
    res = b.select(b.fcmp_ordered(">" if a3 else "<", x, y), x, y)
    res = b.select(r.isnan(x), y, res)
    r.rf[a0] = b.select(r.isnan(y), x, res)


@emits(O.MINMAX_I)
def _minmax_i(r, op, a0, a1, a2, a3, a4):
    b = r.b
    (x, vx), (y, vy) = r.ri[a1], r.ri[a2]
    res = b.select(b.icmp_signed(">" if a3 else "<", x, y), x, y)
    res = b.select(b.and_(vx, vy), res, b.select(vx, x, y))
    r.ri[a0] = (res, b.or_(vx, vy))


@emits(O.COALESCE_F)
def _coalesce_f(r, op, a0, a1, a2, a3, a4):
    x = r.rf[a1]
    r.rf[a0] = r.b.select(r.isnan(x), r.rf[a2], x)


@emits(O.COALESCE_I)
def _coalesce_i(r, op, a0, a1, a2, a3, a4):
    (x, vx), (y, vy) = r.ri[a1], r.ri[a2]
    r.ri[a0] = (r.b.select(vx, x, y), r.b.or_(vx, vy))


@emits(O.DECAY)
def _decay(r, op, a0, a1, a2, a3, a4):
    r.rf[a0], r.bad = r.gen.decay(r.b, r.rf[a1], r.rf[a2], r.rf[a3], r.bad, r.exact)


# --- booleans --------------------------------------------------------------------------------
@emits(O.CMP_F, O.CMP_FK)
def _cmp_f(r, op, a0, a1, a2, a3, a4):
    b = r.b
    if op == O.CMP_FK:
        k = r.kf[a2]
        if k != k:
            r.rb[a0] = r.null_b
            return
        y = r.f(k)
    else:
        y = r.rf[a2]
    x = r.rf[a1]
    t = r.tri(b.fcmp_ordered(_FCMP[a3], x, y))
    r.rb[a0] = b.select(b.fcmp_unordered("uno", x, y), r.null_b, t)


@emits(O.CMP_I, O.CMP_IK)
def _cmp_i(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, v = r.ri[a1]
    y, vy = (r.i64(r.ki[a2]), r.true) if op == O.CMP_IK else r.ri[a2]
    r.rb[a0] = b.select(b.and_(v, vy), r.tri(b.icmp_signed(_ICMP[a3], x, y)), r.null_b)


@emits(O.AND, O.OR)
def _and_or(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, y = r.rb[a1], r.rb[a2]
    less = b.icmp_unsigned("<", x, y)
    r.rb[a0] = b.select(less, x, y) if op == O.AND else b.select(less, y, x)


@emits(O.NOT)
def _not(r, op, a0, a1, a2, a3, a4):
    r.rb[a0] = r.b.sub(r.two, r.rb[a1])


@emits(O.IS_NULL_F)
def _is_null_f(r, op, a0, a1, a2, a3, a4):
    r.rb[a0] = r.tri(r.isnan(r.rf[a1]))


@emits(O.IS_NULL_I)
def _is_null_i(r, op, a0, a1, a2, a3, a4):
    r.rb[a0] = r.tri(r.b.not_(r.ri[a1][1]))


@emits(O.IS_NULL_B)
def _is_null_b(r, op, a0, a1, a2, a3, a4):
    r.rb[a0] = r.tri(r.b.icmp_unsigned("==", r.rb[a1], r.null_b))


@emits(O.COALESCE_B)
def _coalesce_b(r, op, a0, a1, a2, a3, a4):
    x = r.rb[a1]
    r.rb[a0] = r.b.select(r.b.icmp_unsigned("!=", x, r.null_b), x, r.rb[a2])


@emits(O.SELECT_F, O.SELECT_I, O.SELECT_B)
def _select(r, op, a0, a1, a2, a3, a4):
    b = r.b
    c = b.icmp_unsigned("==", r.rb[a1], r.two)
    d = {O.SELECT_F: r.rf, O.SELECT_I: r.ri, O.SELECT_B: r.rb}[op]
    x, y = d[a2], d[a3]
    if op == O.SELECT_I:
        d[a0] = (b.select(c, x[0], y[0]), b.select(c, x[1], y[1]))
    else:
        d[a0] = b.select(c, x, y)


# --- rules, scores and segments --------------------------------------------------------------
def _bound(k, default):
    """A RULE/CLAMP_F bound constant; a NULL bound does not bind."""
    return k if k == k else default


@emits(O.RULE)
def _rule(r, op, a0, a1, a2, a3, a4):
    b, f = r.b, r.f
    lo = _bound(r.kf[a3], -INF) if a3 >= 0 else -INF
    hi = _bound(r.kf[a4], INF) if a4 >= 0 else INF
    x = r.rf[a2]
    v = b.select(b.fcmp_ordered(">", x, f(lo)), x, f(lo))
    v = b.select(b.fcmp_ordered("<", v, f(hi)), v, f(hi))
    take = b.fcmp_ordered("ord", x, x)
    c = r.cond(a1)
    if c is not None:
        take = b.and_(take, c)
    r.rf[a0] = b.fadd(r.rf[a0], b.select(take, v, f(0.0)))


@emits(O.RULE_K)
def _rule_k(r, op, a0, a1, a2, a3, a4):
    k = r.kf[a2]
    if k != k:
        return
    c = r.cond(a1)
    add = r.f(k) if c is None else r.b.select(c, r.f(k), r.f(0.0))
    r.rf[a0] = r.b.fadd(r.rf[a0], add)


@emits(O.CLAMP_F)
def _clamp_f(r, op, a0, a1, a2, a3, a4):
    b, f = r.b, r.f
    lo, hi = _bound(r.kf[a1], -INF), _bound(r.kf[a2], INF)
    x = r.rf[a0]
    x = b.select(b.fcmp_ordered("<", x, f(lo)), f(lo), x)
    r.rf[a0] = b.select(b.fcmp_ordered(">", x, f(hi)), f(hi), x)


@emits(O.STORE_SCORE)
def _store_score(r, op, a0, a1, a2, a3, a4):
    b, gen = r.b, r.gen
    x = r.rf[a1]
    if a2 == 0:
        k = gen.outs.slots + a0
        r.counts[k] = b.add(r.counts[k], b.zext(r.isnan(x), I64))
    else:
        x = b.select(r.isnan(x), r.f(0.0), x)
        if a2 == 2:
            r.rf[a1] = x
    if gen.outs.materialize:
        b.store(x, b.gep(r.p[f"score{a0}"], [r.j]))
    r.stored[a0] = x


@emits(O.SEG_SET)
def _seg_set(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x = r.segs[a0]
    free = b.icmp_signed("==", x, ir.Constant(I32, -1))
    c = r.cond(a1)
    if c is not None:
        free = b.and_(free, c)
    r.segs[a0] = b.select(free, ir.Constant(I32, a2), x)


@emits(O.SEG_MATRIX)
def _seg_matrix(r, op, a0, a1, a2, a3, a4):
    b = r.b
    x, y = r.segs[a1], r.segs[a2]
    both = b.and_(b.icmp_signed(">=", x, ir.Constant(I32, 0)),
                  b.icmp_signed(">=", y, ir.Constant(I32, 0)))
    r.segs[a0] = b.select(both, b.add(b.mul(x, ir.Constant(I32, a3)), y), ir.Constant(I32, -1))


# --- queries ---------------------------------------------------------------------------------
@emits(O.COUNT_IF)
def _count_if(r, op, a0, a1, a2, a3, a4):
    r.counts[a0] = r.b.add(r.counts[a0], r.b.zext(r.cond(a1), I64))


@emits(O.STORE_MASK)
def _store_mask(r, op, a0, a1, a2, a3, a4):
    r.b.store(r.b.zext(r.cond(a1), I8), r.b.gep(r.p[f"mask{a0}"], [r.j]))


@emits(O.HIST)  # kernel.hist's linear count: j = #edges <= x, NULL to slot a0
def _hist(r, op, a0, a1, a2, a3, a4):
    b, i64 = r.b, r.i64
    x = r.rf[a1]
    at = i64(0)
    for e in r.kf[a2:a2 + a3]:
        at = b.add(at, b.zext(b.fcmp_ordered("<=", r.f(e), x), I64))
    ok = b.fcmp_ordered("ord", x, x)
    r.counts[a0] = b.add(r.counts[a0], b.zext(b.not_(ok), I64))
    for k in range(a3 + 1):
        hit = b.and_(ok, b.icmp_signed("==", at, i64(k)))
        r.counts[a0 + 1 + k] = b.add(r.counts[a0 + 1 + k], b.zext(hit, I64))
