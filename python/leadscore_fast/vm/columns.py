"""Bind one Arrow array (of one batch) to the raw buffers the numba kernel reads.

A binding is ``(data, valid, offset, ptype, dictionary)``: ``data`` a read-only uint8 view of
the values buffer (bit-packed for bool), ``valid`` a read-only uint8 view of the validity
bitmap (empty when the array has no nulls, so the kernel takes its no-null fast path),
``offset`` the element offset of a sliced array, ``ptype`` one of the codes below, and the
dictionary (a pyarrow Array) for dictionary-coded columns, else None. Buffers are views of
the Arrow memory (zero-copy) except where a conversion is unavoidable: float16, strings that
are not dictionary-encoded (encoded per batch) and derived ``has_any`` columns.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.types as pat

from leadscore_fast.schema import is_string

# Physical type codes. numba freezes these module globals as constants in the kernel.
PT_F64 = 0
PT_F32 = 1
PT_I8 = 2
PT_I16 = 3
PT_I32 = 4
PT_I64 = 5
PT_U8 = 6
PT_U16 = 7
PT_U32 = 8
PT_U64 = 9
PT_BOOL = 10  # bit-packed
PT_TS_S = 11
PT_TS_MS = 12
PT_TS_US = 13
PT_TS_NS = 14
PT_DATE32 = 15  # int32 days
PT_DATE64 = 16  # int64 milliseconds
PT_NULL = 17  # pa.null(): every row NULL, no buffers
PT_OTHER = 18  # any other type: only its validity is readable (IS_NULL_COL)

PTYPE_NAMES = ["f64", "f32", "i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64", "bool",
               "ts_s", "ts_ms", "ts_us", "ts_ns", "date32", "date64", "null", "other"]

_INT_PTYPES = {
    pa.int8(): PT_I8, pa.int16(): PT_I16, pa.int32(): PT_I32, pa.int64(): PT_I64,
    pa.uint8(): PT_U8, pa.uint16(): PT_U16, pa.uint32(): PT_U32, pa.uint64(): PT_U64,
}
_TS_PTYPES = {"s": PT_TS_S, "ms": PT_TS_MS, "us": PT_TS_US, "ns": PT_TS_NS}
ITEMSIZE = {PT_F64: 8, PT_F32: 4, PT_I8: 1, PT_I16: 2, PT_I32: 4, PT_I64: 8, PT_U8: 1,
            PT_U16: 2, PT_U32: 4, PT_U64: 8, PT_BOOL: 1, PT_TS_S: 8, PT_TS_MS: 8, PT_TS_US: 8,
            PT_TS_NS: 8, PT_DATE32: 4, PT_DATE64: 8, PT_NULL: 1, PT_OTHER: 1}
INT_PTYPES = frozenset(_INT_PTYPES.values())
TIME_PTYPES = frozenset((PT_TS_S, PT_TS_MS, PT_TS_US, PT_TS_NS, PT_DATE32, PT_DATE64))
NUMERIC_PTYPES = INT_PTYPES | {PT_F64, PT_F32, PT_BOOL}

EMPTY = np.empty(0, np.uint8)
EMPTY.setflags(write=False)


class Binding(NamedTuple):
    data: np.ndarray  # uint8, read-only
    valid: np.ndarray  # uint8, read-only; empty when there are no nulls
    offset: int
    ptype: int
    dictionary: pa.Array | None


def _view(buf: pa.Buffer | None, itemsize: int) -> np.ndarray:
    if buf is None:
        return EMPTY
    # Trim to whole items so the kernel's .view(dtype) is legal; read-only so that the numba
    # kernel always sees one array type (one cached compilation).
    a = np.frombuffer(buf, np.uint8, count=buf.size // itemsize * itemsize)
    a.setflags(write=False)
    return a


def _valid(arr: pa.Array) -> np.ndarray:
    if arr.null_count == 0:
        return EMPTY
    return _view(arr.buffers()[0], 1)


def _primitive(arr: pa.Array, ptype: int, dictionary=None) -> Binding:
    data = _view(arr.buffers()[1], ITEMSIZE[ptype])
    return Binding(data, _valid(arr), arr.offset, ptype, dictionary)


def has_any_array(arr: pa.Array, values: list[str]) -> pa.BooleanArray:
    """``has_any(list_col, values...)`` per row: TRUE if any element is in ``values``,
    FALSE otherwise (empty list or only NULL elements), NULL for a NULL list."""
    # Per-row hit counts from the offsets (a prefix sum of element hits): works for sliced
    # arrays and for NULL lists whose offsets still span elements.
    offs = arr.offsets.to_numpy().astype(np.int64)
    lo, hi = int(offs[0]), int(offs[-1])
    elems = arr.values.slice(lo, hi - lo)
    if pat.is_string_view(elems.type):
        elems = elems.cast(pa.string())
    import pyarrow.compute as pc  # (imported when needed: ~40 ms a process need not pay)

    found = pc.is_in(elems, value_set=pa.array(values, elems.type)).to_numpy(zero_copy_only=False)
    csum = np.zeros(hi - lo + 1, np.int64)
    np.cumsum(found, out=csum[1:])
    hit = (csum[offs[1:] - lo] - csum[offs[:-1] - lo]) > 0
    mask = arr.is_null().to_numpy(zero_copy_only=False) if arr.null_count else None
    return pa.array(hit, type=pa.bool_(), mask=mask)


def _fold_dictionary_nulls(idx: pa.Array, dictionary: pa.Array) -> pa.Array:
    """Indices whose validity also clears rows pointing at a NULL dictionary value, so
    IS_NULL_COL sees them as NULL (lookups already map such a value like a NULL row)."""
    codes = idx.fill_null(0).to_numpy(zero_copy_only=False)
    dnull = dictionary.is_null().to_numpy(zero_copy_only=False)
    inrange = (codes >= 0) & (codes < len(dnull))  # out-of-range codes stay as they are
    null = idx.is_null().to_numpy(zero_copy_only=False)
    null |= inrange & dnull[np.where(inrange, codes, 0)]
    return pa.array(codes, type=idx.type, mask=null)


def bind_array(arr: pa.Array, has_any: list[str] | None = None) -> Binding:
    """Bind one array of one batch. ``has_any`` (for a list<string> column) binds the derived
    boolean ``has_any(arr, *has_any)`` instead of the list itself."""
    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            raise TypeError("bind_array takes one chunk; iterate the ChunkedArray's chunks")
        arr = arr.chunk(0)
    t = arr.type
    if isinstance(t, pa.BaseExtensionType):
        return bind_array(arr.storage, has_any)
    if has_any is not None:
        if not ((pat.is_list(t) or pat.is_large_list(t)) and is_string(t.value_type)):
            raise TypeError(f"has_any needs a list<string> column, got {t}")
        return bind_array(has_any_array(arr, has_any))
    if t in _INT_PTYPES:
        return _primitive(arr, _INT_PTYPES[t])
    if pat.is_float64(t):
        return _primitive(arr, PT_F64)
    if pat.is_float32(t):
        return _primitive(arr, PT_F32)
    if pat.is_float16(t):
        return _primitive(arr.cast(pa.float32()), PT_F32)
    if pat.is_boolean(t):
        return _primitive(arr, PT_BOOL)
    if pat.is_timestamp(t):
        return _primitive(arr, _TS_PTYPES[t.unit])
    if pat.is_date32(t):
        return _primitive(arr, PT_DATE32)
    if pat.is_date64(t):
        return _primitive(arr, PT_DATE64)
    if pat.is_dictionary(t):
        idx = arr.indices  # shares the array's offset and validity
        if arr.dictionary.null_count:
            idx = _fold_dictionary_nulls(idx, arr.dictionary)
        return _primitive(idx, _INT_PTYPES[idx.type], arr.dictionary)
    if is_string(t):
        import pyarrow.compute as pc

        return bind_array(pc.dictionary_encode(arr))
    if pat.is_null(t):
        return Binding(EMPTY, EMPTY, 0, PT_NULL, None)
    return Binding(EMPTY, _valid(arr), arr.offset, PT_OTHER, None)


def encode_string_array(arr: pa.Array, threads: int = 1) -> pa.DictionaryArray:
    """Dictionary-encode one plain string array (int32 codes, distinct values in order of
    first appearance): the engine's encoder for string/large_string, which hashes the bytes in
    place without the GIL, on up to ``threads`` threads (1.3x faster than
    ``pc.dictionary_encode`` on one thread with ~100k distinct values); Arrow's otherwise."""
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        try:
            from leadscore_fast import _engine
        except ImportError:  # the VM also runs without the Rust extension (tests)
            _engine = None
        out = (_engine.encode_strings(arr, max(1, int(threads)))
               if hasattr(_engine, "encode_strings") else None)
        if out is not None:
            codes, offsets, data = out
            if arr.null_count == 0:
                validity = None
            elif arr.offset == 0:
                validity = arr.buffers()[0]
            else:  # the codes start at the slice's first row: a bitmap that does too
                import pyarrow.compute as pc

                validity = pc.is_valid(arr).buffers()[1]
            indices = pa.Array.from_buffers(pa.int32(), len(arr), [validity, pa.py_buffer(codes)],
                                            null_count=arr.null_count)
            values = pa.Array.from_buffers(pa.string(), len(offsets) // 4 - 1,
                                           [None, pa.py_buffer(offsets), pa.py_buffer(data)])
            return pa.DictionaryArray.from_arrays(indices, values, safe=False)
    import pyarrow.compute as pc

    return pc.dictionary_encode(arr)


def encode_strings(arrays: list, threads: int | None = None) -> list:
    """:func:`encode_string_array` of each plain string array, one after the other, each on
    ``threads`` threads (default: every core): encoding high-cardinality columns is the
    costliest part of binding a batch, and splitting each column over the cores balances the
    work where a thread per column waited for the biggest one."""
    if threads is None:
        import os

        threads = os.cpu_count() or 1
    return [encode_string_array(a, threads) for a in arrays]


def bind_chunked(arr: pa.ChunkedArray | pa.Array, has_any: list[str] | None = None) -> list[Binding]:
    """One binding per chunk (the kernel runs batch by batch)."""
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    return [bind_array(c, has_any) for c in chunks]


_INT64_MAX = (1 << 63) - 1


def check_int64(arr: pa.Array) -> None:
    """Integers are int64 in the engine: a uint64 array read as integers (not as floats) is
    read exactly, or refused, never wrapped. Raises ValueError naming the value."""
    if pat.is_uint64(arr.type) and arr.null_count < len(arr):
        import pyarrow.compute as pc

        top = pc.max(arr).as_py()
        if top > _INT64_MAX:
            raise ValueError(f"holds the uint64 value {top}, above the largest int64 "
                             f"({_INT64_MAX}) the engine reads exactly as an integer; cast the "
                             "column to double (or filter those rows) before scoring")
