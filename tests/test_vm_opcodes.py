"""Every VM opcode on hand-assembled programs (no Rust compiler needed), over small arrays with
NULLs, in one chunk and in many 3-row chunks on 1 and 2 threads."""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pyarrow.types as pat
import pytest

from leadscore_fast.vm import opcodes as O
from leadscore_fast.vm.opcodes import INSN_WIDTH
from vm_harness import FakeProgram, insn, run

N = None
NAN = float("nan")
T, F = True, False
I64_MAX, I64_MIN = 2**63 - 1, -(2**63)


@pytest.fixture(params=[(4096, 1, ""), (3, 1, ""), (3, 2, ""), (1, 2, ""), (5, 2, "full"),
                        (4096, 1, "fused"), (3, 2, "fused"),
                        (4096, 1, "native"), (3, 2, "native"), (1, 1, "native")],
                ids=lambda p: f"chunk{p[0]}-thr{p[1]}{'-' + p[2] if p[2] else ''}")
def kw(request, monkeypatch):
    """Score settings. The plain cases run the interpreter with the variant the program
    needs; "full" runs every program, core-only ones too, with run_block_full; "fused" runs a
    fused kernel (vm/fused.py) wherever the program allows one, from its first row (with 3-row
    chunks: in stages of 2 instructions); "native" runs the Rust executor, and the harness
    (vm_harness.run / run_queries) checks it against the interpreter bit for bit."""
    if request.param[2] == "fused":
        monkeypatch.setenv("LEADSCORE_FUSE_AFTER_ROWS", "0")
        monkeypatch.setenv("LEADSCORE_FUSE_BACKGROUND", "0")
        if request.param[0] == 3:  # and in stages of 2 instructions (values spilled between)
            from leadscore_fast.vm import fused_ir

            monkeypatch.setattr(fused_ir, "STAGE_INSTRUCTIONS", 2)
    else:
        monkeypatch.setenv("LEADSCORE_FUSED", "0")
    if request.param[2] == "full":
        from leadscore_fast.vm import kernel

        monkeypatch.setattr(kernel, "needs_full", lambda *a: True)
    executor = {"fused": "fused", "native": "native"}.get(request.param[2], "interpreter")
    return {"chunk_rows": request.param[0], "threads": request.param[1], "executor": executor}


# The executors each opcode ran on in this module (see test_every_opcode_runs_on_every_executor).
_RAN: dict = {}


@pytest.fixture(autouse=True, scope="module")
def _record_executors():
    from leadscore_fast.vm import executor

    orig = executor.choose

    def choose(ex, code, n, fused_kernel):
        got = orig(ex, code, n, fused_kernel)
        _RAN.setdefault(got[0], set()).update(int(op) for op in code[:, 0])
        return got

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(executor, "choose", choose)
        yield


def floats(v):
    return pa.array(v, pa.float64())


def close(got, want):
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        if w is None:
            assert g is None, (got, want)
        else:
            assert g is not None and math.isclose(g, w, rel_tol=1e-12, abs_tol=1e-12), (got, want)


# -- loads -----------------------------------------------------------------------------------
@pytest.mark.parametrize("typ", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
                                 "uint64", "float16", "float32", "float64"])
def test_load_f_numeric_types(kw, typ):
    vals = [1, None, 3, 0, 7, None, 100, 5]
    arr = pa.array(vals, getattr(pa, typ)())
    assert run([(O.LOAD_F, 0, 0)], {"x": arr}, score_kw=kw) == [None if v is None else float(v) for v in vals]


def test_load_f_nan_is_null_and_sliced(kw):
    arr = floats([1.5, None, NAN, -2.0, 4.0, None, 8.25, 9.0, 10.0, NAN])
    assert run([(O.LOAD_F, 0, 0)], {"x": arr}, score_kw=kw) == [1.5, N, N, -2.0, 4.0, N, 8.25, 9.0, 10.0, N]
    for off in range(1, 9):  # bit offsets inside the validity bitmap
        s = arr.slice(off, 10 - off)
        want = [None if v is None or v != v else v for v in s.to_pylist()]
        assert run([(O.LOAD_F, 0, 0)], {"x": s}, score_kw=kw) == want


def test_load_f_bool_and_extremes(kw):
    assert run([(O.LOAD_F, 0, 0)], {"x": pa.array([T, F, N, T])}, score_kw=kw) == [1.0, 0.0, N, 1.0]
    big = pa.array([2**64 - 1, 0], pa.uint64())
    assert run([(O.LOAD_F, 0, 0)], {"x": big}, score_kw=kw) == [float(2**64 - 1), 0.0]


@pytest.mark.parametrize("typ", ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"])
def test_load_i(kw, typ):
    vals = [1, None, 3, 0, 7, None, 100, 5, 2, 9]
    arr = pa.array(vals, getattr(pa, typ)())
    got = run([(O.LOAD_I, 0, 0)], {"x": arr}, out="i", score_kw=kw)
    assert got == [None if v is None else float(v) for v in vals]
    s = arr.slice(3, 6)
    assert run([(O.LOAD_I, 0, 0)], {"x": s}, out="i", score_kw=kw) == [None if v is None else float(v) for v in s.to_pylist()]


def test_uint8_minus_8_is_negative(kw):
    arr = pa.array([0, 5, 200, None], pa.uint8())
    got = run([(O.LOAD_I, 0, 0), (O.ARITH_IK, 1, 0, 0, 1)], {"x": arr}, out="i", reg=1,
              consts_i=[8], score_kw=kw)
    assert got == [-8.0, -3.0, 192.0, N]


def test_load_b_bitpacked_sliced(kw):
    vals = [T, F, N, T, T, F, N, F, T, T, F, N, T]
    arr = pa.array(vals)
    assert run([(O.LOAD_B, 0, 0)], {"x": arr}, out="b", score_kw=kw) == vals
    for off in (1, 3, 7, 8, 9):
        assert run([(O.LOAD_B, 0, 0)], {"x": arr.slice(off)}, out="b", score_kw=kw) == vals[off:]
    nonull = pa.array([T, F, T, T, F, F, T, F, T]).slice(2)
    assert run([(O.LOAD_B, 0, 0)], {"x": nonull}, out="b", score_kw=kw) == [T, T, F, F, T, F, T]


AS_OF = dt.datetime(2026, 11, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
@pytest.mark.parametrize("tz", [None, "UTC", "America/New_York"])
def test_load_days_timestamps(kw, unit, tz):
    base = dt.datetime(2026, 10, 30, 0, 0)
    vals = [base, None, base + dt.timedelta(hours=6), AS_OF.replace(tzinfo=None) + dt.timedelta(days=2)]
    if tz is not None:
        vals = [v.replace(tzinfo=dt.timezone.utc) if v else v for v in vals]
    arr = pa.array(vals, pa.timestamp(unit, tz))
    got = run([(O.LOAD_DAYS, 0, 0)], {"t": arr}, score_kw=dict(kw, as_of=AS_OF))
    close(got, [2.5, None, 2.25, -2.0])


def test_load_days_ns_floors_to_whole_microseconds(kw):
    # ns -> us by floor division (negatives too: -1500 ns is -2 us), then (as_of - us) / day:
    # exactly what the DuckDB translation computes (epoch_ns floored to microseconds)
    as_of_us = 1_793_534_400_000_000  # 2026-11-01T12:00:00Z
    ns = [-1500, -1000, -1, 0, 1, 999, 1000, 1999, 1_700_000_000_123_456_789,
          as_of_us * 1000 + 86_400_000_000_999, None]
    arr = pa.array(ns, pa.timestamp("ns"))
    got = run([(O.LOAD_DAYS, 0, 0)], {"t": arr}, score_kw=dict(kw, as_of=AS_OF))
    want = [None if x is None else (as_of_us - x // 1000) / 86_400_000_000.0 for x in ns]
    assert got == want  # bit-exact, not approximately
    assert got[0] == (as_of_us + 2) / 86_400_000_000.0
    assert got[-2] == -1.0


@pytest.mark.parametrize("typ", [pa.timestamp("s"), pa.timestamp("ms"), pa.timestamp("us", "UTC"),
                                 pa.timestamp("ns"), pa.date32(), pa.date64()])
def test_load_us_every_time_type(kw, typ):
    # epoch microseconds, read exactly (ns floored, a date at midnight UTC)
    if pat.is_date(typ):
        vals = [dt.date(2026, 1, 2), None, dt.date(1969, 12, 31)]
        want = [1_767_312_000_000_000, None, -86_400_000_000]
    else:
        per_us = {"s": 1_000_000, "ms": 1000, "us": 1, "ns": 1}[typ.unit]
        raw = [1_767_312_000_000_000 // per_us, None, -1] if typ.unit != "ns" else [1_767_312_000_000_000_999, None, -1]
        vals, want = raw, [1_767_312_000_000_000, None, -1 * per_us if typ.unit != "ns" else -1]
    arr = pa.array(vals, typ)
    assert _exact_ints([(O.LOAD_US, 0, 0)], 0, {"t": arr}, kw) == want


def test_load_days_dates_and_as_of_resolution(kw):
    d = [dt.date(2026, 10, 1), None, dt.date(2026, 11, 1)]
    for typ in (pa.date32(), pa.date64()):
        got = run([(O.LOAD_DAYS, 0, 0)], {"d": pa.array(d, typ)}, score_kw=dict(kw, as_of="2026-11-01T12:00:00Z"))
        close(got, [31.5, None, 0.5])
    # Program.as_of is used when no explicit as_of; a date as_of means midnight UTC
    got = run([(O.LOAD_DAYS, 0, 0)], {"d": pa.array(d, pa.date32())}, as_of="2026-11-02T00:00:00Z", score_kw=kw)
    close(got, [32.0, None, 1.0])
    got = run([(O.LOAD_DAYS, 0, 0)], {"d": pa.array(d, pa.date32())}, as_of="2000-01-01",
              score_kw=dict(kw, as_of=dt.date(2026, 11, 3)))
    close(got, [33.0, None, 2.0])


def test_is_null_col_any_type(kw):
    cases = {
        "f": floats([1.0, NAN, None, 2.0]),
        "i": pa.array([1, None, 3, None], pa.int16()),
        "s": pa.array(["a", None, "", "b"]),
        "b": pa.array([T, F, N, T]),
        "l": pa.array([["a"], None, [], ["b", None]], pa.list_(pa.string())),
        "z": pa.array([None] * 4, pa.null()),
        "bin": pa.array([b"x", None, b"", None], pa.binary()),
    }
    for name, arr in cases.items():
        want = [v is None or (isinstance(v, float) and v != v) for v in arr.to_pylist()]
        got = run([(O.IS_NULL_COL, 0, 0)], {name: arr}, out="b", score_kw=kw)
        assert got == want, name
        got = run([(O.IS_NULL_COL, 0, 0)], {name: arr.slice(1)}, out="b", score_kw=kw)
        assert got == want[1:], name


STRS = ["software", None, "retail", "fintech", "software", None, "other"]


@pytest.mark.parametrize("typ", ["string", "large_string", "string_view", "dict8", "dict32", "dictu16"])
def test_lookup_f_b(kw, typ):
    arr = pa.array(STRS, pa.string())
    if typ.startswith("dict"):
        idx = {"dict8": pa.int8(), "dict32": pa.int32(), "dictu16": pa.uint16()}[typ]
        arr = arr.dictionary_encode().cast(pa.dictionary(idx, pa.string()))
    else:
        arr = arr.cast(getattr(pa, typ)())
    tf = {"software": 15.0, "fintech": 10.0, "*": 0.0, None: -1.0}
    tb = {"software": 2.0, "retail": 0.0, "*": 1.0, None: 0.0}
    kwp = dict(lookups=[{"column": 0, "result": "F"}, {"column": 0, "result": "B"}], tables=[tf, tb])
    got = run([(O.LOOKUP_F, 0, 0, 0)], {"ind": arr}, score_kw=kw, **kwp)
    assert got == [15.0, -1.0, 0.0, 10.0, 15.0, -1.0, 0.0]
    got = run([(O.LOOKUP_B, 0, 0, 1)], {"ind": arr}, out="b", score_kw=kw, **kwp)
    assert got == [T, F, F, None, T, F, None]
    got = run([(O.LOOKUP_F, 0, 0, 0)], {"ind": arr.slice(2, 4)}, score_kw=kw, **kwp)
    assert got == [0.0, 10.0, 15.0, -1.0]


@pytest.mark.parametrize("idx", [pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(),
                                 pa.uint16(), pa.uint32(), pa.uint64()])
def test_lookup_out_of_range_codes_read_null(kw, idx):
    """Codes outside the dictionary (negative, = its size, the index type's extremes) read the
    NULL entry, whatever the index type (one unsigned compare covers both ends)."""
    info = np.iinfo(idx.to_pandas_dtype())
    codes = [0, 1, 2, -1, 3, int(info.max), int(info.min), 1]
    codes = [c for c in codes if info.min <= c <= info.max]
    arr = pa.DictionaryArray.from_arrays(pa.array(codes, idx), pa.array(["a", "b", "c"]),
                                         safe=False)
    tf = {"a": 1.0, "b": 2.0, "c": 3.0, None: -9.0}
    want = [{0: 1.0, 1: 2.0, 2: 3.0}.get(c, -9.0) for c in codes]
    got = run([(O.LOOKUP_F, 0, 0, 0)], {"x": arr}, lookups=[{"column": 0, "result": "F"}],
              tables=[tf], score_kw=kw)
    assert got == want


@pytest.mark.parametrize("typ", ["string", "dict8", "dict32", "dictu16", "dict64"])
def test_lookup_rule_k_is_lookup_b_then_rule_k(kw, typ):
    """The fused LOOKUP_RULE_K adds k exactly where LOOKUP_B + RULE_K would: TRUE entries, the
    NULL entry for NULL rows, nothing for a NULL constant; sliced input too."""
    arr = pa.array(STRS, pa.string())
    if typ.startswith("dict"):
        idx = {"dict8": pa.int8(), "dict32": pa.int32(), "dictu16": pa.uint16(),
               "dict64": pa.int64()}[typ]
        arr = arr.dictionary_encode().cast(pa.dictionary(idx, pa.string()))
    tb = {"software": 2.0, "retail": 0.0, "*": 1.0, None: 2.0}  # NULL rows count as TRUE
    kwp = dict(lookups=[{"column": 0, "result": "B"}], tables=[tb], consts_f=[1.5, 7.0, NAN])
    for data in (arr, arr.slice(1, 5)):
        d = {"ind": data}
        for k in (0, 2):
            fused = run([(O.CONST_F, 0, 1), (O.LOOKUP_RULE_K, 0, 0, 0, k)], d, score_kw=kw, **kwp)
            pair = run([(O.CONST_F, 0, 1), (O.LOOKUP_B, 1, 0, 0), (O.RULE_K, 0, 1, k)], d,
                       score_kw=kw, **kwp)
            assert fused == pair
        want = [8.5 if v in ("software", None) else 7.0 for v in data.to_pylist()]
        assert run([(O.CONST_F, 0, 1), (O.LOOKUP_RULE_K, 0, 0, 0, 0)], d, score_kw=kw, **kwp) == want


@pytest.mark.parametrize("points_max", [8192, 0])
def test_lookup_rule_k_points_tables_per_instruction_and_batch(kw, points_max, monkeypatch):
    """The runner gives every LOOKUP_RULE_K its own points table (k per instruction, two over
    one tri-state table here), rebuilt when a batch brings another dictionary; over a
    dictionary bigger than POINTS_TABLE_MAX the kernel reads the tri-state table instead."""
    from leadscore_fast import runner

    monkeypatch.setattr(runner, "POINTS_TABLE_MAX", points_max)
    ch = pa.chunked_array([pa.array(["a", "b", None]).dictionary_encode(),
                           pa.array(["c", "a"]).dictionary_encode(),
                           pa.array(["b", "b", "a"]).dictionary_encode()])
    kwp = dict(lookups=[{"column": 0, "result": "B"}, {"column": 0, "result": "B"}],
               tables=[{"a": 2.0, "b": 0.0, "c": 2.0, None: 1.0},
                       {"a": 0.0, "b": 2.0, "c": 1.0, None: 2.0}],
               consts_f=[0.0, 10.0, 1.0, -0.5])
    got = run([(O.CONST_F, 0, 0), (O.LOOKUP_RULE_K, 0, 0, 0, 1), (O.LOOKUP_RULE_K, 0, 0, 0, 2),
               (O.LOOKUP_RULE_K, 0, 0, 1, 3)], pa.table({"x": ch}), score_kw=kw, **kwp)
    assert got == [11.0, -0.5, -0.5, 11.0, 11.0, -0.5, -0.5, 11.0]


def test_lookup_chunked_dictionaries_differ(kw):
    ch = pa.chunked_array([pa.array(["a", "b", None]), pa.array(["c", "a"]), pa.array(["b", "b"])])
    t = pa.table({"x": ch})
    got = run([(O.LOOKUP_F, 0, 0, 0)], t, lookups=[{"column": 0, "result": "F"}],
              tables=[{"a": 1.0, "b": 2.0, "c": 3.0, None: NAN}], score_kw=kw)
    assert got == [1.0, 2.0, None, 3.0, 1.0, 2.0, 2.0]


def test_has_any_column(kw):
    lists = pa.array([["a", "b"], None, [], ["c", None], ["x", "b"], [None]], pa.list_(pa.string()))
    col = {"name": "tags", "kind": "has_any", "has_any": ["b", "c"]}
    for arr in (lists, lists.cast(pa.large_list(pa.string()))):
        got = run([(O.LOAD_B, 0, 0)], {"tags": arr}, out="b", columns=[col], score_kw=kw)
        assert got == [T, None, F, T, T, F]
        got = run([(O.LOAD_B, 0, 0)], {"tags": arr.slice(2)}, out="b", columns=[col], score_kw=kw)
        assert got == [F, T, T, F]


def test_load_score_and_load_seg(kw):
    x = floats([1.0, None, 3.0, 4.0])
    prog = [(O.LOAD_F, 0, 0), (O.STORE_SCORE, 0, 0, 1),
            (O.LOAD_SCORE, 1, 0), (O.ARITH_FK, 1, 1, 0, 2),  # s2 = s * 10
            (O.CMP_FK, 0, 1, 1, 4), (O.SEG_SET, 0, 0, 1),  # seg: label 1 where s2 > 25
            (O.LOAD_SEG, 0, 0), (O.I2F, 2, 0), (O.STORE_SCORE, 1, 2, 0)]
    res = run(prog, {"x": x}, out="raw", consts_f=[10.0, 25.0], scores=["s", "seg_code"],
              segments=[{"name": "g", "labels": ["lo", "hi"]}], score_kw=kw)
    assert res.column("s").to_pylist() == [1.0, 0.0, 3.0, 4.0]
    assert res.column("seg_code").to_pylist() == [None, None, 1.0, 1.0]
    assert res.column("g").to_pylist() == [None, None, "hi", "hi"]


# -- constants and conversions ---------------------------------------------------------------
def test_consts(kw):
    d = {"x": floats([1.0, 2.0, 3.0, 4.0])}
    assert run([(O.CONST_F, 0, 0)], d, consts_f=[2.5], score_kw=kw) == [2.5] * 4
    assert run([(O.CONST_F, 0, 0)], d, consts_f=[NAN], score_kw=kw) == [None] * 4
    assert run([(O.CONST_I, 0, 0, 1)], d, out="i", consts_i=[-7], score_kw=kw) == [-7.0] * 4
    assert run([(O.CONST_I, 0, 0, 0)], d, out="i", consts_i=[-7], score_kw=kw) == [None] * 4
    for imm, want in ((0, F), (1, None), (2, T)):
        assert run([(O.CONST_B, 0, imm)], d, out="b", score_kw=kw) == [want] * 4


def test_i2f(kw):
    d = {"x": pa.array([1, None, -3, 2**53], pa.int64())}
    assert run([(O.LOAD_I, 0, 0), (O.I2F, 1, 0)], d, reg=1, score_kw=kw) == [1.0, N, -3.0, 2.0**53]


# -- arithmetic ------------------------------------------------------------------------------
A_F = [7.0, -7.0, 7.0, -7.0, 5.5, 1.0, None, 3.0, 0.0, -0.5]
B_F = [2.0, 2.0, -2.0, -2.0, 0.0, None, 1.0, 4.0, 3.0, 0.25]


def sql_f(op, a, b):
    if a is None or b is None:
        return None
    if op in (3, 4) and b == 0:
        return None
    if op == 6:  # pow; 0 to a negative power is NULL
        return None if a == 0 and b < 0 else math.pow(a, b) if a >= 0 or b == int(b) else None
    return [a + b, a - b, a * b, a / b if b else 0, math.fmod(a, b) if b else 0][op]


@pytest.mark.parametrize("aop", [0, 1, 2, 3, 4, 6])
def test_arith_f(kw, aop):
    d = {"a": floats(A_F), "b": floats(B_F)}
    got = run([(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1), (O.ARITH_F, 2, 0, 1, aop)], d, reg=2, score_kw=kw)
    close(got, [sql_f(aop, a, b) for a, b in zip(A_F, B_F)])
    for k in (2.0, -2.0, 0.0, NAN):
        kk = None if k != k else k
        got = run([(O.LOAD_F, 0, 0), (O.ARITH_FK, 2, 0, 0, aop)], d, reg=2, consts_f=[k], score_kw=kw)
        close(got, [sql_f(aop, a, kk) for a in A_F])
        got = run([(O.LOAD_F, 1, 1), (O.ARITH_KF, 2, 0, 1, aop)], d, reg=2, consts_f=[k], score_kw=kw)
        close(got, [sql_f(aop, kk, b) for b in B_F])


def test_float_mod_sign_follows_dividend(kw):
    d = {"a": floats([7.5, -7.5, 7.5, -7.5]), "b": floats([2.0, 2.0, -2.0, -2.0])}
    got = run([(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1), (O.ARITH_F, 2, 0, 1, 4)], d, reg=2, score_kw=kw)
    assert got == [1.5, -1.5, 1.5, -1.5]


A_I = [7, -7, 7, -7, 5, 1, None, 3, 0, I64_MIN, I64_MAX, 6]
B_I = [2, 2, -2, -2, 0, None, 1, 4, 3, -1, 1, -3]


def c_mod(a, b):
    r = abs(a) % abs(b)
    return -r if a < 0 else r


def c_div(a, b):
    q = abs(a) // abs(b)
    return q if (a < 0) == (b < 0) else -q


def sql_i(op, a, b):
    """int64 + - * // and truncating %: NULL on overflow and for % or // by zero."""
    if a is None or b is None or (op in (4, 5) and b == 0):
        return None
    v = {0: lambda: a + b, 1: lambda: a - b, 2: lambda: a * b, 4: lambda: c_mod(a, b),
         5: lambda: c_div(a, b)}[op]()
    return v if I64_MIN <= v <= I64_MAX else None


@pytest.mark.parametrize("aop", [0, 1, 2, 4, 5])
def test_arith_i(kw, aop):
    # results are compared exactly via CMP_IK against each expected value: route through
    # a float only where exact, else compare with the int64 expectations via pyarrow
    d = {"a": pa.array(A_I, pa.int64()), "b": pa.array(B_I, pa.int64())}
    want = [sql_i(aop, a, b) for a, b in zip(A_I, B_I)]
    # expose the int result exactly: store it as (hi, lo) floats
    prog = [(O.LOAD_I, 0, 0), (O.LOAD_I, 1, 1), (O.ARITH_I, 2, 0, 1, aop)]
    got = _exact_ints(prog, 2, d, kw)
    assert got == want
    for k in (3, -3, 0, -1):
        prog = [(O.LOAD_I, 0, 0), (O.ARITH_IK, 2, 0, 0, aop)]
        assert _exact_ints(prog, 2, d, kw, consts_i=[k]) == [sql_i(aop, a, k) for a in A_I]


def _exact_ints(prog, reg, d, kw, consts_i=()):
    """Read int register ``reg`` exactly: hi = x // 2**32 and lo = x % 2**32 as floats."""
    ki = list(consts_i)
    base = len(ki)
    ki += [2**32]
    prog = list(prog) + [
        (O.ARITH_IK, 5, reg, base, 4),  # lo (truncating: sign of x)
        (O.ARITH_I, 6, reg, 5, 1),  # x - lo: exact multiple of 2**32
        (O.I2F, 5, 5), (O.I2F, 6, 6), (O.STORE_SCORE, 0, 5, 0), (O.STORE_SCORE, 1, 6, 0)]
    res = run(prog, d, out="raw", consts_i=ki, scores=["lo", "hi"], score_kw=kw)
    lo, hi = res.column("lo").to_pylist(), res.column("hi").to_pylist()
    return [None if a is None else int(a) + int(b) for a, b in zip(lo, hi)]


def test_int_mod_sign_and_zero(kw):
    d = {"a": pa.array([7, -7, 7, -7, 7, I64_MIN], pa.int64()), "b": pa.array([3, 3, -3, -3, 0, -1], pa.int64())}
    got = run([(O.LOAD_I, 0, 0), (O.LOAD_I, 1, 1), (O.ARITH_I, 2, 0, 1, 4)], d, out="i", reg=2, score_kw=kw)
    assert got == [1.0, -1.0, 1.0, -1.0, None, 0.0]


def _round_half_away(x):
    t = math.trunc(x)
    return float(t + (math.copysign(1, x) if abs(x - t) >= 0.5 else 0)) if math.isfinite(x) else x


def test_math_f(kw):
    xs = [4.0, -4.0, 0.0, None, 1.0, 0.25, 2.5, -2.5, 0.49999999999999994, -0.5, 1e300, -7.75]
    d = {"x": floats(xs)}
    fns = [lambda x: -x, abs, lambda x: math.log(x) if x > 0 else None,
           lambda x: math.exp(x) if x < 709 else math.inf,
           lambda x: math.sqrt(x) if x >= 0 else None, lambda x: float(math.floor(x)),
           lambda x: float(math.ceil(x)), _round_half_away,
           lambda x: math.log10(x) if x > 0 else None, lambda x: math.log2(x) if x > 0 else None]
    for fn in range(10):
        got = run([(O.LOAD_F, 0, 0), (O.MATH_F, 1, 0, fn)], d, reg=1, score_kw=kw)
        close(got, [None if x is None else fns[fn](x) for x in xs])


def test_round_f(kw):
    # DuckDB's round(x, digits): scale by k = 10^|digits|, round half away, scale back
    xs = [1234.5678, -2.5, 0.125, None, 1e300, 0.0, -0.0]
    d = {"x": floats(xs)}
    for k, neg, want in [
        (100.0, 0, [1234.57, -2.5, 0.13, None, 1e300, 0.0, 0.0]),
        (100.0, 1, [1200.0, 0.0, 0.0, None, 1e300, 0.0, 0.0]),
        (math.inf, 0, [1234.5678, -2.5, 0.125, None, 1e300, 0.0, 0.0]),  # not finite: x
        (math.inf, 1, [0.0, 0.0, 0.0, None, 0.0, 0.0, 0.0]),  # not finite: 0
    ]:
        got = run([(O.LOAD_F, 0, 0), (O.ROUND_F, 1, 0, 0, neg)], d, reg=1, consts_f=[k], score_kw=kw)
        assert got == want, (k, neg)


def test_f2i(kw):
    # half to even (DuckDB's CAST(double AS BIGINT)); NULL outside int64
    xs = [2.5, 3.5, -2.5, -0.5, 1.4999, None, 9.3e18, -9.223372036854775808e18, math.inf]
    d = {"x": floats(xs)}
    got = _exact_ints([(O.LOAD_F, 0, 0), (O.F2I, 1, 0)], 1, d, kw)
    assert got == [2, 4, -2, 0, 1, None, None, I64_MIN, None]


def test_neg_abs_i(kw):
    xs = [3, -3, 0, None, I64_MAX, I64_MIN]
    d = {"x": pa.array(xs, pa.int64())}
    # -INT64_MIN and abs(INT64_MIN) overflow: NULL
    assert _exact_ints([(O.LOAD_I, 0, 0), (O.NEG_I, 1, 0)], 1, d, kw) == [
        None if x is None or x == I64_MIN else -x for x in xs]
    assert _exact_ints([(O.LOAD_I, 0, 0), (O.ABS_I, 1, 0)], 1, d, kw) == [
        None if x is None or x == I64_MIN else abs(x) for x in xs]


# -- comparisons and logic -------------------------------------------------------------------
CMPS = [lambda a, b: a == b, lambda a, b: a != b, lambda a, b: a < b, lambda a, b: a <= b,
        lambda a, b: a > b, lambda a, b: a >= b]


def sql_cmp(c, a, b):
    return None if a is None or b is None else CMPS[c](a, b)


@pytest.mark.parametrize("cmp", range(6))
def test_cmp_f(kw, cmp):
    a = [1.0, 2.0, 3.0, None, 2.0, NAN, -0.5]
    b = [2.0, 2.0, 2.0, 2.0, None, 1.0, -0.5]
    na = [None if x is None or x != x else x for x in a]
    d = {"a": floats(a), "b": floats(b)}
    got = run([(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1), (O.CMP_F, 0, 0, 1, cmp)], d, out="b", score_kw=kw)
    assert got == [sql_cmp(cmp, x, y) for x, y in zip(na, b)]
    got = run([(O.LOAD_F, 0, 0), (O.CMP_FK, 0, 0, 0, cmp)], d, out="b", consts_f=[2.0], score_kw=kw)
    assert got == [sql_cmp(cmp, x, 2.0) for x in na]
    got = run([(O.LOAD_F, 0, 0), (O.CMP_FK, 0, 0, 0, cmp)], d, out="b", consts_f=[NAN], score_kw=kw)
    assert got == [None] * len(a)


@pytest.mark.parametrize("cmp", range(6))
def test_cmp_i_exact(kw, cmp):
    a = [2**53, 2**53 + 1, -5, None, I64_MAX, I64_MIN, 7]
    b = [2**53 + 1, 2**53, -5, 1, I64_MAX - 1, I64_MIN, None]
    d = {"a": pa.array(a, pa.int64()), "b": pa.array(b, pa.int64())}
    got = run([(O.LOAD_I, 0, 0), (O.LOAD_I, 1, 1), (O.CMP_I, 0, 0, 1, cmp)], d, out="b", score_kw=kw)
    assert got == [sql_cmp(cmp, x, y) for x, y in zip(a, b)]
    k = 2**53 + 1
    got = run([(O.LOAD_I, 0, 0), (O.CMP_IK, 0, 0, 0, cmp)], d, out="b", consts_i=[k], score_kw=kw)
    assert got == [sql_cmp(cmp, x, k) for x in a]


TV = [T, T, T, F, F, F, N, N, N]
TW = [T, F, N, T, F, N, T, F, N]


def k_and(a, b):
    if a is F or b is F:
        return F
    return None if a is None or b is None else T


def k_or(a, b):
    if a is T or b is T:
        return T
    return None if a is None or b is None else F


def test_kleene_truth_tables(kw):
    d = {"a": pa.array(TV), "b": pa.array(TW)}
    ld = [(O.LOAD_B, 0, 0), (O.LOAD_B, 1, 1)]
    assert run(ld + [(O.AND, 2, 0, 1)], d, out="b", reg=2, score_kw=kw) == [k_and(a, b) for a, b in zip(TV, TW)]
    assert run(ld + [(O.OR, 2, 0, 1)], d, out="b", reg=2, score_kw=kw) == [k_or(a, b) for a, b in zip(TV, TW)]
    assert run(ld + [(O.NOT, 2, 0)], d, out="b", reg=2, score_kw=kw) == [None if a is None else not a for a in TV]
    assert run(ld + [(O.AND, 0, 0, 0)], d, out="b", score_kw=kw) == TV  # dst aliases sources


def test_is_null_regs(kw):
    d = {"f": floats([1.0, None, NAN]), "i": pa.array([None, 1, 2]), "b": pa.array([T, N, F])}
    assert run([(O.LOAD_F, 0, 0), (O.IS_NULL_F, 0, 0)], d, out="b", score_kw=kw) == [F, T, T]
    assert run([(O.LOAD_I, 0, 1), (O.IS_NULL_I, 0, 0)], d, out="b", score_kw=kw) == [T, F, F]
    assert run([(O.LOAD_B, 0, 2), (O.IS_NULL_B, 1, 0)], d, out="b", reg=1, score_kw=kw) == [F, T, F]


def test_select(kw):
    d = {"c": pa.array([T, F, N, T]), "a": pa.array([1, 2, None, None]), "b": pa.array([10, None, 30, 40])}
    ld = [(O.LOAD_B, 0, 0), (O.LOAD_I, 0, 1), (O.LOAD_I, 1, 2)]
    assert run(ld + [(O.SELECT_I, 2, 0, 0, 1)], d, out="i", reg=2, score_kw=kw) == [1.0, N, 30.0, N]
    ldf = [(O.LOAD_B, 0, 0), (O.LOAD_F, 0, 1), (O.LOAD_F, 1, 2), (O.SELECT_F, 2, 0, 0, 1)]
    assert run(ldf, d, reg=2, score_kw=kw) == [1.0, N, 30.0, N]
    db = {"c": pa.array([T, F, N, T]), "a": pa.array([F, T, T, N]), "b": pa.array([T, N, F, T])}
    ldb = [(O.LOAD_B, 0, 0), (O.LOAD_B, 1, 1), (O.LOAD_B, 2, 2), (O.SELECT_B, 3, 0, 1, 2)]
    assert run(ldb, db, out="b", reg=3, score_kw=kw) == [F, N, F, N]


def test_minmax_and_coalesce(kw):
    a = [1.0, None, 3.0, None, NAN, -1.0]
    b = [2.0, 5.0, None, None, 4.0, -1.0]
    na = [None if x is None or x != x else x for x in a]
    d = {"a": floats(a), "b": floats(b)}
    ld = [(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1)]

    def skip(fn, x, y):
        vals = [v for v in (x, y) if v is not None]
        return fn(vals) if vals else None

    assert run(ld + [(O.MINMAX_F, 2, 0, 1, 0)], d, reg=2, score_kw=kw) == [skip(min, x, y) for x, y in zip(na, b)]
    assert run(ld + [(O.MINMAX_F, 2, 0, 1, 1)], d, reg=2, score_kw=kw) == [skip(max, x, y) for x, y in zip(na, b)]
    assert run(ld + [(O.COALESCE_F, 2, 0, 1)], d, reg=2, score_kw=kw) == [x if x is not None else y for x, y in zip(na, b)]
    ai = [1, None, 3, None, -(2**62)]
    bi = [2, 5, None, None, 2**62]
    di = {"a": pa.array(ai, pa.int64()), "b": pa.array(bi, pa.int64())}
    ldi = [(O.LOAD_I, 0, 0), (O.LOAD_I, 1, 1)]
    assert _exact_ints(ldi + [(O.MINMAX_I, 2, 0, 1, 0)], 2, di, kw) == [skip(min, x, y) for x, y in zip(ai, bi)]
    assert _exact_ints(ldi + [(O.MINMAX_I, 2, 0, 1, 1)], 2, di, kw) == [skip(max, x, y) for x, y in zip(ai, bi)]
    assert _exact_ints(ldi + [(O.COALESCE_I, 2, 0, 1)], 2, di, kw) == [x if x is not None else y for x, y in zip(ai, bi)]
    db = {"a": pa.array(TV), "b": pa.array(TW)}
    got = run([(O.LOAD_B, 0, 0), (O.LOAD_B, 1, 1), (O.COALESCE_B, 2, 0, 1)], db, out="b", reg=2, score_kw=kw)
    assert got == [x if x is not None else y for x, y in zip(TV, TW)]


def test_decay(kw):
    p = [10.0, 10.0, None, 8.0, 8.0]
    age = [0.0, 7.0, 1.0, 14.0, 3.0]
    hl = [7.0, 7.0, 7.0, 7.0, 0.0]
    d = {"p": floats(p), "a": floats(age), "h": floats(hl)}
    got = run([(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1), (O.LOAD_F, 2, 2), (O.DECAY, 3, 0, 1, 2)], d, reg=3, score_kw=kw)
    close(got, [10.0, 5.0, None, 2.0, None])


def test_decay_against_libm(kw):
    """The vectorised 2**t (kernel.decay) is within 1 ulp of libm's pow, exact at whole
    half-lives, and takes pow's values beyond the normal exponent range, for NULLs, infinite
    ages and a zero half-life."""
    dst = 3
    rng = np.random.default_rng(5)
    n = 5000
    p = rng.uniform(-100, 100, n)
    age = rng.uniform(-400, 4000, n)
    hl = rng.uniform(0.5, 60, n)
    age[:200] = np.round(age[:200] / 7.0) * 7.0  # whole half-lives: 2**k exactly
    hl[:200] = 7.0
    specials = [(1.0, 30000.0, 1.0), (1.0, -30000.0, 1.0), (1e-300, 1060.0, 1.0),
                (2.0, math.inf, 1.0), (2.0, -math.inf, 1.0), (2.0, 5.0, 0.0), (0.0, -2000.0, 1.0),
                (math.nan, 1.0, 1.0), (1.0, math.nan, 1.0), (1.0, 1.0, math.nan)]
    for i, (a, b, c) in enumerate(specials):
        p[200 + i], age[200 + i], hl[200 + i] = a, b, c
    d = {"p": pa.array(p), "a": pa.array(age), "h": pa.array(hl)}
    got = np.array(run([(O.LOAD_F, 0, 0), (O.LOAD_F, 1, 1), (O.LOAD_F, 2, 2),
                        (O.DECAY, dst, 0, 1, 2)], d, reg=dst, score_kw=kw), dtype=float)
    with np.errstate(all="ignore"):  # numpy's power is libm's pow, without Python's raising
        want = np.where(hl != 0, p * np.power(0.5, age / hl), math.nan)
    assert np.array_equal(np.isnan(got), np.isnan(want))
    ok = ~np.isnan(want)
    assert np.array_equal(got[:200], want[:200])
    assert np.array_equal(got[200:210][ok[200:210]], want[200:210][ok[200:210]])
    ok &= np.isfinite(want)
    ulps = np.abs(got[ok] - want[ok]) / np.spacing(np.abs(want[ok]))
    assert ulps.max() <= 2, ulps.max()


# -- scores and segments ---------------------------------------------------------------------
def test_rule_and_store(kw):
    cond = [T, T, F, N, T, T]
    pts = [5.0, None, 5.0, 5.0, 50.0, -50.0]
    d = {"c": pa.array(cond), "p": floats(pts)}
    ld = [(O.LOAD_B, 0, 0), (O.LOAD_F, 1, 1), (O.ZERO_F, 0)]
    # floor -10, cap 20
    got = run(ld + [(O.RULE, 0, 0, 1, 0, 1)], d, consts_f=[-10.0, 20.0], score_kw=kw)
    assert got == [5.0, 0.0, 0.0, 0.0, 20.0, -10.0]
    got = run(ld + [(O.RULE, 0, 0, 1, -1, -1)], d, score_kw=kw)
    assert got == [5.0, 0.0, 0.0, 0.0, 50.0, -50.0]
    got = run(ld + [(O.RULE, 0, -1, 1, -1, 0)], d, consts_f=[20.0], score_kw=kw)  # always, cap only
    assert got == [5.0, 0.0, 5.0, 5.0, 20.0, -50.0]
    got = run(ld + [(O.RULE, 0, 0, 1, 0, 1)], d, consts_f=[NAN, NAN], score_kw=kw)  # NULL floor/cap skipped
    assert got == [5.0, 0.0, 0.0, 0.0, 50.0, -50.0]
    # two rules accumulate
    got = run(ld + [(O.RULE, 0, 0, 1, -1, -1), (O.RULE_K, 0, -1, 0)], d, consts_f=[1.5], score_kw=kw)
    assert got == [6.5, 1.5, 1.5, 1.5, 51.5, -48.5]


def test_store_score_null_to_zero_modes(kw):
    """imm 0 stores NULL as NULL, imm 1 as 0, imm 2 as 0 and zeroes the register too (the
    compiler's way to let later references read a derived score without LOAD_SCORE)."""
    d = {"x": floats([1.5, None, -2.0])}
    prog = [(O.LOAD_F, 0, 0), (O.STORE_SCORE, 0, 0, 0), (O.STORE_SCORE, 1, 0, 1),
            (O.STORE_SCORE, 2, 0, 2), (O.STORE_SCORE, 3, 0, 0)]
    res = run(prog, d, out="raw", scores=["keep", "zero", "zero_reg", "after"], score_kw=kw)
    assert res.column("keep").to_pylist() == [1.5, None, -2.0]
    assert res.column("zero").to_pylist() == [1.5, 0.0, -2.0]
    assert res.column("zero_reg").to_pylist() == [1.5, 0.0, -2.0]
    assert res.column("after").to_pylist() == [1.5, 0.0, -2.0]  # the register was zeroed


def test_rule_k_clamp(kw):
    d = {"c": pa.array([T, F, N, T])}
    ld = [(O.LOAD_B, 0, 0), (O.ZERO_F, 0)]
    assert run(ld + [(O.RULE_K, 0, 0, 0)], d, consts_f=[7.0], score_kw=kw) == [7.0, 0.0, 0.0, 7.0]
    assert run(ld + [(O.RULE_K, 0, -1, 0)], d, consts_f=[7.0], score_kw=kw) == [7.0] * 4
    assert run(ld + [(O.RULE_K, 0, 0, 0)], d, consts_f=[NAN], score_kw=kw) == [0.0] * 4
    prog = ld + [(O.RULE_K, 0, 0, 0), (O.RULE_K, 0, 0, 0), (O.CLAMP_F, 0, 1, 2)]
    assert run(prog, d, consts_f=[7.0, 1.0, 10.0], score_kw=kw) == [10.0, 1.0, 1.0, 10.0]
    dd = {"x": floats([-5.0, 50.0, None, 3.0])}
    assert run([(O.LOAD_F, 0, 0), (O.CLAMP_F, 0, 0, 1)], dd, consts_f=[0.0, 10.0], score_kw=kw) == [0.0, 10.0, None, 3.0]


def test_store_score_null_handling(kw):
    d = {"x": floats([1.0, None, NAN])}
    assert run([(O.LOAD_F, 0, 0), (O.STORE_SCORE, 0, 0, 1)], d, out="raw", score_kw=kw).column("s").to_pylist() == [1.0, 0.0, 0.0]
    assert run([(O.LOAD_F, 0, 0)], d, score_kw=kw) == [1.0, None, None]


def test_seg_set_first_match_wins(kw):
    x = floats([90.0, 50.0, 10.0, None, 85.0])
    prog = [(O.LOAD_F, 0, 0), (O.CMP_FK, 0, 0, 0, 5), (O.CMP_FK, 1, 0, 1, 5),
            (O.SEG_SET, 0, 0, 0), (O.SEG_SET, 0, 1, 1)]
    segs = [{"name": "tier", "labels": ["hot", "warm", "cold"]}]
    res = run(prog, {"x": x}, out="raw", consts_f=[80.0, 40.0], scores=[], segments=segs, score_kw=kw)
    col = res.column("tier")
    assert col.to_pylist() == ["hot", "warm", None, None, "hot"]
    assert col.type == pa.dictionary(pa.int32(), pa.string())
    assert col.chunk(0).dictionary.to_pylist() == ["hot", "warm", "cold"]
    res = run(prog + [(O.SEG_SET, 0, -1, 2)], {"x": x}, out="raw", consts_f=[80.0, 40.0], scores=[], segments=segs, score_kw=kw)
    assert res.column("tier").to_pylist() == ["hot", "warm", "cold", "cold", "hot"]


def test_nop(kw):
    assert run([(O.NOP,), (O.CONST_F, 0, 0), (O.NOP,)], {"x": floats([1.0, 2.0])}, consts_f=[3.0], score_kw=kw) == [3.0, 3.0]


def test_every_opcode_is_tested():
    import inspect
    import sys

    src = inspect.getsource(sys.modules[__name__])
    missing = [name for name, _ in O.OPCODES.values() if f"O.{name}" not in src]
    assert not missing, missing


# -- batching, threads, input shapes ----------------------------------------------------------
def _bulk_prog():
    return [(O.LOAD_F, 0, 0), (O.LOAD_I, 0, 1), (O.LOAD_B, 0, 2),
            (O.CMP_FK, 1, 0, 0, 4), (O.CMP_IK, 2, 0, 0, 1), (O.AND, 3, 1, 2), (O.OR, 3, 3, 0),
            (O.ZERO_F, 1), (O.RULE, 1, 3, 0, -1, 1), (O.RULE_K, 1, 1, 2), (O.STORE_SCORE, 0, 1, 1)]


def _bulk_data(n, seed=0):
    rng = np.random.default_rng(seed)
    f = rng.normal(0, 10, n)
    i = rng.integers(-3, 3, n)
    b = rng.random(n) < 0.5
    return pa.table({"f": pa.array(f, mask=rng.random(n) < 0.1),
                     "i": pa.array(i, mask=rng.random(n) < 0.1),
                     "b": pa.array(b, mask=rng.random(n) < 0.1)})


def _bulk_expected(t):
    f = t.column("f").to_pylist()
    i = t.column("i").to_pylist()
    b = t.column("b").to_pylist()
    out = []
    for x, y, z in zip(f, i, b):
        c1 = None if x is None else x > 0.0
        c2 = None if y is None else y != 0
        c3 = k_or(k_and(c1, c2), z)
        acc = 0.0
        if c3 is T and x is not None:
            acc += min(x, 5.0)
        if c1 is T:
            acc += 2.0
        out.append(acc)
    return out


@pytest.mark.parametrize("chunk, threads", [(4096, 1), (64, 2), (1000, 2), (7, 1)])
def test_bulk_chunks_threads(chunk, threads):
    t = _bulk_data(20_000)
    prog = FakeProgram(_bulk_prog(), ["f", "i", "b"], consts_f=[0.0, 5.0, 2.0], consts_i=[0])
    from leadscore_fast.scoring import score

    got = score(prog, t, chunk_rows=chunk, threads=threads).column("s").to_numpy()
    np.testing.assert_allclose(got, _bulk_expected(t))
    # sliced + re-chunked table, RecordBatch and reader inputs give the same rows
    sl = t.slice(123, 9000)
    rechunked = pa.concat_tables([sl.slice(0, 4000), sl.slice(4000)])
    want = np.asarray(_bulk_expected(sl))
    for data in (sl, rechunked, sl.combine_chunks().to_batches()[0],
                 pa.RecordBatchReader.from_batches(sl.schema, rechunked.to_batches())):
        got = score(prog, data, chunk_rows=chunk, threads=threads).column("s").to_numpy()
        np.testing.assert_allclose(got, want)


def test_stream_keep_and_other_inputs():
    t = _bulk_data(1000)
    prog = FakeProgram(_bulk_prog(), ["f", "i", "b"], consts_f=[0.0, 5.0, 2.0], consts_i=[0])
    from leadscore_fast.scoring import score

    want = score(prog, t).column("s").to_pylist()
    r = score(prog, t, stream=True, keep=["i", "f"])
    assert isinstance(r, pa.RecordBatchReader)
    out = r.read_all()
    assert out.column_names == ["s", "i", "f"]
    assert out.column("s").to_pylist() == want
    assert out.column("i").equals(t.column("i"))
    assert score(prog, t, keep="b").column_names == ["s", "b"]
    pd = pytest.importorskip("pandas")
    assert score(prog, t.to_pandas(types_mapper=pd.ArrowDtype)).column("s").to_pylist() == want
    with pytest.raises(Exception, match="cannot be read by LOAD_I"):  # ints with NULLs → float64
        score(prog, t.to_pandas())
    pl = pytest.importorskip("polars")
    assert score(prog, pl.from_arrow(t)).column("s").to_pylist() == want


def test_empty_input():
    t = _bulk_data(0)
    prog = FakeProgram(_bulk_prog(), ["f", "i", "b"], consts_f=[0.0, 5.0, 2.0], consts_i=[0])
    from leadscore_fast.scoring import score

    out = score(prog, t)
    assert out.num_rows == 0 and out.column_names == ["s"]


def test_lookup_i(kw):
    arr = pa.array(["a", None, "b", "zz", "a"])
    got = run([(O.LOOKUP_I, 0, 0, 0)], {"x": arr}, out="i", lookups=[{"column": 0, "result": "I"}],
              tables=[{"a": 3.0, "b": -(2.0**40), "*": NAN, None: 7.0}], score_kw=kw)
    assert got == [3.0, 7.0, -(2.0**40), None, 3.0]


# -- program checks and errors (need the Rust extension for the exception classes) ------------
@pytest.mark.parametrize("insns, kw_, msg", [
    ([(99, 0)], {}, "instruction 0: unknown opcode 99"),
    ([(O.NOP,), (O.LOAD_F, 8, 0)], {}, r"instruction 1 \(LOAD_F\) operand 0 \(dF\) = 8: register out of range"),
    ([(O.LOAD_F, 0, 1)], {}, r"operand 1 \(col\) = 1: index out of range"),
    ([(O.LOAD_F, 0, -1)], {}, "only optional operands may be -1"),
    ([(O.RULE, 0, -1, 0, -1, 3)], {}, r"operand 4 \(kF\?\) = 3: index out of range"),
    ([(O.RULE, 0, -2, 0, -1, -1)], {}, "operand 1"),
    ([(O.CMP_FK, 0, 0, 0, 6)], {"consts_f": [1.0]}, "unknown cmp code"),
    ([(O.ARITH_IK, 0, 0, 0, 3)], {"consts_i": [1]}, "float operations, not valid on ints"),
    ([(O.MATH_F, 0, 0, 10)], {}, "unknown fn code"),
    ([(O.ARITH_I, 0, 0, 0, 6)], {}, "not valid on ints"),
    ([(O.ARITH_F, 0, 0, 0, 5)], {}, "not valid on floats"),
    ([(O.ROUND_F, 0, 0, 0, 2)], {"consts_f": [10.0]}, "immediate outside 0..1"),
    ([(O.SEG_SET, 0, -1, 2)], {"segments": [{"name": "g", "labels": ["a", "b"]}]}, "has 2 labels"),
    ([(O.SEG_SET, 1, -1, 0)], {"segments": [{"name": "g", "labels": ["a"]}]}, r"\(seg\) = 1"),
    ([(O.STORE_SCORE, 0, 0, 3)], {}, "immediate outside 0..2"),
    ([(O.CONST_B, 0, 3)], {}, "immediate outside 0..2"),
    ([(O.LOOKUP_F, 0, 0, 0)], {"lookups": [{"column": 0, "result": "B"}]}, "needs 'F'"),
    ([(O.NOT, 0, 0, 5)], {}, "unused operand must be 0"),
    ([(O.DECAY, 1, 0, 1, 2)], {}, "destination register must differ from the operands"),
])
def test_check_program_errors(insns, kw_, msg):
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import ProgramError
    from leadscore_fast.vm.check import check_program

    prog = FakeProgram(insns, ["x"], **kw_)
    with pytest.raises(ProgramError, match=msg):
        check_program(prog)


def test_check_program_code_length():
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import ProgramError
    from leadscore_fast.vm.check import check_program

    prog = FakeProgram([(O.NOP,)], ["x"])
    prog.code = prog.code[:-8]
    with pytest.raises(ProgramError, match="not a multiple of 48"):
        check_program(prog)


def test_every_opcode_is_in_the_vm():
    from leadscore_fast.vm.check import VM_OPCODES

    assert {name for name, _ in O.OPCODES.values()} == set(VM_OPCODES)


def test_schema_errors():
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import SchemaError

    d = {"visits": pa.array([1, 2]), "revenue": floats([1.0, 2.0])}
    with pytest.raises(SchemaError, match="unknown column 'revenu'.*did you mean 'revenue'"):
        run([(O.LOAD_F, 0, 0)], d, score_kw={"keep": ["revenu"]})
    with pytest.raises(SchemaError, match="unknown column 'visit'.*'visits'"):
        run([(O.LOAD_F, 0, 0)], d, columns=["visit"])
    with pytest.raises(SchemaError, match="cannot be read by LOOKUP_F"):
        run([(O.LOOKUP_F, 0, 0, 0)], d, lookups=[{"column": 0, "result": "F"}], tables=[{None: 0.0}])
    with pytest.raises(SchemaError, match="cannot be read by LOAD_DAYS"):
        run([(O.LOAD_DAYS, 0, 0)], d)


def test_bad_input_is_a_data_error():
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import DataError
    from leadscore_fast.scoring import score

    with pytest.raises(DataError, match="cannot read a list"):
        score(FakeProgram([(O.NOP,)], []), [1, 2, 3])


# -- segment matrices and fused queries (ARCHITECTURE §6) -------------------------------------
from vm_harness import query, run_queries  # noqa: E402


def _kw_run(kw, **extra):
    return dict(kw, **extra)


@pytest.mark.parametrize("materialize", [True, False])
def test_seg_matrix(kw, materialize):
    # a: label 0 where x > 0, label 1 where x <= 0, NULL where x NULL; b: 3 labels from y
    x = floats([1.0, -1.0, None, 2.0, -3.0, 5.0, None])
    y = floats([0.0, 1.0, 2.0, None, 2.0, 1.0, 0.0])
    prog = [(O.LOAD_F, 0, 0), (O.CMP_FK, 0, 0, 0, 4), (O.SEG_SET, 0, 0, 0),
            (O.CMP_FK, 0, 0, 0, 3), (O.SEG_SET, 0, 0, 1),
            (O.LOAD_F, 1, 1), (O.CMP_FK, 1, 1, 0, 0), (O.SEG_SET, 1, 1, 0),
            (O.CMP_FK, 1, 1, 1, 0), (O.SEG_SET, 1, 1, 1), (O.CMP_FK, 1, 1, 2, 0), (O.SEG_SET, 1, 1, 2),
            (O.SEG_MATRIX, 2, 0, 1, 3),
            # read the matrix codes back: count code 4 (= n-b), mask code 0 (= p-a)
            (O.LOAD_SEG, 0, 2), (O.CMP_IK, 2, 0, 0, 0), (O.COUNT_IF, 0, 2),
            (O.CMP_IK, 3, 0, 1, 0), (O.STORE_MASK, 0, 3)]
    segs = [{"name": "a", "labels": ["p", "n"]}, {"name": "b", "labels": ["a", "b", "c"]},
            {"name": "ab", "labels": ["p-a", "p-b", "p-c", "n-a", "n-b", "n-c"]}]
    res = run_queries(prog, {"x": x, "y": y}, consts_f=[0.0, 1.0, 2.0], consts_i=[4, 0],
                      segments=segs, queries=[query("count", "c"), query("mask", "m")],
                      run_kw=_kw_run(kw, materialize=materialize))
    assert res.counts == {"c": 1}
    assert res.masks["m"].tolist() == [T, F, F, F, F, F, F]
    if materialize:
        assert res.segments["ab"][0].tolist() == [0, 4, -1, -1, 5, 1, -1]
        assert res.segments["ab"][1] == segs[2]["labels"]
        out = run(prog, {"x": x, "y": y}, out="raw", consts_f=[0.0, 1.0, 2.0], consts_i=[4, 0],
                  segments=segs, scores=[], queries=[query("count", "c"), query("mask", "m")],
                  score_kw=kw)
        assert out.column("ab").to_pylist() == ["p-a", "n-b", N, N, "n-c", "p-b", N]
    else:
        assert res.segments == {} and res.scores == {}


def _bool_reg_prog():
    # B0 = x > 0 (NULL where x is NULL)
    return [(O.LOAD_F, 0, 0), (O.CMP_FK, 0, 0, 0, 4)]


BVALS = [1.0, -1.0, None, 2.0, 3.0, None, -4.0, 5.0, 0.0, 7.0]


@pytest.mark.parametrize("materialize", [True, False])
def test_count_if_and_store_mask(kw, materialize):
    prog = _bool_reg_prog() + [(O.COUNT_IF, 1, 0), (O.NOT, 1, 0), (O.COUNT_IF, 0, 1),
                               (O.STORE_MASK, 1, 0), (O.STORE_MASK, 0, 1)]
    qs = [query("count", "neg", slot=0), query("count", "pos", slot=1),
          query("mask", "mneg", index=0), query("mask", "mpos", index=1)]
    res = run_queries(prog, {"x": floats(BVALS)}, consts_f=[0.0], queries=qs,
                      run_kw=_kw_run(kw, materialize=materialize))
    pos = [v is not None and v > 0 for v in BVALS]
    neg = [v is not None and v <= 0 for v in BVALS]  # NULL is neither
    assert res.counts == {"pos": sum(pos), "neg": sum(neg)}
    assert res.masks["mpos"].dtype == np.bool_
    assert res.masks["mpos"].tolist() == pos and res.masks["mneg"].tolist() == neg
    assert res.n_rows == len(BVALS)


@pytest.mark.parametrize("edges", [[0.0, 10.0, 20.0, 40.0], [5.0], [], [1.0, 1.0, 3.0],
                                   list(np.arange(-2.0, 60.0, 2.5))])  # > 16 edges: binary search
def test_hist(kw, edges):
    vals = [-1.0, 0.0, 9.99, 10.0, 20.0, 39.0, 40.0, 1e9, None, NAN, float("inf"),
            float("-inf"), 1.0, 3.0, 25.0]
    prog = [(O.LOAD_F, 0, 0), (O.HIST, 2, 0, 1, len(edges))]
    res = run_queries(prog, {"x": floats(vals)}, consts_f=[99.0] + edges,
                      queries=[query("hist", "h", slot=2, edges=edges)], run_kw=kw)
    want = np.zeros(len(edges) + 2, np.int64)
    for v in vals:
        if v is None or v != v:
            want[0] += 1
        else:
            want[1 + sum(e <= v for e in edges)] += 1
    assert res.hists["h"].tolist() == want.tolist()
    assert res.hists["h"].dtype == np.int64


def _topk_ref(vals, groups, k, n_groups):
    out = [[] for _ in range(n_groups)]
    for r, (v, g) in enumerate(zip(vals, groups)):
        if v is None or v != v or g is None:
            continue
        out[g].append((-v, r))
    return [[r for _, r in sorted(o)[:k]] for o in out]


def _topk_prog(per):
    prog = [(O.LOAD_F, 0, 0)]
    if per:
        prog += [(O.LOAD_I, 0, 1), (O.TOPK, 0, 0, 0)]
    else:
        prog += [(O.TOPK, 0, 0, -1)]
    return prog


@pytest.mark.parametrize("k", [0, 1, 2, 3, 50])
def test_topk_one_group_ties_nulls(kw, k):
    vals = [3.0, 5.0, None, 5.0, 1.0, NAN, 5.0, 3.0, float("-inf"), 7.0, 3.0, -2.0]
    res = run_queries(_topk_prog(False), {"x": floats(vals)},
                      queries=[query("topk", "t", k=k)], run_kw=kw)
    got = res.topk["t"]
    assert len(got) == 1 and got[0].dtype == np.int64
    assert got[0].tolist() == _topk_ref(vals, [0] * len(vals), k, 1)[0]
    if k == 3:
        assert got[0].tolist() == [9, 1, 3]  # equal values: the earlier row wins
        assert res.topk_values["t"][0].tolist() == [7.0, 5.0, 5.0]
    if k == 50:  # k larger than the rows: every non-NULL row, -inf included, best first
        assert len(got[0]) == 10 and got[0][-1] == 8


@pytest.mark.parametrize("k", [1, 2, 4, 100])
def test_topk_groups(kw, k):
    rng = np.random.default_rng(7)
    n = 40
    vals = [None if rng.random() < 0.1 else float(rng.integers(0, 6)) for _ in range(n)]  # ties
    groups = [None if rng.random() < 0.1 else int(rng.integers(0, 4)) for _ in range(n)]
    groups[5] = 9  # out of range group code: skipped like NULL
    data = {"x": floats(vals), "g": pa.array(groups, pa.int64())}
    res = run_queries(_topk_prog(True), data,
                      queries=[query("topk", "t", k=k, per=0, groups=4)],
                      segments=[{"name": "s", "labels": list("abcd")}], run_kw=kw)
    want = _topk_ref(vals, [None if g == 9 else g for g in groups], k, 4)
    assert [g.tolist() for g in res.topk["t"]] == want


def test_topk_several_queries_and_batches():
    """Two top-k queries (1 group, 3 groups), multi-batch input: global row numbers, heaps
    carried over batches, blocks merged; same answer for every chunking and thread count."""
    rng = np.random.default_rng(3)
    n = 5000
    vals = rng.integers(0, 200, n).astype(float)  # many ties
    vals[rng.random(n) < 0.05] = np.nan
    groups = rng.integers(0, 3, n)
    gmask = rng.random(n) < 0.05
    t = pa.table({"x": pa.array(vals), "g": pa.array(groups, mask=gmask)})
    t = pa.concat_tables([t.slice(0, 1234), t.slice(1234, 3000), t.slice(4234)])
    assert t.column("x").num_chunks == 3
    prog = [(O.LOAD_F, 0, 0), (O.LOAD_I, 0, 1), (O.TOPK, 1, 0, 0), (O.TOPK, 0, 0, -1)]
    qs = [query("topk", "all", index=0, k=7), query("topk", "per", index=1, k=25, per=0, groups=3)]
    gl = [None if m else int(g) for g, m in zip(groups, gmask)]
    want_all = _topk_ref(list(vals), [0] * n, 7, 1)
    want_per = _topk_ref(list(vals), gl, 25, 3)
    for chunk, threads in [(4096, 1), (3, 2), (100, 2), (7, 1)]:
        for data in (t, pa.RecordBatchReader.from_batches(t.schema, t.to_batches())):
            res = run_queries(prog, data, queries=qs, segments=[{"name": "s", "labels": list("abc")}],
                              run_kw={"chunk_rows": chunk, "threads": threads})
            assert [g.tolist() for g in res.topk["all"]] == want_all
            assert [g.tolist() for g in res.topk["per"]] == want_per
            assert res.n_rows == n


def test_queries_multi_batch_concat(kw):
    """Masks concatenate, counts and hists sum over batches."""
    vals = BVALS * 7
    t = pa.table({"x": floats(vals)})
    t = pa.concat_tables([t.slice(0, 13), t.slice(13, 20), t.slice(33)])
    prog = _bool_reg_prog() + [(O.COUNT_IF, 0, 0), (O.STORE_MASK, 0, 0), (O.HIST, 1, 0, 0, 1)]
    qs = [query("count", "c", slot=0), query("mask", "m"), query("hist", "h", slot=1, edges=[0.0])]
    for mat in (True, False):
        res = run_queries(prog, t, consts_f=[0.0], queries=qs, run_kw=_kw_run(kw, materialize=mat))
        pos = [v is not None and v > 0 for v in vals]
        assert res.counts["c"] == sum(pos)
        assert res.masks["m"].tolist() == pos
        assert res.hists["h"].tolist() == [14, 14, 42]


def test_materialize_false_reads_scores_and_segments_back(kw):
    """LOAD_SCORE/LOAD_SEG/SEG_SET on chunk scratch: same answers as materialised."""
    x = floats([1.0, None, 3.0, 4.0, -2.0, 8.0, 0.5])
    prog = [(O.LOAD_F, 0, 0), (O.STORE_SCORE, 0, 0, 1),
            (O.LOAD_SCORE, 1, 0), (O.ARITH_FK, 1, 1, 0, 2),  # s2 = s * 10
            (O.CMP_FK, 0, 1, 1, 4), (O.SEG_SET, 0, 0, 1), (O.SEG_SET, 0, -1, 0),
            (O.LOAD_SEG, 0, 0), (O.CMP_IK, 1, 0, 0, 0), (O.COUNT_IF, 0, 1), (O.STORE_MASK, 0, 1),
            (O.LOAD_SCORE, 2, 0), (O.TOPK, 0, 2, 0), (O.HIST, 1, 2, 2, 1)]
    qs = [query("count", "hi"), query("mask", "m"), query("topk", "t", k=2, per=0, groups=2),
          query("hist", "h", slot=1, edges=[2.0])]
    kwp = dict(consts_f=[10.0, 25.0, 2.0], consts_i=[1], scores=["s"], queries=qs,
               segments=[{"name": "g", "labels": ["lo", "hi"]}])
    a = run_queries(prog, {"x": x}, run_kw=_kw_run(kw, materialize=True), **kwp)
    b = run_queries(prog, {"x": x}, run_kw=_kw_run(kw, materialize=False), **kwp)
    assert a.scores["s"].tolist() == [1.0, 0.0, 3.0, 4.0, -2.0, 8.0, 0.5]
    assert a.segments["g"][0].tolist() == [0, 0, 1, 1, 0, 1, 0]
    for r in (a, b):
        assert r.counts == {"hi": 3}
        assert r.masks["m"].tolist() == [F, F, T, T, F, T, F]
        assert [g.tolist() for g in r.topk["t"]] == [[0, 6], [5, 3]]
        assert r.hists["h"].tolist() == [0, 4, 3]


def test_no_queries_and_empty_input():
    prog = [(O.LOAD_F, 0, 0), (O.STORE_SCORE, 0, 0, 0)]
    res = run_queries(prog, {"x": floats([1.0, 2.0])}, scores=["s"])
    assert res.scores["s"].tolist() == [1.0, 2.0] and res.n_rows == 2
    assert (res.counts, res.hists, res.masks, res.topk) == ({}, {}, {}, {})
    qs = [query("count", "c"), query("mask", "m"), query("topk", "t", k=3), query("hist", "h", slot=1, edges=[1.0])]
    prog = _bool_reg_prog() + [(O.COUNT_IF, 0, 0), (O.STORE_MASK, 0, 0), (O.TOPK, 0, 0, -1),
                               (O.HIST, 1, 0, 0, 1)]
    for data in (pa.table({"x": floats([])}),
                 pa.RecordBatchReader.from_batches(pa.schema([("x", pa.float64())]), [])):
        res = run_queries(prog, data, consts_f=[1.0], queries=qs)
        assert res.n_rows == 0 and res.counts == {"c": 0}
        assert res.masks["m"].tolist() == [] and res.hists["h"].tolist() == [0, 0, 0]
        assert [g.tolist() for g in res.topk["t"]] == [[]]


def test_score_ignores_query_outputs(kw):
    prog = _bool_reg_prog() + [(O.COUNT_IF, 0, 0), (O.LOAD_F, 1, 0), (O.STORE_SCORE, 0, 1, 0)]
    got = run(prog, {"x": floats(BVALS)}, out="raw", consts_f=[0.0], queries=[query("count", "c")],
              score_kw=kw)
    assert got.column("s").to_pylist() == BVALS


@pytest.mark.parametrize("insns, kw_, msg", [
    ([(O.COUNT_IF, 1, 0)], {"queries": [query("count")]}, r"\(slot\) = 1: no count query"),
    ([(O.COUNT_IF, 0, 0)], {"queries": [query("hist", edges=[1.0])]}, "no count query"),
    ([(O.COUNT_IF, 0, 0)], {}, "no count query has accumulator slot 0"),
    ([(O.STORE_MASK, 1, 0)], {"queries": [query("mask")]}, r"\(mask\) = 1: index out of range"),
    ([(O.TOPK, 0, 0, -1)], {}, r"\(topk\) = 0: index out of range"),
    ([(O.TOPK, 0, 0, 0)], {"queries": [query("topk", k=3)]}, "no 'per' segmentation but a group"),
    ([(O.TOPK, 0, 0, -1)], {"queries": [query("topk", k=3, per=0, groups=2)],
                            "segments": [{"name": "g", "labels": ["a", "b"]}]}, "has no group register"),
    ([(O.NOP,)], {"queries": [query("topk", k=3, per=0, groups=3)],
                  "segments": [{"name": "g", "labels": ["a", "b"]}]}, "does not match"),
    ([(O.NOP,)], {"queries": [query("topk", k=-1)]}, "does not match"),
    ([(O.HIST, 0, 0, 0, 2)], {"queries": [query("hist", edges=[1.0, 2.0])], "consts_f": [1.0]},
     "outside consts_f"),
    ([(O.HIST, 0, 0, 0, 1)], {"queries": [query("hist", edges=[1.0, 2.0])], "consts_f": [1.0, 2.0]},
     "1 edges, but query 'q' has 4 slots"),
    ([(O.HIST, 0, 0, 0, 2)], {"queries": [query("hist", edges=[2.0, 1.0])], "consts_f": [2.0, 1.0]},
     "ascending"),
    ([(O.NOP,)], {"queries": [query("count", "a"), query("hist", "b", edges=[1.0])]},
     "slot 0 is also used by 'a'"),
    ([(O.NOP,)], {"queries": [query("mask", index=1)]}, r"mask query indices must be 0..0"),
    ([(O.NOP,)], {"queries": [query("sum")]}, "unknown kind 'sum'"),
    ([(O.SEG_MATRIX, 2, 0, 1, 2)], {"segments": [{"name": "a", "labels": ["x", "y"]},
                                                  {"name": "b", "labels": ["p", "q", "r"]},
                                                  {"name": "ab", "labels": list("123456")}]},
     "not the matrix of 0"),
    ([(O.SEG_MATRIX, 2, 0, 1, 3)], {"segments": [{"name": "a", "labels": ["x", "y"]},
                                                  {"name": "b", "labels": ["p", "q", "r"]},
                                                  {"name": "ab", "labels": list("12345")}]},
     "not the matrix of 0"),
])
def test_check_program_query_errors(insns, kw_, msg):
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import ProgramError
    from leadscore_fast.vm.check import check_program

    prog = FakeProgram(insns, ["x"], **kw_)
    with pytest.raises(ProgramError, match=msg):
        check_program(prog)


def test_check_program_accepts_queries():
    from leadscore_fast.vm.check import check_program

    segs = [{"name": "a", "labels": ["x", "y"]}, {"name": "b", "labels": ["p", "q", "r"]},
            {"name": "ab", "labels": list("123456")}]
    qs = [query("count", "c", slot=3), query("hist", "h", slot=0, edges=[]),
          query("topk", "t", index=0, k=0, per=1, groups=3), query("mask", "m")]
    prog = FakeProgram([(O.SEG_MATRIX, 2, 0, 1, 3), (O.COUNT_IF, 3, 0), (O.HIST, 0, 0, 0, 0),
                        (O.TOPK, 0, 0, 0), (O.STORE_MASK, 0, 0)], ["x"], segments=segs,
                       queries=qs)
    check_program(prog)


def test_is_null_col_null_inside_a_dictionary(kw):
    d = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None, 1, 0], pa.int8()),
                                       pa.array(["a", None, "b"]))
    assert run([(O.IS_NULL_COL, 0, 0)], {"w": d}, out="b", score_kw=kw) == [F, T, F, T, T, F]
    assert run([(O.IS_NULL_COL, 0, 0)], {"w": d.slice(1)}, out="b", score_kw=kw) == [T, F, T, T, F]


# -- kernel variants (vm/kernel.py CORE_OPCODES) -------------------------------------------------
def test_core_variant_covers_core_opcodes_only():
    from leadscore_fast.vm import kernel

    code = np.array([insn(O.LOAD_F, 0, 0), insn(O.STORE_SCORE, 0, 0, 0)], np.int64)
    assert not kernel.needs_full(code)
    for name, _ in O.OPCODES.values():
        op = getattr(O, name)
        code = np.array([insn(O.LOAD_F, 0, 0), insn(op)], np.int64)
        assert kernel.needs_full(code) == (op not in kernel.CORE_OPCODES), name
    # ... and core column opcodes over the physical types they read (CORE_READS)
    from leadscore_fast.vm import columns as C

    code = np.array([insn(O.LOAD_F, 0, 0), insn(O.LOAD_B, 0, 1), insn(O.LOOKUP_B, 1, 2, 0)],
                    np.int64)
    meta = np.array([[C.PT_F64, 0, 0], [C.PT_BOOL, 0, 0], [C.PT_I32, 0, 0]], np.int64)
    assert not kernel.needs_full(code, meta)
    for col, pt in [(0, C.PT_I8), (0, C.PT_U32), (0, C.PT_BOOL), (1, C.PT_F64), (1, C.PT_I32),
                    (2, C.PT_I8), (2, C.PT_I64)]:
        other = meta.copy()
        other[col, 0] = pt
        assert kernel.needs_full(code, other), (col, pt)
    # the reference model, the cold-start benchmark's program, is core-only
    pytest.importorskip("leadscore_fast._engine")
    import leadscore_fast as lf
    from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

    leads = generate_leads(10)
    prog = lf.compile(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), leads.schema)
    code = np.frombuffer(prog.code, "<i8").reshape(-1, INSN_WIDTH)
    meta = np.array([[C.bind_array(leads.column(c["name"]).chunk(0), None).ptype, 0, 0]
                     for c in prog.columns], np.int64)
    assert not kernel.needs_full(code, meta)


def test_core_and_full_variants_agree_on_the_reference_model():
    pytest.importorskip("leadscore_fast._engine")
    import leadscore_fast as lf
    from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads
    from leadscore_fast.vm import kernel

    leads = generate_leads(30_000, seed=3)
    model = lf.Model.from_yaml_string(REFERENCE_MODEL_YAML)
    core = lf.score(model, leads, chunk_rows=1000, threads=2)
    orig = kernel.needs_full
    try:
        kernel.needs_full = lambda *a: True
        full = lf.score(model, leads, chunk_rows=1000, threads=2)
    finally:
        kernel.needs_full = orig
    assert core.equals(full)


# -- completeness: keep this test last in the module -----------------------------------------
def test_every_opcode_runs_on_every_executor(request):
    """Every opcode of the table (engine/src/opcodes.rs) ran, in this module's tests, on every
    executor that implements it: the interpreter, the fused kernels (all but their
    UNFUSED_OPCODES) and the native executor."""
    cfg = request.config
    if cfg.getoption("keyword") or cfg.getoption("markexpr") \
            or any("::" in str(a) for a in cfg.args):
        pytest.skip("only meaningful when the whole module ran")
    from leadscore_fast.vm import executor, fused
    from leadscore_fast.vm.check import VM_OPCODES

    every = {code: name for code, (name, _) in O.OPCODES.items()}
    claims = {
        "interpreted": {c for c, name in every.items() if name in VM_OPCODES},
        "fused": set(every) - set(fused.UNFUSED_OPCODES),
        "native": {c for c in every if executor.native_unsupported(
            np.array([insn(c)], np.int64)) is None},
    }
    missing = [f"{every[c]} never ran on the {ex} executor: add a test that runs it (with the "
               f"`kw` fixture, through vm_harness.run or run_queries) to tests/test_vm_opcodes.py"
               for ex, ops in claims.items() for c in sorted(ops - _RAN.get(ex, set()))]
    assert not missing, "\n".join(missing)
