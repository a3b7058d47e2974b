"""The numba VM: runs a Program's bytecode over one Arrow batch, chunk by chunk.

Vectorized interpretation: every instruction loops over a whole chunk of rows, so dispatch
costs once per instruction per chunk and the row loops are tight and SIMD-friendly. Sub-ops
(ptype, cmp, aop, fn, mm) are branched on outside the row loops. Registers are chunk-sized
2-D scratch arrays per kind, allocated once per worker thread; blocks of consecutive chunks run
in parallel on a pool of persistent Python threads (``run_block`` is nogil and NOT
parallel=True: compiling a big parallel function costs minutes on a small machine, and every
@njit callee is re-optimised and re-emitted inside each caller's module, so the call tree is
kept two levels deep: ``run_block`` -> opcode families / load helpers, tiny loops inlined into
those). The signature is fixed ((address, size) rows of uint8 buffers + an int64 meta array),
so two cached compilations (``run_block_core`` for the common opcodes and column types,
``run_block_full`` for all) serve every model and schema: programs without queries pass empty
query arrays, and materialize=False is a runtime flag, not another compile.

Queries (ARCHITECTURE §6) are fused into the same pass: COUNT_IF/HIST add to per-block int64
accumulators, STORE_MASK writes a full-length uint8 row, TOPK keeps per-block, per-group
min-heaps whose root is the k-th best row so far (one comparison rejects most rows).

Value conventions (engine/src/opcodes.rs): float NaN = NULL; int64 + validity byte;
bool tri-state 0 FALSE / 1 NULL / 2 TRUE.
"""
from __future__ import annotations

from leadscore_fast.vm.cache import ensure_cache_dir

ensure_cache_dir()  # before numba is imported

import math  # noqa: E402

import numba  # noqa: E402
import numpy as np  # noqa: E402
from numba import njit, types  # noqa: E402
from llvmlite import ir as llvm_ir  # noqa: E402
from numba.core import cgutils  # noqa: E402
from numba.extending import intrinsic  # noqa: E402
from numba.np.arrayobj import load_item, make_array  # noqa: E402

from leadscore_fast.vm import pool as _pool  # noqa: E402
from leadscore_fast.vm.columns import (  # noqa: E402
    PT_BOOL, PT_DATE32, PT_DATE64, PT_F32, PT_F64, PT_I8, PT_I16, PT_I32, PT_I64, PT_NULL,
    PT_TS_MS, PT_TS_NS, PT_TS_S, PT_TS_US, PT_U8, PT_U16, PT_U32, PT_U64,
)
from leadscore_fast.vm.opcodes import (  # noqa: E402
    ABS_I, AND, ARITH_F, ARITH_FK, ARITH_I, ARITH_IK, ARITH_KF, CLAMP_F, CMP_F, CMP_FK, CMP_I,
    CMP_IK, COALESCE_B, COALESCE_F, COALESCE_I, CONST_B, CONST_F, CONST_I, DECAY, I2F,
    IS_NULL_B, IS_NULL_COL, IS_NULL_F, IS_NULL_I, LOAD_B, LOAD_DAYS, LOAD_F, LOAD_I, LOAD_SCORE,
    LOAD_SEG, LOOKUP_B, LOOKUP_F, LOOKUP_I, MATH_F, MINMAX_F, MINMAX_I, NEG_I, NOP, NOT, OR, RULE,
    RULE_K,
    SEG_SET, SELECT_B, SELECT_F, SELECT_I, STORE_SCORE, ZERO_F,
    COUNT_IF, HIST, LOOKUP_RULE_K, SEG_MATRIX, STORE_MASK, TOPK, ROUND_F, F2I, LOAD_US,
    CORE_OPCODES,
)

BUF_TYPE = types.Array(types.uint8, 1, "C", readonly=True)
# error_model="numpy": division by zero yields inf/NaN instead of raising, and keeps loops
# free of exception checks (vectorizable). No fastmath: NaN is our NULL.
_OPTS = dict(cache=True, nogil=True, error_model="numpy", boundscheck=False)
# Callees are only ever called from run_block, whose cached machine code already contains
# them: skip their own cache entry and Python/C entry wrappers (cold compile time).
_SUB = dict(_OPTS, cache=False, no_cpython_wrapper=True, no_cfunc_wrapper=True)
NAN = np.nan
INF = np.inf
INT64_MIN = np.int64(-9223372036854775808)
INT64_MAX = np.int64(9223372036854775807)
US_PER_DAY = 86_400_000_000.0
# Inside the kernel an empty top-k heap entry is (-inf, ROW_EMPTY): it ranks below every real
# (value, row), even a real -inf, so a heap starts full of sentinels and needs no size counter.
# Outside (the arrays run() takes and returns) empty is the documented (NaN, -1).
ROW_EMPTY = np.iinfo(np.int64).max


@intrinsic
def _buf(typingctx, addr, n):
    """The read-only uint8 array of n bytes at addr (a Buffers row); borrowed, no refcount."""
    def codegen(context, builder, sig, args):
        out = make_array(BUF_TYPE)(context, builder)
        one = context.get_constant(types.intp, 1)
        context.populate_array(out, data=builder.inttoptr(args[0], out.data.type),
                               shape=cgutils.pack_array(builder, [args[1]]),
                               strides=cgutils.pack_array(builder, [one]), itemsize=one,
                               meminfo=None)
        return out._getvalue()

    return BUF_TYPE(types.int64, types.int64), codegen


# --- scalar-or-array access: lets one helper serve register and constant operands ---------
@intrinsic
def _at(typingctx, x, i):
    """x[i] for a register row, x itself for a scalar constant. An intrinsic, emitted in place:
    an @overload compiled a helper per type and re-typed it at every use (cold start)."""
    if isinstance(x, types.Array):
        def codegen(context, builder, sig, args):
            ary = make_array(x)(context, builder, args[0])
            ptr = cgutils.get_item_pointer(context, builder, x, ary, [args[1]])
            return load_item(context, builder, x, ptr)

        return x.dtype(x, i), codegen
    return types.unliteral(x)(x, i), lambda context, builder, sig, args: args[0]


# --- reinterpreting a byte buffer ----------------------------------------------------------
@intrinsic
def _view(typingctx, a, dt):
    """a.view(dt) for a 1-D C uint8 buffer: built inline. numba's own .view compiles a checking
    helper per (buffer, dtype) pair, ~0.1 s each of cold start; our buffers are whole items
    (columns.py trims them), so the new length is just nbytes // itemsize."""
    ret = a.copy(dtype=dt.dtype)

    def codegen(context, builder, sig, args):
        src = make_array(sig.args[0])(context, builder, args[0])
        out = make_array(ret)(context, builder)
        size = context.get_constant(types.intp, context.get_abi_sizeof(
            context.get_data_type(ret.dtype)))
        n = builder.udiv(src.nitems, size)
        context.populate_array(out, data=builder.bitcast(src.data, out.data.type),
                               shape=cgutils.pack_array(builder, [n]),
                               strides=cgutils.pack_array(builder, [size]),
                               itemsize=size, meminfo=src.meminfo, parent=src.parent)
        # a new reference to the same buffer
        context.nrt.incref(builder, ret, out._getvalue())
        return out._getvalue()

    return ret(a, dt), codegen


# --- column loads --------------------------------------------------------------------------
def _byte_table(one: int) -> np.ndarray:
    """Each bitmap byte value → the 8 bytes (0 or ``one``, low bit first) it expands to."""
    return np.array([sum(((b >> j) & 1) * one << (8 * j) for j in range(8)) for b in range(256)],
                    np.uint64)


# Global arrays are compile-time constants to numba: byte-aligned bitmaps expand with one
# table load and one 8-byte store per 8 rows instead of 8 shift/mask/store steps.
_BYTE_TO_01 = _byte_table(1)
_BYTE_TO_02 = _byte_table(2)


@njit(inline="always", **_SUB)
def _expand(dst, bm, base, m, table, one):
    """dst[r] = one if bit base+r of the Arrow bitmap bm is set else 0, for r < m."""
    i = 0
    if (base & 7) == 0 and (dst.size & 7) == 0:
        b0 = base >> 3
        # numba's .view here, not _view: with it LLVM keeps this table loop scalar; vectorized
        # into gathers it made the whole kernel ~5% slower
        d64 = dst.view(np.uint64)
        for k in range(m >> 3):
            d64[k] = table[bm[np.uint64(b0 + k)]]
        i = m & ~7
    for r in range(i, m):
        j = base + r
        dst[r] = ((bm[np.uint64(j >> 3)] >> (j & 7)) & 1) * one


@njit(**_SUB)
def _bits(dst, bm, base, m):
    """Expand bits base..base+m of an Arrow bitmap into bytes 0/1."""
    _expand(dst, bm, base, m, _BYTE_TO_01, np.uint8(1))


@njit(inline="always", **_SUB)
def _bit(bm, j):
    return (bm[np.uint64(j >> 3)] >> (j & 7)) & 1


@njit(inline="always", **_SUB)
def _cvt(dst, src, base, m):
    """dst[:m] = src[base:base+m], converted to dst's type (float64 or int64 registers)."""
    for i in range(m):
        dst[i] = src[np.uint64(base + i)]


@njit(inline="always", **_SUB)
def _days(dst, src, base, m, as_of, mult, per_day):
    # integer difference in the column's unit (exact), one float division
    for i in range(m):
        dst[i] = (as_of - src[np.uint64(base + i)] * mult) / per_day


@njit(inline="always", **_SUB)
def _cvt_b(dst, src, base, m):
    for i in range(m):
        x = src[np.uint64(base + i)]
        dst[i] = 1 if x != x else (2 if x != 0 else 0)


@njit(inline="always", **_SUB)
def _mask_f(dst, ok, m):
    for i in range(m):
        dst[i] = dst[i] if ok[i] else NAN


@njit(inline="always", **_SUB)
def _is_int(ptype):
    return _wide_codes(ptype) or ptype == PT_I32 or ptype == PT_U32


@njit(inline="always", **_SUB)
def _wide_codes(ptype):
    # rarer dictionary index types: run_block widens them with load_i first (one more pass,
    # but one gather loop instead of one per type to compile); U64 wraps negative: NULL
    return ptype == PT_I8 or ptype == PT_I16 or ptype == PT_I64 or ptype == PT_U8 \
        or ptype == PT_U16 or ptype == PT_U64


@njit(**_SUB)
def load_days(dst, data, has_valid, ok, ptype, base, m, as_of):
    if ptype == PT_TS_US:
        _days(dst, _view(data, np.int64), base, m, as_of, 1, US_PER_DAY)
    elif ptype == PT_TS_NS:
        # whole microseconds like every other unit: ns -> us by FLOOR division (-1500 ns is
        # -2 us), as the DuckDB translation does (epoch_ns floored to us)
        src = _view(data, np.int64)
        for i in range(m):
            dst[i] = (as_of - src[np.uint64(base + i)] // 1000) / US_PER_DAY
    elif ptype == PT_TS_MS or ptype == PT_DATE64:
        _days(dst, _view(data, np.int64), base, m, as_of, 1000, US_PER_DAY)
    elif ptype == PT_TS_S:
        _days(dst, _view(data, np.int64), base, m, as_of, 1_000_000, US_PER_DAY)
    elif ptype == PT_DATE32:
        _days(dst, _view(data, np.int32), base, m, as_of, 86_400_000_000, US_PER_DAY)
    else:
        dst[:m] = NAN
        return
    if has_valid:
        _mask_f(dst, ok, m)


@njit(**_SUB)
def load_us(dst, dv, data, has_valid, ptype, base, m):
    """A timestamp/date column as int64 microseconds since the epoch (ns floored, as
    load_days reads them); dv: validity, already expanded by run_block when has_valid."""
    if ptype == PT_NULL:
        dv[:m] = 0
        dst[:m] = 0
        return
    if not has_valid:
        dv[:m] = 1
    if ptype == PT_DATE32:
        src32 = _view(data, np.int32)
        for i in range(m):
            dst[i] = np.int64(src32[np.uint64(base + i)]) * 86_400_000_000
        return
    src = _view(data, np.int64)
    if ptype == PT_TS_NS:
        for i in range(m):
            dst[i] = src[np.uint64(base + i)] // 1000
    else:
        mult = 1 if ptype == PT_TS_US else (1_000_000 if ptype == PT_TS_S else 1000)
        for i in range(m):
            dst[i] = src[np.uint64(base + i)] * mult


@njit(inline="always", **_SUB)
def _bool_bits(dst, bm, base, m):
    _expand(dst, bm, base, m, _BYTE_TO_02, np.uint8(2))  # 0 FALSE / 2 TRUE


@njit(inline="always", **_SUB)
def _mask_b(dst, ok, m):
    for i in range(m):
        dst[i] = dst[i] if ok[i] else np.uint8(1)


def _make_loads(full: bool):
    """load_f / load_i / load_b for one run_block variant: the core ones read the common
    physical types (CORE_READS), the full ones every type; ``full`` is a closure constant,
    pruned like run_block's."""

    @njit(**_SUB)
    def load_f(dst, data, has_valid, ok, ptype, base, m):
        if ptype == PT_F64:
            _cvt(dst, _view(data, np.float64), base, m)
        elif ptype == PT_F32:
            _cvt(dst, _view(data, np.float32), base, m)
        elif ptype == PT_I64 or ptype == PT_TS_S or ptype == PT_TS_MS or ptype == PT_TS_US \
                or ptype == PT_TS_NS or ptype == PT_DATE64:
            _cvt(dst, _view(data, np.int64), base, m)
        elif ptype == PT_I32 or ptype == PT_DATE32:
            _cvt(dst, _view(data, np.int32), base, m)
        elif ptype == PT_I16:
            _cvt(dst, _view(data, np.int16), base, m)
        elif full and (ptype == PT_I8 or ptype == PT_U8 or ptype == PT_U16 or ptype == PT_U32
                       or ptype == PT_U64 or ptype == PT_BOOL):
            if ptype == PT_I8:
                _cvt(dst, _view(data, np.int8), base, m)
            elif ptype == PT_U8:
                _cvt(dst, data, base, m)
            elif ptype == PT_U16:
                _cvt(dst, _view(data, np.uint16), base, m)
            elif ptype == PT_U32:
                _cvt(dst, _view(data, np.uint32), base, m)
            elif ptype == PT_U64:
                _cvt(dst, _view(data, np.uint64), base, m)
            else:  # PT_BOOL, rare: bit by bit
                for i in range(m):
                    dst[i] = _bit(data, base + i)
        else:  # null / unsupported: all NULL
            dst[:m] = NAN
            return
        if has_valid:
            _mask_f(dst, ok, m)

    @njit(**_SUB)
    def load_i(dst, dv, data, has_valid, ptype, base, m):
        """dv: the column's validity bytes, already expanded by run_block when has_valid."""
        if ptype == PT_NULL:
            dv[:m] = 0
            dst[:m] = 0
            return
        if not has_valid:
            dv[:m] = 1
        if ptype == PT_I64 or ptype == PT_TS_S or ptype == PT_TS_MS or ptype == PT_TS_US \
                or ptype == PT_TS_NS or ptype == PT_DATE64:
            _cvt(dst, _view(data, np.int64), base, m)
        elif ptype == PT_I32 or ptype == PT_DATE32:
            _cvt(dst, _view(data, np.int32), base, m)
        elif ptype == PT_I16:
            _cvt(dst, _view(data, np.int16), base, m)
        elif full and (ptype == PT_I8 or ptype == PT_U8 or ptype == PT_U16 or ptype == PT_U32
                       or ptype == PT_U64):
            if ptype == PT_I8:
                _cvt(dst, _view(data, np.int8), base, m)
            elif ptype == PT_U8:
                _cvt(dst, data, base, m)
            elif ptype == PT_U16:
                _cvt(dst, _view(data, np.uint16), base, m)
            elif ptype == PT_U32:
                _cvt(dst, _view(data, np.uint32), base, m)
            else:
                _cvt(dst, _view(data, np.int64), base, m)  # U64 wraps above 2**63-1
        else:  # never reached: the runner only lets integer columns reach load_i
            dv[:m] = 0
            dst[:m] = 0

    @njit(**_SUB)
    def load_b(dst, data, has_valid, ok, ptype, base, m, tmpi):
        if ptype == PT_BOOL:
            _bool_bits(dst, data, base, m)
        elif full and (ptype == PT_F64 or ptype == PT_F32 or _is_int(ptype)):
            if ptype == PT_F64:
                _cvt_b(dst, _view(data, np.float64), base, m)
            elif ptype == PT_F32:
                _cvt_b(dst, _view(data, np.float32), base, m)
            else:  # ints: run_block has widened them into tmpi (one loop, not four)
                _cvt_b(dst, tmpi, 0, m)
        else:
            dst[:m] = 1
            return
        if has_valid:
            _mask_b(dst, ok, m)

    return load_f, load_i, load_b


load_f_core, load_i_core, load_b_core = _make_loads(False)
load_f_full, load_i_full, load_b_full = _make_loads(True)


@njit(inline="always", **_SUB)
def _isnan_or(dst, src, base, m):
    for i in range(m):
        x = src[np.uint64(base + i)]
        dst[i] = 2 if x != x else dst[i]


@njit(**_SUB)
def is_null_col(dst, data, has_valid, ok, ptype, base, m):
    if ptype == PT_NULL:
        dst[:m] = 2
        return
    if has_valid:
        for i in range(m):
            dst[i] = (1 - ok[i]) << 1
    else:
        dst[:m] = 0
    if ptype == PT_F64:  # NaN in a float column reads as NULL
        _isnan_or(dst, _view(data, np.float64), base, m)
    elif ptype == PT_F32:
        _isnan_or(dst, _view(data, np.float32), base, m)


@njit(inline="always", **_SUB)
def _gather(dst, codes, base, m, tab):
    # Out-of-range codes (possible under NULL slots) read the NULL entry. One unsigned compare
    # covers both ends (a negative code wraps to >= 2**31): measured 2x faster than two.
    last = np.uint32(tab.size - 1)
    for i in range(m):
        c = np.uint32(np.int32(codes[np.uint64(base + i)]))
        dst[i] = tab[c if c < last else last]


@njit(inline="always", **_SUB)
def _gather64(dst, codes, base, m, tab):
    last = np.uint64(tab.size - 1)
    for i in range(m):
        c = np.uint64(codes[np.uint64(base + i)])
        dst[i] = tab[c if c < last else last]


@njit(inline="always", **_SUB)
def _gather_null(dst, ok, m, tab):
    nul = tab[tab.size - 1]
    for i in range(m):
        dst[i] = dst[i] if ok[i] else nul


@njit(**_SUB)
def lookup(dst, data, has_valid, ok, ptype, base, m, tab, tmpi):
    """dst[i] = tab[code[i]], tab's last entry for NULL rows (float or tri-state tables)."""
    if ptype == PT_I32:  # pyarrow's dictionary indices
        _gather(dst, _view(data, np.int32), base, m, tab)
    elif ptype == PT_U32:  # polars' categoricals
        _gather(dst, _view(data, np.uint32), base, m, tab)
    elif _wide_codes(ptype):  # run_block has widened them into tmpi, validity in ok
        _gather64(dst, tmpi, 0, m, tab)
        _gather_null(dst, ok, m, tab)
        return
    else:
        dst[:m] = tab[tab.size - 1]
        return
    if has_valid:
        _gather_null(dst, ok, m, tab)


@njit(**_SUB)
def lookup_rule_k(acc, data, has_valid, ok, ptype, base, m, tri, points, k, tmpi):
    """acc += k where the tri-state table ``tri`` is TRUE at the dictionary code. With a
    non-empty ``points`` (the runner's float table: k where TRUE, else 0.0; its last entry,
    for NULL, 0.0) it adds points[code] instead: no compare and select per row, and a float64
    gather vectorises where a uint8 one does not. The runner builds it for small dictionaries
    only (POINTS_TABLE_MAX): over a big one the 8x larger table misses the cache. int32/uint32
    codes, the Arrow and Polars defaults, are read in place; other types come widened in tmpi."""
    if not has_valid:
        ok[:m] = 1
    narrow = ptype == PT_I32 or ptype == PT_U32
    codes = _view(data, np.uint32)  # a negative int32 wraps past the table: NULL entry
    if points.size > 0:
        last = np.uint32(points.size - 1)
        if narrow:
            for i in range(m):
                c = codes[np.uint64(base + i)]
                c = c if (c < last) & (ok[i] != 0) else last
                acc[i] += points[c]
        else:
            for i in range(m):
                c = np.uint64(tmpi[i])
                c = c if (c < last) & (ok[i] != 0) else last
                acc[i] += points[c]
    else:
        last = np.uint32(tri.size - 1)
        if narrow:
            for i in range(m):
                c = codes[np.uint64(base + i)]
                c = c if (c < last) & (ok[i] != 0) else last
                acc[i] += k if tri[c] == 2 else 0.0
        else:
            for i in range(m):
                c = np.uint64(tmpi[i])
                c = c if (c < last) & (ok[i] != 0) else last
                acc[i] += k if tri[c] == 2 else 0.0


@njit(inline="always", **_SUB)
def _cmp_flip(op):
    # != >= > are the negations of == < <=: NOT of a tri-state 0/2 is ^ 2 (NULL stays 1), so
    # three loops per signature serve all six ops (half the code to compile)
    return np.uint8(2) if (op == 1) | (op >= 4) else np.uint8(0)


@njit(**_SUB)
def cmp_f(dst, a, b, op, m):
    """b: register row or scalar constant. NaN on either side gives NULL (1)."""
    f = _cmp_flip(op)
    if op <= 1:  # == !=
        for i in range(m):
            x = a[i]; y = _at(b, i)  # noqa: E702
            dst[i] = 1 if (x != x) | (y != y) else (2 if x == y else 0) ^ f
    elif (op == 2) | (op == 5):  # < >=
        for i in range(m):
            x = a[i]; y = _at(b, i)  # noqa: E702
            dst[i] = 1 if (x != x) | (y != y) else (2 if x < y else 0) ^ f
    else:  # <= >
        for i in range(m):
            x = a[i]; y = _at(b, i)  # noqa: E702
            dst[i] = 1 if (x != x) | (y != y) else (2 if x <= y else 0) ^ f


@njit(**_SUB)
def cmp_i(dst, a, va, b, vb, op, m):
    """Exact int64 comparison; b/vb: register rows or scalars."""
    f = _cmp_flip(op)
    if op <= 1:
        for i in range(m):
            dst[i] = ((2 if a[i] == _at(b, i) else 0) ^ f) if va[i] & _at(vb, i) else 1
    elif (op == 2) | (op == 5):
        for i in range(m):
            dst[i] = ((2 if a[i] < _at(b, i) else 0) ^ f) if va[i] & _at(vb, i) else 1
    else:
        for i in range(m):
            dst[i] = ((2 if a[i] <= _at(b, i) else 0) ^ f) if va[i] & _at(vb, i) else 1


# --- arithmetic ----------------------------------------------------------------------------
@njit(**_SUB)
def arith_f(dst, a, b, op, m):
    """a, b: register rows or scalars. / and % by zero give NULL; % truncates (fmod);
    pow(0, y < 0) is NULL (DuckDB raises)."""
    if op == 0:
        for i in range(m):
            dst[i] = _at(a, i) + _at(b, i)
    elif op == 1:
        for i in range(m):
            dst[i] = _at(a, i) - _at(b, i)
    elif op == 2:
        for i in range(m):
            dst[i] = _at(a, i) * _at(b, i)
    elif op == 3:
        for i in range(m):
            y = _at(b, i)
            dst[i] = _at(a, i) / y if y != 0 else NAN
    elif op == 6:
        for i in range(m):
            x = _at(a, i)
            y = _at(b, i)
            # pow(1, NaN) and pow(NaN, 0) are 1 in C: a NULL operand must stay NULL
            bad = (x != x) | (y != y) | ((x == 0) & (y < 0))
            dst[i] = NAN if bad else math.pow(x, y)
    else:
        for i in range(m):
            y = _at(b, i)
            dst[i] = np.fmod(_at(a, i), y) if y != 0 else NAN


@njit(inline="always", **_SUB)
def _trunc_mod(x, y):
    # numba's int % is Python's floor mod; SQL/C truncate (result has the dividend's sign).
    # y == -1 is special-cased: INT64_MIN % -1 traps in hardware.
    yy = y if (y != 0) & (y != -1) else 1
    r = x % yy
    if (r != 0) & ((r < 0) != (x < 0)):
        r -= yy
    return r


@njit(inline="always", **_SUB)
def _trunc_div(x, y):
    # numba's int // floors; SQL truncates. By 0 the value is x (NULL anyway); by -1 it is
    # -x wrapping (INT64_MIN // -1 traps in hardware and is NULL: see _div_ok).
    if y == -1:
        return _sub_ovf(np.int64(0), x)[0]
    yy = y if y != 0 else 1
    q = x // yy
    if ((x % yy) != 0) & ((x < 0) != (yy < 0)):
        q += 1
    return q


@njit(**_SUB)
def arith_i(dst, dv, a, va, b, vb, op, m):
    """int64 + - * // and truncating %; overflow and % or // by zero give NULL (the value
    is then the wrapped result); b/vb: register rows or scalars."""
    if op == 0:
        for i in range(m):
            # wrapped in uint64 (numba's signed + carries nsw, which would let LLVM drop the
            # check); overflow iff the result's sign differs from both operands': vectorises
            x = a[i]
            y = _at(b, i)
            r = np.int64(np.uint64(x) + np.uint64(y))
            dst[i] = r
            dv[i] = va[i] & _at(vb, i) & np.uint8(((x ^ r) & (y ^ r)) >= 0)
    elif op == 1:
        for i in range(m):
            x = a[i]
            y = _at(b, i)
            r = np.int64(np.uint64(x) - np.uint64(y))
            dst[i] = r
            dv[i] = va[i] & _at(vb, i) & np.uint8(((x ^ y) & (x ^ r)) >= 0)
    elif op == 2:
        for i in range(m):
            r, o = _mul_ovf(a[i], _at(b, i))
            dst[i] = r
            dv[i] = va[i] & _at(vb, i) & np.uint8(1 - o)
    elif op == 5:
        for i in range(m):
            x = a[i]
            y = _at(b, i)
            dst[i] = _trunc_div(x, y)
            dv[i] = va[i] & _at(vb, i) & np.uint8((y != 0) & ((y != -1) | (x != INT64_MIN)))
    else:  # % (check.py rejects / and pow for int registers)
        for i in range(m):
            y = _at(b, i)
            dst[i] = _trunc_mod(a[i], y)
            dv[i] = va[i] & _at(vb, i) & np.uint8(y != 0)


@njit(**_SUB)
def mul_k(dst, dv, a, va, k, m):
    """int64 x * k for a constant k (ARITH_IK *): NULL outside the range of x whose product
    fits int64, bounds found once (two compares a row: vectorises, unlike the intrinsic)."""
    lo = INT64_MIN
    hi = INT64_MAX
    if k > 0:
        hi = INT64_MAX // k
        lo = INT64_MIN // k + (INT64_MIN % k != 0)
    elif k == -1:
        lo = INT64_MIN + 1
    elif k < 0:
        lo = INT64_MAX // k + (INT64_MAX % k != 0)
        hi = INT64_MIN // k
    uk = np.uint64(k)
    for i in range(m):
        x = a[i]
        dst[i] = np.int64(np.uint64(x) * uk)  # wrapped, as the intrinsic's
        dv[i] = va[i] & np.uint8((x >= lo) & (x <= hi))


@njit(inline="always", **_SUB)
def _round_half_away(x):
    # C's round() over trunc (exact: x - trunc(x) is), as llvm.round in the fused kernels.
    t = np.trunc(x)
    return t + np.copysign(1.0, x) if abs(x - t) >= 0.5 else t


@njit(**_SUB)
def math_f(dst, a, fn, m):
    if fn == 0:
        for i in range(m):
            dst[i] = -a[i]
    elif fn == 1:
        for i in range(m):
            dst[i] = abs(a[i])
    elif fn == 2:
        for i in range(m):
            x = a[i]
            dst[i] = math.log(x) if x > 0 else NAN
    elif fn == 3:
        for i in range(m):
            dst[i] = math.exp(a[i])
    elif fn == 4:
        for i in range(m):
            x = a[i]
            dst[i] = math.sqrt(x) if x >= 0 else NAN
    elif fn == 5:
        for i in range(m):
            dst[i] = np.floor(a[i])
    elif fn == 6:
        for i in range(m):
            dst[i] = np.ceil(a[i])
    elif fn == 7:
        for i in range(m):
            dst[i] = _round_half_away(a[i])
    elif fn == 8:
        for i in range(m):
            x = a[i]
            dst[i] = math.log10(x) if x > 0 else NAN
    else:
        for i in range(m):
            x = a[i]
            dst[i] = math.log2(x) if x > 0 else NAN


@njit(**_SUB)
def round_f(dst, a, k, negative, m):
    """round(x, digits) with k = 10^|digits| (DuckDB's formula, see engine/src/numeric.rs)."""
    if negative:
        for i in range(m):
            x = a[i]
            r = _round_half_away(x / k) * k
            dst[i] = x if x != x else (r if np.isfinite(r) else 0.0)
    else:
        for i in range(m):
            x = a[i]
            r = _round_half_away(x * k) / k
            dst[i] = r if np.isfinite(r) else x


@njit(**_SUB)
def f2i(dst, dv, a, m):
    """float64 → int64 rounded half to even; NULL for NaN or outside int64."""
    for i in range(m):
        r = np.rint(a[i])
        ok = (r >= -9.223372036854775808e18) & (r < 9.223372036854775808e18)
        dst[i] = np.int64(r) if ok else 0
        dv[i] = np.uint8(ok)


@intrinsic
def _f64_from_bits(typingctx, bits):
    """Reinterpret int64 bits as a float64 (a free bitcast, so the loop stays vectorised)."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], llvm_ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _fma(typingctx, a, b, c):
    """a * b + c with one rounding (llvm.fma: one vfmadd per 4/8 rows once vectorised; numba
    never contracts a * b + c itself, as that would change results)."""
    def codegen(context, builder, signature, args):
        return builder.fma(*args)
    return types.float64(types.float64, types.float64, types.float64), codegen


def _with_overflow(op: str):
    """(x op y wrapped, 1 where it overflowed) for int64 through llvm.s<op>.with.overflow:
    numba's own + - * carry nsw, which lets LLVM prove any after-the-fact check away."""
    @intrinsic
    def checked(typingctx, x, y):
        def codegen(context, builder, signature, args):
            i64 = llvm_ir.IntType(64)
            fnty = llvm_ir.FunctionType(llvm_ir.LiteralStructType([i64, llvm_ir.IntType(1)]),
                                        [i64, i64])
            fn = cgutils.get_or_insert_function(builder.module, fnty,
                                                f"llvm.s{op}.with.overflow.i64")
            res = builder.call(fn, list(args))
            flag = builder.zext(builder.extract_value(res, 1), i64)
            return context.make_tuple(builder, signature.return_type,
                                      [builder.extract_value(res, 0), flag])
        return types.UniTuple(types.int64, 2)(types.int64, types.int64), codegen
    return checked


_add_ovf = _with_overflow("add")
_sub_ovf = _with_overflow("sub")
_mul_ovf = _with_overflow("mul")

_LN2 = math.log(2.0)
# 1/k! for e**x, |x| <= ln(2)/2: the Taylor remainder is below 1e-17, so the result is within
# 1 ulp of libm (measured over 1M random arguments; 90 % are bit-identical).
(_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7, _E8, _E9, _E10, _E11, _E12,
 _E13) = (1.0 / math.factorial(k) for k in range(14))


@njit(**_SUB)
def decay(dst, p, age, hl, m):
    """dst = p * 0.5 ** (age / hl), NULL when hl is 0. libm's pow/exp2 do not vectorise, so
    2**t is split into 2**round(t) (exponent bits) times a polynomial for 2**(t - round(t)):
    exact at whole half-lives. NULLs and exponents beyond the normal range take libm's pow."""
    for i in range(m):
        t = -(age[i] / hl[i])
        ok = (t >= -1022.0) & (t <= 1022.0)  # false for NaN/inf (NULL age, hl = 0)
        t = t if ok else 0.0
        n = np.floor(t + 0.5)
        x = (t - n) * _LN2
        y = _fma(_fma(_fma(_fma(_fma(_fma(_E13, x, _E12), x, _E11), x, _E10), x, _E9), x, _E8),
                 x, _E7)
        y = _fma(_fma(_fma(_fma(_fma(_fma(_fma(y, x, _E6), x, _E5), x, _E4), x, _E3), x, _E2),
                      x, _E1), x, _E0)
        v = p[i] * y * _f64_from_bits((np.int64(n) + 1023) << 52)
        dst[i] = v if ok else NAN
    for i in range(m):  # rare: recompute the NaNs (a NULL p gives NaN again) the exact way
        if dst[i] != dst[i]:
            h = hl[i]
            dst[i] = p[i] * math.pow(0.5, age[i] / h) if h != 0 else NAN


@njit(**_SUB)
def minmax_f(dst, a, b, greatest, m):
    """least/greatest skipping NULLs (NULL only when both are)."""
    if greatest:
        for i in range(m):
            x = a[i]; y = b[i]  # noqa: E702
            r = x if x > y else y
            r = y if x != x else r
            dst[i] = x if y != y else r
    else:
        for i in range(m):
            x = a[i]; y = b[i]  # noqa: E702
            r = x if x < y else y
            r = y if x != x else r
            dst[i] = x if y != y else r


@njit(**_SUB)
def minmax_i(dst, dv, a, va, b, vb, greatest, m):
    for i in range(m):
        x = a[i]; y = b[i]; p = va[i]; q = vb[i]  # noqa: E702
        r = (x if x > y else y) if greatest else (x if x < y else y)
        r = r if p & q else (x if p else y)
        dst[i] = r
        dv[i] = p | q


# --- queries (ARCHITECTURE §6) -------------------------------------------------------------
HIST_LINEAR_MAX = 16  # up to this many edges a branch-free count beats a binary search (~5x)


@njit(**_SUB)
def hist(acc, slot, x, edges, m):
    """acc[slot] counts NULLs; acc[slot + 1 + j] with j = #edges <= x (edges ascending)."""
    ne = edges.size
    if ne <= HIST_LINEAR_MAX:
        for i in range(m):
            v = x[i]
            j = 0
            for t in range(ne):
                j += edges[t] <= v
            acc[slot + 1 + j if v == v else slot] += 1
    else:
        for i in range(m):
            v = x[i]
            if v != v:
                acc[slot] += 1
                continue
            lo = 0
            hi = ne
            while lo < hi:  # first edge > v
                mid = (lo + hi) >> 1
                if edges[mid] <= v:
                    lo = mid + 1
                else:
                    hi = mid
            acc[slot + 1 + lo] += 1


@njit(inline="always", **_SUB)
def _worse(v1, r1, v2, r2):
    # ranking: larger value first, then earlier row; "worse" = ranks after
    return (v1 < v2) | ((v1 == v2) & (r1 > r2))


@njit(**_SUB)
def _heap_replace_root(hv, hr, k, v, r):
    """Min-heap (root = worst kept entry): replace the root by (v, r) and sift it down."""
    i = 0
    while True:
        c = 2 * i + 1
        if c >= k:
            break
        if c + 1 < k and _worse(hv[c + 1], hr[c + 1], hv[c], hr[c]):
            c += 1
        if not _worse(hv[c], hr[c], v, r):
            break
        hv[i] = hv[c]
        hr[i] = hr[c]
        i = c
    hv[i] = v
    hr[i] = r


@njit(**_SUB)
def topk(hv, hr, k, groups, x, grp, gv, has_grp, row0, m):
    """Per group keep the k best (x desc, row asc) of this chunk's rows in heaps hv/hr
    [groups, >=k]. Rows only increase within a worker block, so a value equal to the root's
    never displaces it: the common case is one comparison per row."""
    if k <= 0:
        return
    if has_grp:
        ng = np.uint64(groups)
        for i in range(m):
            v = x[i]
            g = grp[i]
            # NULL or out-of-range group: skipped (unsigned compare also rejects g < 0)
            if (gv[i] != 0) & (np.uint64(g) < ng):
                if v >= hv[g, 0]:  # the fast reject; NaN fails it too
                    if (v > hv[g, 0]) | (row0 + i < hr[g, 0]):
                        _heap_replace_root(hv[g], hr[g], k, v, row0 + i)
    else:
        h0 = hv[0]
        r0 = hr[0]
        for i in range(m):
            v = x[i]
            if v >= h0[0]:
                if (v > h0[0]) | (row0 + i < r0[0]):
                    _heap_replace_root(h0, r0, k, v, row0 + i)


# --- the interpreter -----------------------------------------------------------------------
@njit(**_SUB)
def _exec_misc(op, a0, a1, a2, m, rf, ri, rv, rb, consts_f, consts_i):
    """misc opcodes over one chunk (see run_block)."""
    if op == CONST_F:
        rf[a0, :m] = consts_f[a1]
    elif op == CONST_I:
        ri[a0, :m] = consts_i[a1]
        rv[a0, :m] = 1 if a2 != 0 else 0
    elif op == CONST_B:
        rb[a0, :m] = a1
    elif op == I2F:
        d = rf[a0]
        a = ri[a1]
        va = rv[a1]
        for i in range(m):
            d[i] = np.float64(a[i]) if va[i] else NAN
    elif op == AND:
        d = rb[a0]
        a = rb[a1]
        b = rb[a2]
        for i in range(m):
            x = a[i]
            y = b[i]
            d[i] = x if x < y else y  # min()/max() would compile a helper each
    elif op == OR:
        d = rb[a0]
        a = rb[a1]
        b = rb[a2]
        for i in range(m):
            x = a[i]
            y = b[i]
            d[i] = x if x > y else y
    elif op == NOT:
        d = rb[a0]
        a = rb[a1]
        for i in range(m):
            d[i] = 2 - a[i]
    elif op == IS_NULL_F:
        d = rb[a0]
        a = rf[a1]
        for i in range(m):
            d[i] = 2 if a[i] != a[i] else 0
    elif op == IS_NULL_I:
        d = rb[a0]
        va = rv[a1]
        for i in range(m):
            d[i] = (1 - va[i]) << 1
    elif op == IS_NULL_B:
        d = rb[a0]
        a = rb[a1]
        for i in range(m):
            d[i] = 2 if a[i] == 1 else 0


@njit(**_SUB)
def _exec_ext(op, a0, a1, a2, a3, m, o, rf, ri, rv, rb, of, og):
    """The rarer register opcodes over one chunk (only in run_block_full)."""
    if op == NEG_I or op == ABS_I:
        d = ri[a0]
        dv = rv[a0]
        a = ri[a1]
        va = rv[a1]
        if op == NEG_I:
            for i in range(m):
                r, o = _sub_ovf(np.int64(0), a[i])
                d[i] = r
                dv[i] = va[i] & np.uint8(1 - o)
        else:
            for i in range(m):
                x = a[i]
                r, o = _sub_ovf(np.int64(0), x)
                d[i] = x if x >= 0 else r
                dv[i] = va[i] & np.uint8(1 - o)
    elif op == SELECT_F:
        d = rf[a0]
        c = rb[a1]
        a = rf[a2]
        b = rf[a3]
        for i in range(m):
            d[i] = a[i] if c[i] == 2 else b[i]
    elif op == SELECT_I:
        d = ri[a0]
        dv = rv[a0]
        c = rb[a1]
        a = ri[a2]
        va = rv[a2]
        b = ri[a3]
        vb = rv[a3]
        for i in range(m):
            t = c[i] == 2
            d[i] = a[i] if t else b[i]
            dv[i] = va[i] if t else vb[i]
    elif op == SELECT_B:
        d = rb[a0]
        c = rb[a1]
        a = rb[a2]
        b = rb[a3]
        for i in range(m):
            d[i] = a[i] if c[i] == 2 else b[i]
    elif op == COALESCE_F:
        d = rf[a0]
        a = rf[a1]
        b = rf[a2]
        for i in range(m):
            x = a[i]
            d[i] = x if x == x else b[i]
    elif op == COALESCE_I:
        d = ri[a0]
        dv = rv[a0]
        a = ri[a1]
        va = rv[a1]
        b = ri[a2]
        vb = rv[a2]
        for i in range(m):
            p = va[i]
            d[i] = a[i] if p else b[i]
            dv[i] = p | vb[i]
    elif op == COALESCE_B:
        d = rb[a0]
        a = rb[a1]
        b = rb[a2]
        for i in range(m):
            x = a[i]
            d[i] = x if x != 1 else b[i]
    elif op == LOAD_SCORE:
        d = rf[a0]
        s = of[a1]
        for i in range(m):
            d[i] = s[np.uint64(o + i)]
    elif op == LOAD_SEG:
        d = ri[a0]
        dv = rv[a0]
        s = og[a1]
        for i in range(m):
            x = s[i]
            d[i] = x
            dv[i] = x >= 0
    elif op == SEG_MATRIX:
        so = og[a0]
        sa = og[a1]
        sb = og[a2]
        nb = np.int32(a3)
        for i in range(m):
            x = sa[i]
            y = sb[i]
            so[i] = x * nb + y if (x >= 0) & (y >= 0) else np.int32(-1)


@njit(**_SUB)
def _exec_score(op, a0, a1, a2, a3, a4, m, o, rf, rb, consts_f, of, og, qacc, true_b):
    """score opcodes over one chunk (see run_block)."""
    if op == DECAY:  # check.py guarantees dst is not an operand (decay re-reads them)
        decay(rf[a0], rf[a1], rf[a2], rf[a3], m)
    elif op == ZERO_F:
        rf[a0, :m] = 0.0
    elif op == RULE:
        acc = rf[a0]
        p = rf[a2]
        lo = consts_f[a3] if a3 >= 0 else -INF
        hi = consts_f[a4] if a4 >= 0 else INF
        lo = lo if lo == lo else -INF  # a NULL floor/cap is skipped, like least/greatest
        hi = hi if hi == hi else INF
        c = rb[a1] if a1 >= 0 else true_b  # no condition: an all-TRUE row (one loop to compile)
        for i in range(m):
            x = p[i]
            v = x if x > lo else lo
            v = v if v < hi else hi
            acc[i] += v if (x == x) & (c[i] == 2) else 0.0
    elif op == RULE_K:
        acc = rf[a0]
        k = consts_f[a2]
        if k == k:
            c = rb[a1] if a1 >= 0 else true_b
            for i in range(m):
                acc[i] += k if c[i] == 2 else 0.0
    elif op == CLAMP_F:
        acc = rf[a0]
        lo = consts_f[a1]
        hi = consts_f[a2]
        lo = lo if lo == lo else -INF
        hi = hi if hi == hi else INF
        for i in range(m):
            x = acc[i]
            x = lo if x < lo else x
            acc[i] = hi if x > hi else x
    elif op == STORE_SCORE:
        so = of[a0]
        a = rf[a1]
        if a2 == 2:  # the register's NULLs become 0 too (later references read it)
            for i in range(m):
                x = a[i]
                x = x if x == x else 0.0
                so[np.uint64(o + i)] = x
                a[i] = x
        elif a2 != 0:
            for i in range(m):
                x = a[i]
                so[np.uint64(o + i)] = x if x == x else 0.0
        else:  # count the NULLs (NaN) so the caller needs no extra pass to build a validity
            nulls = 0
            for i in range(m):
                x = a[i]
                so[np.uint64(o + i)] = x
                nulls += x != x
            qacc[qacc.size - of.shape[0] - og.shape[0] + a0] += nulls
    elif op == SEG_SET:
        so = og[a0]
        lab = np.int32(a2)
        c = rb[a1] if a1 >= 0 else true_b
        for i in range(m):
            x = so[i]
            so[i] = lab if (x == -1) & (c[i] == 2) else x


@njit(**_SUB)
def _exec_query(op, a0, a1, a2, a3, m, start, row0, rf, ri, rv, rb, consts_f, qacc, masks, tk_meta, tk_val, tk_row):
    """query opcodes over one chunk (see run_block)."""
    if op == COUNT_IF:
        c = rb[a1]
        cnt = 0
        for i in range(m):
            cnt += c[i] == 2
        qacc[a0] += cnt
    elif op == STORE_MASK:
        mk = masks[a0]
        c = rb[a1]
        for i in range(m):
            mk[np.uint64(start + i)] = c[i] == 2
    elif op == HIST:
        hist(qacc, a0, rf[a1], consts_f[a2:a2 + a3], m)
    elif op == TOPK:
        g0 = tk_meta[a0, 0]
        ng = tk_meta[a0, 1]
        hv = tk_val[g0:g0 + ng]
        hr = tk_row[g0:g0 + ng]
        g = a2 if a2 > 0 else 0  # a2 < 0: ungrouped (one call site: one compiled topk)
        topk(hv, hr, tk_meta[a0, 2], ng, rf[a1], ri[g], rv[g], a2 >= 0, row0, m)


def _make_run_block(full: bool):
    """run_block, compiled in two variants (see CORE_OPCODES). ``full`` is a closure
    constant: numba prunes the ``elif full:`` branches of the core variant before typing, so
    a first score of a core-only program never compiles the rarer opcodes' helpers. The
    closure must hold nothing but ``full``: numba keys the on-disk cache on the closure's
    contents, and a function object there would change the key in every process."""

    def run_block(code, consts_f, consts_i, datas, valids, meta, lut_f, lut_b, lut_off, as_of, n,
                  chunk, blk, nblocks, of, og, out_seg, materialize, row_base, qacc, masks, tk_meta,
                  tk_val, tk_row, rf, ri, rv, rb, tmp, tmpb, tmpf, tmpi, true_b):
        """Run the program over worker block ``blk`` of ``nblocks`` (consecutive chunks).

        of: the score outputs (materialize=True) or chunk-wide scratch for them. og: chunk-wide
        scratch for the segment codes, copied to out_seg per chunk when materializing (SEG_SET's
        read-modify-write passes straight on the output measured 5x slower).
        qacc/tk_val/tk_row: this block's accumulators and top-k heaps (the caller sums/merges the
        blocks). rf/ri/rv/rb: registers, tmp/tmpb/tmpf/tmpi: scratch rows, true_b: an all-TRUE row
        (see _scratch).
        """
        n_chunks = (n + chunk - 1) // chunk
        c0 = blk * n_chunks // nblocks
        c1 = (blk + 1) * n_chunks // nblocks
        if c1 > c0:
            for c in range(c0, c1):
                start = c * chunk
                m = chunk if chunk < n - start else n - start
                o = start if materialize else 0  # where this chunk's scores are in ``of``
                og[:, :m] = -1  # SEG_SET assigns rows still -1
                row0 = row_base + start
                for pc in range(code.shape[0]):
                    op = code[pc, 0]
                    a0 = code[pc, 1]
                    a1 = code[pc, 2]
                    a2 = code[pc, 3]
                    a3 = code[pc, 4]
                    a4 = code[pc, 5]
                    if op == LOAD_F or op == LOAD_I or op == LOAD_B or op == LOAD_DAYS \
                            or op == IS_NULL_COL or op == LOOKUP_F or op == LOOKUP_B or op == LOOKUP_I \
                            or op == LOOKUP_RULE_K or op == LOAD_US:
                        # column a1, read here once rather than at every call site; its validity
                        # bits expanded here too (one _bits in the compiled code, not one per
                        # helper), into the LOAD_I validity register or else tmp
                        data = _buf(datas[a1, 0], datas[a1, 1])
                        valid = _buf(valids[a1, 0], valids[a1, 1])
                        pt = meta[a1, 0]
                        base = meta[a1, 1] + start
                        has_valid = valid.size > 0
                        ok = rv[a0] if op == LOAD_I or op == LOAD_US else tmp
                        if has_valid:
                            _bits(ok, valid, base, m)
                        if op == LOAD_F:
                            if full:
                                load_f_full(rf[a0], data, has_valid, ok, pt, base, m)
                            else:
                                load_f_core(rf[a0], data, has_valid, ok, pt, base, m)
                        elif op == LOAD_I:
                            if full:
                                load_i_full(ri[a0], ok, data, has_valid, pt, base, m)
                            else:
                                load_i_core(ri[a0], ok, data, has_valid, pt, base, m)
                        elif op == LOAD_B:
                            if full:  # ints widened here: keeps load_i out of load_b's code
                                if _is_int(pt):
                                    load_i_full(tmpi, ok, data, has_valid, pt, base, m)
                                load_b_full(rb[a0], data, has_valid, ok, pt, base, m, tmpi)
                            else:
                                load_b_core(rb[a0], data, has_valid, ok, pt, base, m, tmpi)
                        elif op == LOAD_DAYS:
                            load_days(rf[a0], data, has_valid, ok, pt, base, m, as_of)
                        elif op == LOAD_US:
                            if full:  # (not a core opcode: the core variant never sees it)
                                load_us(ri[a0], ok, data, has_valid, pt, base, m)
                        elif op == LOOKUP_B or op == LOOKUP_RULE_K:
                            t0 = lut_off[a2]
                            t1 = lut_off[a2 + 1]
                            if full:  # other index types widened here, not in lookup's code
                                if _wide_codes(pt):
                                    load_i_full(tmpi, ok, data, has_valid, pt, base, m)
                            if op == LOOKUP_B:
                                lookup(rb[a0], data, has_valid, ok, pt, base, m, lut_b[t0:t1], tmpi)
                            else:
                                k = consts_f[a3]
                                if k == k:  # a NULL constant adds nothing, as in RULE_K
                                    # a4 = 1 + the runner's points table, 0 = none
                                    p0 = lut_off[a4 - 1] if a4 > 0 else 0
                                    p1 = lut_off[a4] if a4 > 0 else 0
                                    lookup_rule_k(rf[a0], data, has_valid, ok, pt, base, m,
                                                  lut_b[t0:t1], lut_f[p0:p1], k, tmpi)
                        elif full:  # IS_NULL_COL / LOOKUP_F / LOOKUP_I: run_block_full only
                            if op == IS_NULL_COL:
                                is_null_col(rb[a0], data, has_valid, ok, pt, base, m)
                            else:
                                t0 = lut_off[a2]
                                t1 = lut_off[a2 + 1]
                                if _wide_codes(pt):
                                    load_i_full(tmpi, ok, data, has_valid, pt, base, m)
                                if op == LOOKUP_F:
                                    lookup(rf[a0], data, has_valid, ok, pt, base, m, lut_f[t0:t1], tmpi)
                                else:  # LOOKUP_I
                                    lookup(tmpf, data, has_valid, ok, pt, base, m, lut_f[t0:t1], tmpi)
                                    d = ri[a0]
                                    dv = rv[a0]
                                    for i in range(m):
                                        x = tmpf[i]
                                        ok = x == x
                                        d[i] = np.int64(x) if ok else 0
                                        dv[i] = ok
                    elif op == ARITH_F:
                        arith_f(rf[a0], rf[a1], rf[a2], a3, m)
                    elif op == ARITH_FK:
                        arith_f(rf[a0], rf[a1], consts_f[a2], a3, m)
                    elif op == ARITH_KF:
                        # rare (k - x, k / x): the constant as a row, not a third arith_f to compile
                        tmpf[:m] = consts_f[a1]
                        arith_f(rf[a0], tmpf, rf[a2], a3, m)
                    elif op == ARITH_IK:
                        if a3 == 2:
                            mul_k(ri[a0], rv[a0], ri[a1], rv[a1], consts_i[a2], m)
                        else:
                            arith_i(ri[a0], rv[a0], ri[a1], rv[a1], consts_i[a2], np.uint8(1), a3, m)
                    elif op == CMP_FK:
                        k = consts_f[a2]
                        if k != k:
                            rb[a0, :m] = 1
                        else:
                            cmp_f(rb[a0], rf[a1], k, a3, m)
                    elif op == CMP_IK:
                        cmp_i(rb[a0], ri[a1], rv[a1], consts_i[a2], np.uint8(1), a3, m)
                    elif op == CONST_F or op == CONST_I or op == CONST_B or op == I2F or op == AND or op == OR or op == NOT or op == IS_NULL_F or op == IS_NULL_I or op == IS_NULL_B:
                        _exec_misc(op, a0, a1, a2, m, rf, ri, rv, rb, consts_f, consts_i)
                    elif op == DECAY or op == ZERO_F or op == RULE or op == RULE_K or op == CLAMP_F or op == STORE_SCORE or op == SEG_SET:
                        _exec_score(op, a0, a1, a2, a3, a4, m, o, rf, rb, consts_f, of, og, qacc, true_b)
                    elif full:  # the rarer opcodes: run_block_full only
                        if op == ARITH_I:
                            arith_i(ri[a0], rv[a0], ri[a1], rv[a1], ri[a2], rv[a2], a3, m)
                        elif op == MATH_F:
                            math_f(rf[a0], rf[a1], a2, m)
                        elif op == ROUND_F:
                            round_f(rf[a0], rf[a1], consts_f[a2], a3 != 0, m)
                        elif op == F2I:
                            f2i(ri[a0], rv[a0], rf[a1], m)
                        elif op == CMP_F:
                            cmp_f(rb[a0], rf[a1], rf[a2], a3, m)
                        elif op == CMP_I:
                            cmp_i(rb[a0], ri[a1], rv[a1], ri[a2], rv[a2], a3, m)
                        elif op == MINMAX_F:
                            minmax_f(rf[a0], rf[a1], rf[a2], a3 != 0, m)
                        elif op == MINMAX_I:
                            minmax_i(ri[a0], rv[a0], ri[a1], rv[a1], ri[a2], rv[a2], a3 != 0, m)
                        elif op == NEG_I or op == ABS_I or op == SELECT_F or op == SELECT_I or op == SELECT_B or op == COALESCE_F or op == COALESCE_I or op == COALESCE_B or op == LOAD_SCORE or op == LOAD_SEG or op == SEG_MATRIX:
                            _exec_ext(op, a0, a1, a2, a3, m, o, rf, ri, rv, rb, of, og)
                        elif op == COUNT_IF or op == STORE_MASK or op == HIST or op == TOPK:
                            _exec_query(op, a0, a1, a2, a3, m, start, row0, rf, ri, rv, rb, consts_f, qacc, masks, tk_meta, tk_val, tk_row)
                    # NOP and anything else: nothing (check.py rejects unknown opcodes)
                if materialize:  # copy the codes out, counting NULLs while they are in cache
                    g0 = qacc.size - og.shape[0]
                    for g in range(og.shape[0]):
                        sg = og[g]
                        dst = out_seg[g]
                        nulls = 0
                        for i in range(m):
                            x = sg[i]
                            dst[np.uint64(start + i)] = x
                            nulls += x < 0
                        qacc[g0 + g] += nulls

    run_block.__name__ = run_block.__qualname__ = "run_block_full" if full else "run_block_core"
    return njit(**_OPTS)(run_block)


# Opcodes the core variant runs: what scoring models commonly compile to. Queries and the rarer
# operations (int-int arithmetic and comparisons, math, least/greatest, CASE, COALESCE,
# negation, float/int lookups, IS NULL on a column, reading scores/segments back, segment
# matrices) are in run_block_full, compiled the first time a program needs one: a cold first
# score of a core-only model compiles about a third less.
# CORE_OPCODES (the core variant's opcodes) comes from the opcode table (vm/opcodes.py).
run_block_core = _make_run_block(False)
run_block_full = _make_run_block(True)


# The physical types (vm/columns.py) each core column opcode reads; the others (int8, the
# unsigned ints, bool as a number, numbers as bool, dictionary codes other than int32/uint32)
# are read by run_block_full.
_TIME = (PT_TS_S, PT_TS_MS, PT_TS_US, PT_TS_NS, PT_DATE32, PT_DATE64)
CORE_READS = {
    LOAD_F: (PT_F64, PT_F32, PT_I64, PT_I32, PT_I16, PT_NULL) + _TIME,
    LOAD_I: (PT_I64, PT_I32, PT_I16, PT_NULL) + _TIME,
    LOAD_B: (PT_BOOL, PT_NULL),
    LOAD_DAYS: (PT_NULL,) + _TIME,
    LOOKUP_B: (PT_I32, PT_U32),
    LOOKUP_RULE_K: (PT_I32, PT_U32),
}
_CORE_READ = np.zeros((max(CORE_OPCODES) + 1, 32), np.bool_)
for _op, _pts in CORE_READS.items():
    _CORE_READ[_op, list(_pts)] = True


def needs_full(code, meta=None) -> bool:
    """Whether the program ``code`` (int64[n, INSN_WIDTH]) needs run_block_full: an opcode
    outside CORE_OPCODES, or (with the batch's column ``meta``) a column of a type its core
    opcode does not read (CORE_READS)."""
    ops = code[:, 0]
    if any(int(op) not in CORE_OPCODES for op in np.unique(ops)):
        return True
    if meta is None:
        return False
    reads = np.isin(ops, list(CORE_READS))
    return not _CORE_READ[ops[reads], meta[code[reads, 2], 0]].all()


def _scratch(n_f, n_i, n_b, chunk):
    """One worker block's registers and scratch rows. Allocated here, not in the kernel: every
    np.empty signature there is one more helper to compile on a cold start."""
    width = (chunk + 7) & ~7  # byte rows a multiple of 8 wide: see _expand
    return (np.empty((max(n_f, 1), width)), np.empty((max(n_i, 1), width), np.int64),
            np.empty((max(n_i, 1), width), np.uint8), np.empty((max(n_b, 1), width), np.uint8),
            np.empty(width, np.uint8), np.empty(width, np.uint8), np.empty(width),
            np.empty(width, np.int64), np.full(width, 2, np.uint8))


class _Batch(_pool.Blocks):
    """A batch the interpreter runs: run_block's arguments and the top-k heaps."""

    def __init__(self, run_block, args, tail, nblocks, scratch_key, out_f, acc, tk_val, tk_row):
        super().__init__(nblocks)
        self.run_block, self.args, self.tail = run_block, args, tail
        self.scratch_key, self.out_f = scratch_key, out_f
        self.acc, self.tk_val, self.tk_row = acc, tk_val, tk_row

    def run_block_at(self, blk, scratch_cache):
        of, og, scratch = _worker_scratch(scratch_cache, self.scratch_key)
        out_seg, materialize, row_base, masks, tk_meta = self.tail
        if materialize:
            of = self.out_f
        self.run_block(*self.args, np.int64(blk), np.int64(self.nblocks), of, og, out_seg,
                       materialize, row_base, self.acc[blk], masks, tk_meta, self.tk_val[blk],
                       self.tk_row[blk], *scratch)

    def finished(self):
        _heap_state(self.tk_val, self.tk_row, False)


def _worker_scratch(cache, key):
    """A worker thread's chunk scratch (score/segment rows, registers) for ``key``, allocated
    once per thread and shape and reused for every block it runs."""
    got = cache.get(key)
    if got is None:
        if len(cache) > 8:  # many different programs: do not keep them all
            cache.clear()
        n_scores, n_segs, n_f, n_i, n_b, chunk = key
        width = (chunk + 7) & ~7
        got = (np.empty((n_scores, chunk)), np.empty((n_segs, width), np.int32),
               _scratch(n_f, n_i, n_b, chunk))
        cache[key] = got
    return got


def start_batch(code, consts_f, consts_i, n_f, n_i, n_b, datas, valids, meta, lut_f, lut_b,
                lut_off, as_of, n, chunk, nblocks, out_f, out_seg, materialize, row_base, acc,
                masks, tk_meta, tk_val, tk_row, workers=1, full=True) -> _Batch:
    """Start running the program over n rows: ``nblocks`` blocks of consecutive chunks, run
    by ``workers`` pool threads (or, with one worker or block, right here) with
    run_block_full or (full=False) run_block_core. ``wait()`` on the result.

    materialize=False: out_f/out_seg are ignored (may be 0 columns wide); scores and segment
    codes go to per-block chunk scratch."""
    args = (code, consts_f, consts_i, datas, valids, meta, lut_f, lut_b, lut_off, as_of, n,
            chunk)
    tail = (out_seg, materialize, row_base, masks, tk_meta)
    key = (int(out_f.shape[0]), int(out_seg.shape[0]), int(n_f), int(n_i), int(n_b), int(chunk))
    batch = _Batch(run_block_full if full else run_block_core, args, tail, nblocks, key, out_f,
                   acc, tk_val, tk_row)
    _heap_state(tk_val, tk_row, True)
    _pool.launch(batch, workers)
    return batch


def _heap_state(tk_val, tk_row, to_kernel):
    """Switch the empty-entry marker of the top-k heaps (see ROW_EMPTY). In numpy, around the
    kernel call: a jitted helper would be one more function to compile on a cold start."""
    row_from, row_to = (-1, ROW_EMPTY) if to_kernel else (ROW_EMPTY, -1)
    empty = tk_row == row_from
    tk_row[empty] = row_to
    tk_val[empty] = -INF if to_kernel else NAN
