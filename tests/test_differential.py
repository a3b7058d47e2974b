"""VM vs the plain-Python reference: property tests over generated models/data, and
hand-picked regressions for the tricky semantics (each also checks the reference itself
against a value worked out by hand).

Floats must match exactly, except in models using decay/exp/ln (libm pow/exp/log may round
differently in the last bit between implementations): there 1e-9 relative (or absolute).
Every model runs on the numba interpreter and on the native executor, which must agree bit for
bit (and the fused kernels in tests/test_vm_fused.py).
"""
from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast import errors  # noqa: E402
from reference import (mismatches, needs_tolerance, reference_score, table_results,  # noqa: E402
                       table_rows)
from strategies import cases, examples  # noqa: E402
from vm_harness import assert_same_tables  # noqa: E402

UTC = dt.timezone.utc
AS_OF = dt.datetime(2026, 11, 1, tzinfo=UTC)


def output_names(model: dict) -> list[str]:
    return [*model["scores"], *(model.get("segments") or {})]


def vm(model, table, **kw) -> dict:
    """The interpreter's results, after checking that the native executor's are the same bits
    (a reader is consumed by one run: those run on the interpreter only)."""
    if isinstance(table, pa.RecordBatchReader) or "executor" in kw:
        return table_results(lf.score(model, table, **kw), output_names(model))
    got = lf.score(model, table, executor="interpreter", **kw)
    assert_same_tables(lf.score(model, table, executor="native", **kw), got)
    return table_results(got, output_names(model))


def ref(model, table, as_of=None) -> dict:
    return reference_score(model, table_rows(table), as_of)


def check_case(case, **score_kw):
    want = ref(case.model, case.table, case.as_of)
    got = vm(case.model, case.table, as_of=case.as_of, chunk_rows=case.chunk_rows, **score_kw)
    bad = mismatches(got, want, needs_tolerance(case.model))
    assert not bad, "VM differs from the reference:\n" + "\n".join(bad)


# ---- properties ---------------------------------------------------------------------------

@given(cases())
def test_vm_matches_reference(case):
    check_case(case)


@given(cases(max_rows=20, depth=4, max_scores=3, max_rules=3))
def test_vm_matches_reference_deep_expressions(case):
    check_case(case)


@given(cases(max_rows=30, depth=2, max_scores=5, max_rules=6, max_segments=3))
def test_vm_matches_reference_many_rules_and_segments(case):
    check_case(case)


@examples(0.5)
@given(cases(), st.sampled_from([1, 3, 5, 64]))
def test_chunking_and_threads_do_not_change_results(case, chunk_rows):
    """Bit-identical results whatever the chunk size and thread count."""
    base = vm(case.model, case.table, as_of=case.as_of)
    other = vm(case.model, case.table, as_of=case.as_of, chunk_rows=chunk_rows, threads=2)
    assert not mismatches(other, base)
    reader = case.table.to_reader(max_chunksize=max(1, chunk_rows // 2))
    assert not mismatches(vm(case.model, reader, as_of=case.as_of), base)


# ---- hand-picked regressions ----------------------------------------------------------------

def expr_model(expr: str, boolean: bool) -> dict:
    """A model exposing the value of ``expr`` per row: a score plus a NULL/TRUE/FALSE label."""
    if boolean:
        seg = [{"name": "T", "when": expr}, {"name": "F", "when": f"NOT ({expr})"}, {"name": "N"}]
        return {"name": "t", "as_of": "2026-11-01T00:00:00Z",
                "scores": {"s": {"rules": [{"name": "r", "points": 0}]}}, "segments": {"v": seg}}
    return {"name": "t", "as_of": "2026-11-01T00:00:00Z",
            "scores": {"s": {"rules": [{"name": "r", "points": expr}]}},
            "segments": {"v": [{"name": "N", "when": f"({expr}) IS NULL"}, {"name": "V"}]}}


def decode(res: dict, boolean: bool) -> list:
    if boolean:
        return [{"T": True, "F": False, "N": None}[v] for v in res["v"]]
    return [None if lab == "N" else s for s, lab in zip(res["s"], res["v"])]


def values(expr: str, table: pa.Table, boolean: bool = False, engine=vm) -> list:
    return decode(engine(expr_model(expr, boolean), table), boolean)


def assert_values(expr, table, expected, boolean=False):
    assert values(expr, table, boolean, engine=ref) == expected, "reference is wrong"
    assert values(expr, table, boolean) == expected, f"VM: {expr}"


ONE = pa.table({"x": pa.array([1], pa.int64())})
NAN = float("nan")
BIG = 2**53 + 1  # not representable as float64


NUM_CASES = [
    ("-7 % 3", -1.0), ("7 % -3", 1.0), ("-7.5 % 2", -1.5), ("7.5 % -2", 1.5), ("7 % 0", None),
    ("7.0 % 0.0", None), ("1 / 0", None), ("1.5 / 0.0", None), ("1 / -0.0", None),
    ("7 / 2", 3.5), ("1 + 2 * 3", 7.0), ("7 - 2 - 1", 4.0), ("8 / 2 / 2", 2.0), ("-2 * 3", -6.0),
    ("least(NULL, 3, 1)", 1.0), ("greatest(NULL, 2.5, 1)", 2.5), ("least(NULL, NULL)", None),
    ("coalesce(NULL, NULL, 3)", 3.0), ("CASE WHEN 1 > 2 THEN 1 END", None),
    ("CASE 2 WHEN 1 THEN 10 WHEN 2 THEN 20 ELSE 30 END", 20.0),
    ("CASE NULL WHEN NULL THEN 1 ELSE 2 END", 2.0), ("ln(0)", None), ("ln(-1)", None),
    ("sqrt(-1)", None), ("sqrt(2.25)", 1.5), ("exp(0)", 1.0), ("decay(20, 30, 30)", 10.0),
    ("decay(20, 30, 0)", None), ("decay(20, 60, 30.0)", 5.0), ("abs(-3)", 3.0),
    ("exp(1000) - exp(1000)", None), ("0 * exp(1000)", None),
    ("coalesce(exp(1000) - exp(1000), 7)", 7.0), ("least(exp(1000) - exp(1000), 3)", 3.0),
]
BOOL_CASES = [
    ("1 NOT IN (2, NULL)", None), ("2 NOT IN (2, NULL)", False), ("1 IN (1, NULL)", True),
    ("1 IN (2, NULL)", None), ("10 BETWEEN NULL AND 5", False), ("3 BETWEEN NULL AND 5", None),
    ("10 NOT BETWEEN NULL AND 5", True), ("NOT TRUE AND FALSE", False),
    ("TRUE OR FALSE AND FALSE", True), ("NULL AND FALSE", False), ("NULL OR TRUE", True),
    ("TRUE = NULL", None), ("TRUE <> FALSE", True), ("'axb' LIKE 'a_b'", True),
    ("'ab' LIKE 'a_b'", False), ("'50%' LIKE '5%'", True), ("'Software' LIKE 'soft%'", False),
    ("'Software' ILIKE 'soft%'", True), ("'' LIKE '%'", True), ("'abc' LIKE ''", False),
    ("'a.c' LIKE 'a.c'", True), ("'abc' LIKE 'a.c'", False), ("'abc' NOT LIKE '%b%'", False),
    ("NULL LIKE 'a%'", None), ("starts_with('abc', 'ab')", True), ("contains('abc', 'bd')", False),
    ("lower('AbC') = 'abc'", True), ("upper('abc') = 'ABC'", True), ("'a' < 'b'", True),
    ("'B' < 'a'", True), ("exp(1000) - exp(1000) > 5", None),
    ("(exp(1000) - exp(1000)) IS NULL", True), ("0 * exp(1000) = 0 * exp(1000)", None),
]


@pytest.mark.parametrize("expr, expected", NUM_CASES)
def test_constant_semantics(expr, expected):
    assert_values(expr, ONE, [expected])


@pytest.mark.parametrize("expr, expected", BOOL_CASES)
def test_constant_predicates(expr, expected):
    assert_values(expr, ONE, [expected], boolean=True)


def test_integer_widths_never_wrap():
    t = pa.table({"u": pa.array([3, 255, 0, None], pa.uint8()),
                  "i": pa.array([-128, 127, 0, 1], pa.int8())})
    assert_values("u - 8", t, [-5.0, 247.0, -8.0, None])
    assert_values("u * u", t, [9.0, 65025.0, 0.0, None])
    assert_values("i * -1", t, [128.0, -127.0, 0.0, -1.0])
    assert_values("abs(i)", t, [128.0, 127.0, 0.0, 1.0])
    assert_values("- i", t, [128.0, -127.0, 0.0, -1.0])
    assert_values("i % 3", t, [-2.0, 1.0, 0.0, 1.0])
    assert_values("u % i", t, [3.0, 1.0, None, None])


def test_int64_comparisons_are_exact_beyond_2_53():
    t = pa.table({"x": pa.array([BIG, BIG - 1, -BIG], pa.int64())})
    assert_values(f"x = {BIG - 1}", t, [False, True, False], boolean=True)
    assert_values(f"x > {BIG - 1}", t, [True, False, False], boolean=True)
    assert_values(f"x IN ({BIG}, 5)", t, [True, False, False], boolean=True)
    assert_values(f"x - {BIG - 1} = 1", t, [True, False, False], boolean=True)
    assert_values(f"x BETWEEN {BIG} AND {BIG}", t, [True, False, False], boolean=True)
    assert_values(f"x - {BIG - 1}", t, [1.0, 0.0, float(-2 * BIG + 1)])


def test_nan_input_is_null():
    t = pa.table({"f": pa.array([NAN, 1.5, None], pa.float64()),
                  "g": pa.array([NAN, 2.0, 1.0], pa.float32())})
    assert_values("f IS NULL", t, [True, False, True], boolean=True)
    assert_values("coalesce(f, g, 7)", t, [7.0, 1.5, 1.0])
    assert_values("f + g", t, [None, 3.5, None])
    assert_values("f = f", t, [None, True, None], boolean=True)


INF_TABLE = pa.table({"f": pa.array([float("inf"), -float("inf"), 1.0])})
INF_CASES = [  # infinity is a value; the NaN it can produce is NULL
    ("f - f", [None, None, 0.0], False), ("f * 0", [None, None, 0.0], False),
    ("coalesce(f - f, 2)", [2.0, 2.0, 0.0], False), ("f > 1e300", [True, False, False], True),
    ("(f + f) IS NULL", [False, False, False], True), ("f - f > 0", [None, None, False], True),
]


@pytest.mark.parametrize("expr, expected, boolean", INF_CASES)
def test_infinite_inputs(expr, expected, boolean):
    assert_values(expr, INF_TABLE, expected, boolean)


def test_float32_is_widened_exactly():
    t = pa.table({"g": pa.array([0.1], pa.float32())})
    assert_values("g = 0.1", t, [False], boolean=True)
    assert_values("g", t, [float(pa.array([0.1], pa.float32())[0].as_py())])


def test_strings_nulls_and_dictionaries():
    d = pa.array(["axb", None, "Software", "50%"]).dictionary_encode()
    t = pa.table({"Lead Source": d, "plain": pa.array(["a", "b", None, "Ab"])})
    assert_values('"Lead Source" LIKE \'a_b\'', t, [True, None, False, False], boolean=True)
    assert_values('"Lead Source" ILIKE \'soft%\'', t, [False, None, True, False], boolean=True)
    assert_values("plain NOT IN ('a', NULL)", t, [False, None, None, None], boolean=True)
    assert_values("CASE plain WHEN 'a' THEN 1 WHEN 'Ab' THEN 2.5 END", t, [1.0, None, None, 2.5])
    assert_values("coalesce(upper(plain), 'Z') = 'Z'", t, [False, False, True, False], boolean=True)


UNICODE_CASES = [
    ("'é' LIKE '_'", True), ("'naïve' LIKE 'na_ve'", True), ("'ÉCOLE' ILIKE 'école'", True),
    ("lower('ÉCOLE') = 'école'", True), ("upper('école') = 'ÉCOLE'", True),
    ("starts_with('über', 'ü')", True), ("'é' > 'z'", True),
]


@pytest.mark.parametrize("expr, expected", UNICODE_CASES)
def test_unicode_strings(expr, expected):
    assert_values(expr, ONE, [expected], boolean=True)


def test_unicode_dictionary_column():
    t = pa.table({"w": pa.array(["ÉCOLE", "naïve"]).dictionary_encode()})
    assert_values("w ILIKE 'école' OR w LIKE 'na_ve'", t, [True, True], boolean=True)


def test_null_inside_a_dictionary():
    d = pa.DictionaryArray.from_arrays(pa.array([0, 1, 2, None], pa.int8()),
                                       pa.array(["a", None, "b"]))
    t = pa.table({"w": d})
    assert_values("w IS NULL", t, [False, True, False, True], boolean=True)
    assert_values("coalesce(w, 'z') IN ('a', 'z')", t, [True, True, False, True], boolean=True)


def test_unsigned_and_wide_integer_types():
    t = pa.table({"a": pa.array([5, 2**32 - 1], pa.uint32()), "b": pa.array([7, 0], pa.uint64()),
                  "c": pa.array([65535, 1], pa.uint16())})
    assert_values("a * c - b", t, [327668.0, float(2**32 - 1)])
    assert_values("a > 4294967294", t, [False, True], boolean=True)


def test_other_column_types_only_support_is_null():
    t = pa.table({"b": pa.array([b"x", None], pa.binary()), "n": pa.array([None, None], pa.null()),
                  "st": pa.array([{"a": 1}, None])})
    assert_values("b IS NULL", t, [False, True], boolean=True)
    assert_values("n IS NOT NULL", t, [False, False], boolean=True)
    assert_values("st IS NULL", t, [False, True], boolean=True)
    with pytest.raises(errors.LeadscoreError):
        lf.compile(expr_model("b = 'x'", True), t.schema)


def test_has_any():
    t = pa.table({"tech": pa.array([["aws", None], None, [], ["gcp"], [None]],
                                   pa.list_(pa.string()))})
    assert_values("has_any(tech, 'aws', 'azure')", t, [True, None, False, False, False],
                  boolean=True)


def test_days_since_date_and_timestamps():
    berlin = pa.array([int(dt.datetime(2026, 10, 31, 11, tzinfo=UTC).timestamp() * 1e6), None],
                      pa.timestamp("us", tz="Europe/Berlin"))
    naive = pa.array([int(dt.datetime(2026, 10, 31, 12, tzinfo=UTC).timestamp()) * 10**9, None],
                     pa.timestamp("ns"))
    old = pa.array([int(dt.datetime(1969, 12, 31, 18, tzinfo=UTC).timestamp() * 1000), None],
                   pa.timestamp("ms"))
    t = pa.table({"d": pa.array([dt.date(2026, 10, 31), dt.date(2026, 11, 3)]),
                  "tb": berlin, "tn": naive, "old": old,
                  "d64": pa.array([dt.date(1960, 1, 1), None], pa.date64())})
    assert_values("days_since(d)", t, [1.0, -2.0])
    assert_values("days_since(old)", t, [20758.25, None])
    assert_values("days_since(d64)", t, [24411.0, None])
    assert_values("days_since(tb)", t, [13 / 24, None])
    assert_values("days_since(tn)", t, [0.5, None])
    assert_values("decay(8, days_since(d), 1)", t, [4.0, 32.0])


def test_days_since_nanoseconds_is_correctly_rounded():
    """ns timestamps with whole microseconds: the exact µs difference, divided once (as DuckDB's
    epoch_us does). A ns difference above 2^53 rounds when made float: one more rounding."""
    ts = dt.datetime(2023, 11, 18, 0, 12, 23, 457577, tzinfo=UTC)
    us = (AS_OF - ts) // dt.timedelta(microseconds=1)
    ns = (ts - dt.datetime(1970, 1, 1, tzinfo=UTC)) // dt.timedelta(microseconds=1) * 1000
    t = pa.table({"t": pa.array([ns], pa.timestamp("ns"))})
    assert_values("days_since(t)", t, [us / 86_400_000_000])  # 1078.9913951669328


def run_both(model, table):
    want = ref(model, table)
    got = vm(model, table)
    assert not mismatches(got, want), mismatches(got, want)
    return want


def test_rule_semantics_null_when_null_points_cap_floor_range():
    t = pa.table({"x": pa.array([None, 2, 50, -40], pa.int64())})
    model = {"name": "t", "as_of": "2026-11-01T00:00:00Z", "scores": {
        "a": {"rules": [{"name": "nullwhen", "when": "x > 1", "points": 10},
                        {"name": "nullpoints", "points": "x", "floor": 5, "cap": 30}]},
        "b": {"range": [0, 100], "rules": [{"name": "big", "points": "x * 3"},
                                           {"name": "more", "when": "x > 10", "points": 60}]},
        "c": {"expr": "CASE WHEN a > 20 THEN a END"}}}
    want = run_both(model, t)
    assert want == {"a": [0.0, 15.0, 40.0, 5.0], "b": [0.0, 6.0, 100.0, 0.0],
                    "c": [0.0, 0.0, 40.0, 0.0]}


def test_score_sum_is_left_to_right():
    model = {"name": "t", "as_of": "2026-11-01T00:00:00Z", "scores": {
        "a": {"rules": [{"name": "p", "points": 1e16}, {"name": "q", "points": 1},
                        {"name": "r", "points": -1e16}]},
        "b": {"rules": [{"name": "p", "points": 0.1}, {"name": "q", "points": 0.2},
                        {"name": "r", "points": 0.3}]}}}
    assert run_both(model, ONE) == {"a": [0.0], "b": [0.1 + 0.2 + 0.3]}


def test_cap_floor_range_keep_full_float_precision():
    v = -18.400000000000006  # not the shortest 15-digit decimal: needs exact JSON parsing
    model = {"name": "t", "scores": {
        "a": {"rules": [{"name": "r", "points": "x - 100", "cap": v}]},
        "b": {"range": [-83, v], "rules": [{"name": "r", "points": 0}]},
        "c": {"rules": [{"name": "r", "points": "x * -100", "floor": v}]}}}
    assert run_both(model, ONE) == {"a": [-99.0], "b": [v], "c": [v]}


def test_segments_null_conditions_first_match_and_no_default():
    t = pa.table({"x": pa.array([None, 5, 50], pa.int64())})
    model = {"name": "t", "as_of": "2026-11-01T00:00:00Z",
             "scores": {"s": {"rules": [{"name": "r", "points": "coalesce(x, 0)"}]}},
             "segments": {"a": [{"name": "hot", "when": "x > 10"}, {"name": "any", "when": "s >= 0"}],
                          "b": [{"name": "hot", "when": "x > 10"}, {"name": "cold"}],
                          "c": [{"name": "mid", "when": "x BETWEEN 1 AND 10"}],
                          "d": {"bands": {"score": "s", "edges": [5, 20], "labels": ["lo", "mid", "hi"]}}}}
    assert run_both(model, t) == {"s": [0.0, 5.0, 50.0], "a": ["any", "any", "hot"],
                                  "b": ["cold", "cold", "hot"], "c": [None, "mid", None],
                                  "d": ["lo", "mid", "hi"]}


def test_as_of_override():
    t = pa.table({"d": pa.array([dt.date(2026, 10, 31)])})
    model = expr_model("days_since(d)", False)
    later = dt.datetime(2026, 11, 11, tzinfo=UTC)
    want = reference_score(model, table_rows(t), later)["s"]
    assert want == [11.0]
    assert lf.score(model, t, as_of=later).column("s").to_pylist() == want


@pytest.mark.parametrize("expr, error", [
    ("x = 'a'", "TypeCheckError"), ("nope > 1", "SchemaError"), ("later > 1", "TypeCheckError"),
    ("frobnicate(x)", "TypeCheckError"), ("x +", "ExpressionError"),
])
def test_compile_errors(expr, error):
    model = {"name": "t", "scores": {"s": {"rules": [{"name": "r", "when": expr, "points": 1}]},
                                     "later": {"rules": [{"name": "r", "points": 1}]}}}
    with pytest.raises(getattr(errors, error)):
        lf.compile(model, ONE.schema)


def test_error_messages_name_the_place(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("name: t\nscores:\n  s:\n    rules:\n      - name: r\n"
                    "        when: x = 'a'\n        points: 1\n")
    with pytest.raises(errors.TypeCheckError, match=r"m\.yaml:6:\d+"):
        lf.compile(lf.Model.from_yaml(path), ONE.schema)


def test_empty_and_all_null_tables():
    t = pa.table({"x": pa.array([None, None], pa.int64()), "f": pa.array([NAN, None])})
    model = expr_model("coalesce(x, f, 1) + least(x, f)", False)
    run_both(model, t)
    run_both(model, t.slice(0, 0))
