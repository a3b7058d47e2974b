"""Binding Arrow arrays to kernel buffers: every supported type, with NULLs, sliced, chunked.
Each binding is decoded back here in numpy (independently of the kernel) and compared."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest

from leadscore_fast.vm import columns as C
from leadscore_fast.vm.columns import bind_array, bind_chunked, has_any_array

NP = {C.PT_F64: np.float64, C.PT_F32: np.float32, C.PT_I8: np.int8, C.PT_I16: np.int16,
      C.PT_I32: np.int32, C.PT_I64: np.int64, C.PT_U8: np.uint8, C.PT_U16: np.uint16,
      C.PT_U32: np.uint32, C.PT_U64: np.uint64, C.PT_TS_S: np.int64, C.PT_TS_MS: np.int64,
      C.PT_TS_US: np.int64, C.PT_TS_NS: np.int64, C.PT_DATE32: np.int32, C.PT_DATE64: np.int64}


def bits(buf, off, n):
    return np.unpackbits(buf, bitorder="little")[off:off + n].astype(bool)


def decode(b, n):
    """(values, valid) of a binding, as numpy."""
    valid = bits(b.valid, b.offset, n) if b.valid.size else np.ones(n, bool)
    if b.ptype == C.PT_BOOL:
        vals = bits(b.data, b.offset, n)
    else:
        vals = b.data.view(NP[b.ptype])[b.offset:b.offset + n]
    return vals, valid


def check(arr, ptype, want_values):
    b = bind_array(arr)
    assert b.ptype == ptype
    assert b.data.dtype == np.uint8 and not b.data.flags.writeable
    assert b.valid.dtype == np.uint8 and not b.valid.flags.writeable
    vals, valid = decode(b, len(arr))
    want_valid = [v is not None for v in want_values]
    assert valid.tolist() == want_valid
    assert (b.valid.size == 0) == (arr.null_count == 0)
    got = [v.item() if ok else None for v, ok in zip(vals, valid)]
    assert got == want_values
    return b


INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
PT = {"int8": C.PT_I8, "int16": C.PT_I16, "int32": C.PT_I32, "int64": C.PT_I64, "uint8": C.PT_U8,
      "uint16": C.PT_U16, "uint32": C.PT_U32, "uint64": C.PT_U64, "float32": C.PT_F32, "float64": C.PT_F64}


@pytest.mark.parametrize("typ", INTS + ["float32", "float64"])
@pytest.mark.parametrize("sl", [None, (1, 8), (5, 3), (9, 0)])
def test_numeric(typ, sl):
    vals = [1, None, 3, 4, None, 6, 7, 8, 9, 10, None, 12]
    arr = pa.array(vals, getattr(pa, typ)())
    want = [None if v is None else (float(v) if "float" in typ else v) for v in vals]
    if sl:
        arr = arr.slice(*sl)
        want = want[sl[0]:sl[0] + sl[1]]
    b = check(arr, PT[typ], want)
    assert b.dictionary is None
    nonull = pa.array([1, 2, 3], getattr(pa, typ)()).slice(1)
    check(nonull, PT[typ], [2.0, 3.0] if "float" in typ else [2, 3])


def test_zero_copy():
    arr = pa.array(np.arange(100, dtype=np.int64))
    b = bind_array(arr)
    assert b.data.ctypes.data == arr.buffers()[1].address


def test_float16_is_cast():
    arr = pa.array(np.array([1.5, 2.0, 3.25], np.float16), mask=np.array([False, True, False]))
    check(arr.slice(1), C.PT_F32, [None, 3.25])


@pytest.mark.parametrize("off", range(0, 10))
def test_bool_bitpacked(off):
    vals = [True, False, None, True, True, False, None, False, True, True, False, None, True, False]
    arr = pa.array(vals).slice(off)
    check(arr, C.PT_BOOL, vals[off:])


@pytest.mark.parametrize("unit, pt", [("s", C.PT_TS_S), ("ms", C.PT_TS_MS), ("us", C.PT_TS_US), ("ns", C.PT_TS_NS)])
@pytest.mark.parametrize("tz", [None, "UTC", "Asia/Tokyo"])
def test_timestamps(unit, pt, tz):
    arr = pa.array([0, None, 86400, 5], pa.int64()).cast(pa.timestamp(unit, tz))
    check(arr.slice(1), pt, [None, 86400, 5])


def test_dates():
    d = [dt.date(1970, 1, 2), None, dt.date(2026, 1, 1)]
    check(pa.array(d, pa.date32()), C.PT_DATE32, [1, None, 20454])
    check(pa.array(d, pa.date64()).slice(1), C.PT_DATE64, [None, 20454 * 86_400_000])


@pytest.mark.parametrize("typ", ["string", "large_string", "string_view"])
def test_strings_are_dictionary_encoded(typ):
    vals = ["a", None, "b", "a", "c", None]
    arr = pa.array(vals, getattr(pa, typ)())
    for s in (arr, arr.slice(2)):
        b = bind_array(s)
        assert b.dictionary is not None
        codes, valid = decode(b, len(s))
        d = b.dictionary.to_pylist()
        assert [d[c] if ok else None for c, ok in zip(codes, valid)] == s.to_pylist()


@pytest.mark.parametrize("idx", INTS)
def test_dictionary_arrays(idx):
    arr = pa.array(["x", None, "y", "x", "z"]).dictionary_encode()
    arr = arr.cast(pa.dictionary(getattr(pa, idx)(), pa.string()))
    s = arr.slice(1, 3)
    b = bind_array(s)
    assert b.ptype == PT[idx]
    assert b.dictionary.to_pylist() == ["x", "y", "z"]
    codes, valid = decode(b, 3)
    assert [b.dictionary[int(c)].as_py() if ok else None for c, ok in zip(codes, valid)] == [None, "y", "x"]


def test_null_and_other_types():
    b = bind_array(pa.array([None, None], pa.null()))
    assert b.ptype == C.PT_NULL
    bin_ = pa.array([b"a", None, b"c"], pa.binary()).slice(1)
    b = bind_array(bin_)
    assert b.ptype == C.PT_OTHER
    assert bits(b.valid, b.offset, 2).tolist() == [False, True]


def test_has_any():
    lists = pa.array([["a", "b"], None, [], ["c", None], ["x"], [None], ["c", "c"]], pa.list_(pa.string()))
    want = [True, None, False, True, False, False, True]
    for arr in (lists, lists.cast(pa.large_list(pa.string())), lists.cast(pa.list_(pa.large_string()))):
        assert has_any_array(arr, ["b", "c"]).to_pylist() == want
        assert has_any_array(arr.slice(2, 3), ["b", "c"]).to_pylist() == want[2:5]
        b = bind_array(arr, has_any=["b", "c"])
        assert b.ptype == C.PT_BOOL
        vals, valid = decode(b, len(arr))
        assert [bool(v) if ok else None for v, ok in zip(vals, valid)] == want


def test_has_any_null_list_backed_by_values():
    # a NULL list whose offsets still span elements must stay NULL (and not shift others)
    offsets = pa.array([0, 1, 3, 4], pa.int32())
    values = pa.array(["q", "b", "x", "b"])
    arr = pa.ListArray.from_arrays(offsets, values, mask=pa.array([False, True, False]))
    assert has_any_array(arr, ["b"]).to_pylist() == [False, None, True]


def test_chunked():
    ch = pa.chunked_array([pa.array([1, None], pa.int32()), pa.array([3], pa.int32()), pa.array([], pa.int32())])
    bs = bind_chunked(ch)
    assert len(bs) == 3
    assert [decode(b, len(c))[0].tolist() for b, c in zip(bs, ch.chunks)][1:] == [[3], []]
    assert bind_array(pa.chunked_array([pa.array([5], pa.int8())])).ptype == C.PT_I8
    with pytest.raises(TypeError):
        bind_array(ch)


def test_has_any_needs_a_list():
    with pytest.raises(TypeError):
        bind_array(pa.array(["a"]), has_any=["a"])


# -- the engine's string encoder (columns.encode_string_array) -------------------------------
_ENCODE_CASES = [
    ["b", "a", "b", None, "", "日本", "a", "", None, "ü" * 40],
    [None, None],
    [],
    ["same"] * 20,
    [f"v{i % 7}" if i % 5 else None for i in range(3000)],
]


@pytest.mark.parametrize("values", _ENCODE_CASES, ids=range(len(_ENCODE_CASES)))
@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_encode_string_array_round_trips_like_arrow(values, typ):
    """The engine's encoder gives what pc.dictionary_encode gives: same values in the same
    (first appearance) order, same NULLs; sliced input too."""
    import pyarrow.compute as pc

    pytest.importorskip("leadscore_fast._engine")
    arr = pa.array(values, typ)
    for a in (arr, arr.slice(1), arr.slice(3, max(0, len(arr) - 5))):
        got = C.encode_string_array(a)
        assert got.type == pa.dictionary(pa.int32(), pa.string())
        assert got.null_count == a.null_count
        assert got.cast(typ).equals(a)
        want = pc.dictionary_encode(a)
        assert got.dictionary.to_pylist() == want.dictionary.to_pylist()
        assert got.indices.to_pylist() == want.indices.to_pylist()


def test_encoding_on_threads_agrees_with_one_thread():
    """Each thread encodes a run of rows, then the dictionaries are merged: the result is the
    one-thread result exactly (engine/src/encode.rs splits from 2 x 65,536 rows)."""
    pytest.importorskip("leadscore_fast._engine")
    rng = np.random.default_rng(1)
    n = 3 * 65_536 + 10
    arrs = [pa.array([f"k{x}" if x % 11 else None for x in rng.integers(0, 5000, n)]),
            pa.array([f"u{i}" for i in range(n)], pa.large_string()).slice(5)]
    for a, e in zip(arrs, C.encode_strings(arrs, threads=4)):
        assert e.equals(C.encode_string_array(a, threads=1))
        assert e.cast(a.type).equals(a)
