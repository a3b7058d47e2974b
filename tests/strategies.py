"""Hypothesis strategies: random Arrow tables and well-typed random scoring models over them.

The expression generator tracks each numeric subexpression's type (int/float) and a bound on
its magnitude, so integer results stay far from int64 overflow (|x| < 1e15) and floats stay
finite (exp/decay arguments are clamped when their bound is large). String subexpressions
depend on one string column, or (``str_pred2``) on two string columns and maybe a boolean
column choosing between them (the engine's tuple-key lookups).
Text is fully parenthesised; spaces around operators avoid `--` comments.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

import hypothesis.strategies as st
from hypothesis import settings
import pyarrow as pa

UTC = dt.timezone.utc
AS_OFS = ["2026-11-01T00:00:00Z", "2025-02-28T13:45:30Z", "2026-03-29T01:30:00.250000Z"]
INT_BOUND = 10**15
FLOAT_BOUND = 1e150
WORDS = ["software", "Software", "SOFTWARE", "fintech", "retail", "", "a_b", "50%", "x",
         "soft ware", "ab", "abc", "Ab", "b", "health care", "api", "API"]
PAT_CHARS = "abSsoftwrex_% "

# (arrow type, magnitude bound of its values)
INT_TYPES = [(pa.int8(), 128), (pa.int16(), 32768), (pa.int32(), 10**6), (pa.int64(), 10**6),
             (pa.uint8(), 255), (pa.uint16(), 65535), (pa.uint32(), 10**6), (pa.uint64(), 10**6)]
TS_UNITS = ["s", "ms", "us", "ns"]
TZS = [None, "UTC", "Europe/Berlin", "America/New_York"]
T0 = int(dt.datetime(2020, 1, 1, tzinfo=UTC).timestamp())
T1 = int(dt.datetime(2030, 1, 1, tzinfo=UTC).timestamp())
UNIT = st.floats(0, 1)


@lru_cache(maxsize=None)
def _choice(options: tuple):
    return st.sampled_from(options)


@lru_cache(maxsize=None)
def _range(lo: int, hi: int):
    return st.integers(lo, hi)


@dataclass(frozen=True)
class Col:
    name: str
    kind: str  # int float bool string timestamp date list_string
    type: pa.DataType
    bound: float = 0.0


@dataclass(frozen=True)
class Num:
    text: str
    is_int: bool
    bound: float


# ---- schemas and data -----------------------------------------------------------------------

@st.composite
def column_types(draw, i: int) -> Col:
    kind = draw(st.sampled_from(["int", "int", "float", "float", "bool", "string", "string",
                                 "timestamp", "date", "list_string"]))
    if kind == "int":
        t, bound = draw(st.sampled_from(INT_TYPES))
    elif kind == "float":
        t, bound = draw(st.sampled_from([pa.float64(), pa.float32()])), 1e6
    elif kind == "bool":
        t, bound = pa.bool_(), 0
    elif kind == "string":
        t = draw(st.sampled_from([pa.string(), pa.large_string(), pa.string_view(),
                                  pa.dictionary(pa.int8(), pa.string()),
                                  pa.dictionary(pa.int32(), pa.string())]))
        bound = 0
    elif kind == "timestamp":
        t = pa.timestamp(draw(st.sampled_from(TS_UNITS)), tz=draw(st.sampled_from(TZS)))
        bound = 0
    elif kind == "date":
        t, bound = draw(st.sampled_from([pa.date32(), pa.date64()])), 0
    else:
        t = draw(st.sampled_from([pa.list_(pa.string()), pa.large_list(pa.string())]))
        bound = 0
    base = f"c{i}_{kind}"
    name = draw(st.sampled_from([base, base, f"c{i} {kind}"]))  # some names need quoting
    return Col(name, kind, t, bound)


def _ints(t: pa.DataType, bound):
    info = {pa.int8(): (-128, 127), pa.int16(): (-32768, 32767), pa.uint8(): (0, 255),
            pa.uint16(): (0, 65535)}
    lo, hi = info.get(t, (0 if pa.types.is_unsigned_integer(t) else -bound + 1, bound - 1))
    return st.one_of(st.integers(lo, hi), st.sampled_from([lo, hi, 0, 1, -1 if lo < 0 else 2, 8]))


@lru_cache(maxsize=None)
def _value(col: Col):
    """Strategy for one non-null Python value of the column (NaN allowed in floats)."""
    k, t = col.kind, col.type
    if k == "int":
        return _ints(t, int(col.bound))
    if k == "float":
        return st.one_of(st.floats(-1e6, 1e6).map(lambda x: round(x, 3)),
                         st.integers(-1000, 1000).map(lambda i: i / 8),
                         st.sampled_from([0.0, -0.0, 0.5, 1.0, -1.0, 2.0, float("nan")]))
    if k == "bool":
        return st.booleans()
    if k == "string":
        return st.one_of(st.sampled_from(WORDS), st.text(PAT_CHARS, max_size=6))
    if k == "timestamp":
        per_s = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[t.unit]
        us_step = {"s": 10**6, "ms": 1000, "us": 1, "ns": 1}[t.unit]
        # whole microseconds even for ns, so every reader agrees on days_since
        return st.integers(T0 * 10**6, T1 * 10**6).map(
            lambda us: (us // us_step) * us_step * per_s // 10**6)
    if k == "date":
        d = st.dates(dt.date(2015, 1, 1), dt.date(2031, 12, 31))
        if t == pa.date64():
            return d.map(lambda x: (x - dt.date(1970, 1, 1)).days * 86_400_000)
        return d
    return st.lists(st.one_of(st.none(), st.sampled_from(WORDS[:8])), max_size=4)


def _array(col: Col, values: list) -> pa.Array:
    t = col.type
    if pa.types.is_dictionary(t):
        return pa.array(values, pa.string()).dictionary_encode().cast(t)
    if pa.types.is_timestamp(t) or t == pa.date64():
        return pa.array(values, pa.int64()).cast(t)
    if t == pa.float32():
        return pa.array(values, pa.float64()).cast(t, safe=False)
    return pa.array(values, t)


@st.composite
def tables(draw, cols: list[Col], max_rows: int = 50) -> pa.Table:
    n = draw(st.integers(0, max_rows))
    null_rate = draw(st.sampled_from([0.0, 0.0, 0.1, 0.3, 1.0]))
    data = {}
    for c in cols:
        data[c.name] = [None if null_rate and draw(UNIT) < null_rate
                        else draw(_value(c)) for _ in range(n)]
    schema = pa.schema([(c.name, c.type) for c in cols])

    def build(lo, hi, pad):
        # pad junk rows in front and slice them away: arrays with a non-zero offset
        pad = pad if lo < hi else 0
        arrays = [_array(c, data[c.name][lo:lo + 1] * pad + data[c.name][lo:hi]) for c in cols]
        return pa.Table.from_arrays(arrays, schema=schema).slice(pad)

    # split into chunks (each with its own dictionaries), some of them sliced
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    bounds = [0, *cuts, n]
    parts = [build(a, b, draw(st.sampled_from([0, 0, 3]))) for a, b in zip(bounds, bounds[1:])]
    return pa.concat_tables(parts).slice(0, n)


@st.composite
def schemas(draw, min_cols: int = 2, max_cols: int = 8) -> list[Col]:
    n = draw(st.integers(min_cols, max_cols))
    cols = [draw(column_types(i)) for i in range(n)]
    # always something numeric, and usually a string column, to write expressions over
    cols.append(Col(f"c{n}_int", "int", pa.int64(), 10**6))
    if draw(st.booleans()):
        cols.append(Col(f"c{n + 1}_float", "float", pa.float64(), 1e6))
    return cols


# ---- expressions --------------------------------------------------------------------------

def q(name: str) -> str:
    return f'"{name}"' if " " in name else name


def int_lit(draw) -> Num:
    v = draw(INT_LIT)
    return Num(str(v), True, abs(v))


def float_lit(draw) -> Num:
    v = draw(FLOAT_LIT)
    return Num(repr(v), False, abs(v))


def str_lit(draw) -> str:
    return "'" + draw(STR_LIT) + "'"


class ExprGen:
    """Draws well-typed expression text over ``cols`` and the visible ``scores``."""

    def __init__(self, draw, cols: list[Col], scores: dict[str, float]):
        self.draw, self.cols, self.scores = draw, cols, scores

    def pick(self, options):
        return self.draw(_choice(tuple(options)))

    def int(self, lo, hi) -> int:
        return self.draw(_range(lo, hi))

    def of_kind(self, *kinds) -> list[Col]:
        return [c for c in self.cols if c.kind in kinds]

    # numbers
    def num_leaf(self) -> Num:
        opts = ["int", "float", "col", "col", "col"]
        if self.scores:
            opts += ["score", "score"]
        if self.of_kind("timestamp", "date"):
            opts += ["days"]
        if self.of_kind("string"):
            opts += ["lookup"]
        opts += ["null"]
        k = self.pick(opts)
        if k == "int":
            return int_lit(self.draw)
        if k == "float":
            return float_lit(self.draw)
        if k == "col":
            c = self.pick(self.of_kind("int", "float"))
            return Num(q(c.name), c.kind == "int", c.bound)
        if k == "score":
            s = self.pick(sorted(self.scores))
            return Num(q(s), False, self.scores[s])
        if k == "days":
            c = self.pick(self.of_kind("timestamp", "date"))
            return Num(f"days_since({q(c.name)})", False, 8000.0)
        if k == "lookup":
            return self.num_lookup()
        return Num("NULL", True, 0)

    def num_lookup(self) -> Num:
        """A number that depends on one string column only."""
        c = self.pick(self.of_kind("string"))
        vals = [int_lit(self.draw) if self.draw(st.booleans()) else float_lit(self.draw)
                for _ in range(self.int(1, 3))]
        is_int = all(v.is_int for v in vals)
        bound = max(v.bound for v in vals)
        if self.int(0, 3) == 0:
            return Num(f"length({self.str_expr(c, 1)})", True, 64)
        if self.draw(st.booleans()):
            whens = " ".join(f"WHEN {str_lit(self.draw)} THEN {v.text}" for v in vals)
            return Num(f"(CASE {self.str_expr(c, 1)} {whens} END)", is_int, bound)
        whens = " ".join(f"WHEN {self.str_pred(c, 1)} THEN {v.text}" for v in vals[:-1])
        return Num(f"(CASE {whens or 'WHEN FALSE THEN 0'} ELSE {vals[-1].text} END)",
                   is_int, bound)

    def num(self, depth: int) -> Num:
        if depth <= 0:
            return self.num_leaf()
        k = self.pick(["leaf", "arith", "arith", "arith", "neg", "abs", "minmax", "coalesce",
                       "math", "case", "simple_case", "decay", "rounding", "sign"])
        d = depth - 1
        if k == "leaf":
            return self.num_leaf()
        if k == "arith":
            a, b = self.num(d), self.num(d)
            op = self.pick(["+", "-", "*", "/", "%", "//"])
            if op == "//" and not (a.is_int and b.is_int):
                op = "/"  # // of floats is / (DuckDB): generated only where it means //
            is_int = a.is_int and b.is_int and op != "/"
            bound = {"+": a.bound + b.bound, "-": a.bound + b.bound, "*": a.bound * b.bound,
                     "/": a.bound * (1 if b.is_int else 1e6), "%": a.bound, "//": a.bound}[op]
            if bound > (INT_BOUND if is_int else FLOAT_BOUND):
                return a
            return Num(f"({a.text} {op} {b.text})", is_int, bound)
        if k == "neg":
            a = self.num(d)
            return Num(f"(- {a.text})", a.is_int, a.bound)
        if k == "rounding":
            a = self.num(d)
            fn = self.pick(["round", "floor", "ceil", "mod"])
            if fn == "mod":
                b = self.num(d)
                return Num(f"mod({a.text}, {b.text})", a.is_int and b.is_int, a.bound)
            return Num(f"{fn}({a.text})", a.is_int and fn == "round", a.bound + 1)
        if k == "sign":
            return Num(f"sign({self.num(d).text})", True, 1)
        if k == "abs":
            a = self.num(d)
            return Num(f"abs({a.text})", a.is_int, a.bound)
        if k in ("minmax", "coalesce"):
            xs = [self.num(d) for _ in range(self.int(2, 4))]
            fn = self.pick(["least", "greatest"]) if k == "minmax" else "coalesce"
            return Num(f"{fn}({', '.join(x.text for x in xs)})", all(x.is_int for x in xs),
                       max(x.bound for x in xs))
        if k == "math":
            fn = self.pick(["ln", "exp", "sqrt"])
            a = self.num(d)
            if fn == "exp":
                arg = a.text if a.bound <= 50 else f"least(greatest({a.text}, -40), 40)"
                return Num(f"exp({arg})", False, 3e17)
            return Num(f"{fn}({a.text})", False, max(a.bound, 1e3))
        if k == "case":
            n = self.int(1, 3)
            whens = [(self.boolean(d), self.num(d)) for _ in range(n)]
            other = self.num(d) if self.draw(st.booleans()) else None
            res = [r for _, r in whens] + ([other] if other else [])
            text = " ".join(f"WHEN {c} THEN {r.text}" for c, r in whens)
            text = f"(CASE {text}{f' ELSE {other.text}' if other else ''} END)"
            return Num(text, all(r.is_int for r in res), max(r.bound for r in res))
        if k == "simple_case":
            op = self.num(d)
            whens = [(self.num_leaf(), self.num(d)) for _ in range(self.int(1, 3))]
            other = self.num(d) if self.draw(st.booleans()) else None
            res = [r for _, r in whens] + ([other] if other else [])
            text = " ".join(f"WHEN {v.text} THEN {r.text}" for v, r in whens)
            text = f"(CASE {op.text} {text}{f' ELSE {other.text}' if other else ''} END)"
            return Num(text, all(r.is_int for r in res), max(r.bound for r in res))
        # decay(points, age, half_life): the factor stays below 2^(3000/7)
        p, age = self.num(d), self.num(d)
        if age.bound > 3000:
            age = Num(f"least(greatest({age.text}, -3000), 3000)", False, 3000)
        hl = self.pick(["7", "14", "30", "90.5", "365", "0", "-30", "0.0", "NULL"])
        if p.bound > 1e20:
            p = int_lit(self.draw)
        return Num(f"decay({p.text}, {age.text}, {hl})", False, p.bound * 2.0 ** 429)

    # strings over one column
    def str_expr(self, c: Col, depth: int) -> str:
        k = self.pick(["col", "col", "lower", "upper", "coalesce", "case", "fn"] if depth > 0 else ["col"])
        if k == "col":
            return q(c.name)
        if k in ("lower", "upper"):
            return f"{k}({self.str_expr(c, depth - 1)})"
        if k == "fn":
            return self.str_fn(c, depth - 1)
        if k == "coalesce":
            return f"coalesce({self.str_expr(c, depth - 1)}, {str_lit(self.draw)})"
        return (f"(CASE WHEN {self.str_pred(c, depth - 1)} THEN {str_lit(self.draw)} "
                f"ELSE {self.str_expr(c, depth - 1)} END)")

    def str_fn(self, c: Col, depth: int) -> str:
        """A string function every to_sql dialect writes out (constant positions; split_part
        from the start: SQLite has no negative one; regexp_matches and strip_accents are
        covered by tests/test_strings.py, SQLite lacks them)."""
        s = self.str_expr(c, depth)
        k = self.pick(["trim", "substring", "left", "split_part", "replace", "concat", "||"])
        n = lambda lo, hi: self.int(lo, hi)  # noqa: E731
        if k == "trim":
            fn = self.pick(["trim", "ltrim", "rtrim"])
            return f"{fn}({s})" if self.draw(st.booleans()) else f"{fn}({s}, {str_lit(self.draw)})"
        if k == "substring":
            return (f"substring({s}, {n(-4, 4)})" if self.draw(st.booleans())
                    else f"substring({s}, {n(-4, 4)}, {n(-3, 4)})")
        if k == "left":
            return f"{self.pick(['left', 'right'])}({s}, {n(-3, 4)})"
        if k == "split_part":
            return f"split_part({s}, {self.pick([chr(39) * 2, repr('S'), repr('x'), repr('_')])}, {n(0, 3)})"
        if k == "replace":
            return f"replace({s}, {str_lit(self.draw)}, {str_lit(self.draw)})"
        if k == "concat":
            return f"concat({s}, {self.pick([str_lit(self.draw), 'NULL'])})"
        return f"({s} || {str_lit(self.draw)})"

    def str_pred(self, c: Col, depth: int) -> str:
        s = self.str_expr(c, depth)
        k = self.pick(["cmp", "in", "like", "starts", "contains", "null", "ends", "like_escape"])
        if k == "ends":
            return f"ends_with({s}, {str_lit(self.draw)})"
        if k == "like_escape":
            pat = self.draw(PATTERN).replace("#", "")
            pat = "".join(("#" + ch) if ch in "%_" and self.draw(st.booleans()) else ch for ch in pat)
            return f"({s} {self.pick(['LIKE', 'NOT LIKE'])} '{pat}' ESCAPE '#')"
        if k == "cmp":
            return f"({s} {self.pick(['=', '<>', '!=', '<', '<=', '>', '>='])} {str_lit(self.draw)})"
        if k == "in":
            items = [str_lit(self.draw) for _ in range(self.int(1, 3))]
            if self.int(0, 4) == 0:
                items.append("NULL")
            return f"({s} {self.pick(['IN', 'NOT IN'])} ({', '.join(items)}))"
        if k == "like":
            pat = self.draw(PATTERN)
            op = self.pick(["LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE"])
            return f"({s} {op} '{pat}')"
        if k in ("starts", "contains"):
            fn = "starts_with" if k == "starts" else "contains"
            return f"{fn}({s}, {str_lit(self.draw)})"
        return f"({s} IS {self.pick(['', 'NOT '])}NULL)"

    def str_pred2(self, a: Col, b: Col) -> str:
        """A condition whose string value reads two string columns (and maybe a boolean one)."""
        x, y = self.str_expr(a, 1), self.str_expr(b, 1)
        k = self.pick(["cmp", "coalesce", "case", "like", "starts", "contains"])
        if k == "cmp":
            return f"({x} {self.pick(['=', '<>', '!=', '<', '<=', '>', '>='])} {y})"
        if k == "like":
            return f"({x} {self.pick(['LIKE', 'NOT LIKE', 'ILIKE'])} {y})"
        if k in ("starts", "contains"):
            return f"{'starts_with' if k == 'starts' else 'contains'}({x}, {y})"
        if k == "coalesce":
            v = f"coalesce({x}, {y})"
        else:
            # the choice reads a boolean column or the strings themselves: never a number
            cond = q(self.pick(self.of_kind("bool")).name) if self.of_kind("bool") else f"({x} < {y})"
            v = f"(CASE WHEN {cond} THEN {x} ELSE {y} END)"
        p = self.pick(["cmp", "in", "null", "like"])
        if p == "cmp":
            return f"({v} {self.pick(['=', '<>', '<'])} {str_lit(self.draw)})"
        if p == "in":
            return f"({v} IN ({', '.join(str_lit(self.draw) for _ in range(self.int(1, 3)))}))"
        if p == "like":
            return f"({v} LIKE '{self.draw(PATTERN)}')"
        return f"({v} IS {self.pick(['', 'NOT '])}NULL)"

    # booleans
    def bool_leaf(self) -> str:
        opts = ["lit", "cmp", "cmp", "is_null"]
        opts += ["col"] * bool(self.of_kind("bool"))
        opts += ["str"] * 2 * bool(self.of_kind("string"))
        opts += ["str2"] * (len(self.of_kind("string")) >= 2)
        opts += ["has_any"] * bool(self.of_kind("list_string"))
        k = self.pick(opts)
        if k == "lit":
            return self.pick(["TRUE", "FALSE", "NULL"])
        if k == "col":
            return q(self.pick(self.of_kind("bool")).name)
        if k == "cmp":
            return self.cmp(0)
        if k == "is_null":
            c = self.pick(self.cols)
            return f"({q(c.name)} IS {self.pick(['', 'NOT '])}NULL)"
        if k == "str":
            return self.str_pred(self.pick(self.of_kind("string")), 1)
        if k == "str2":
            a, b = self.pick(self.of_kind("string")), self.pick(self.of_kind("string"))
            if a is b:
                b = next(c for c in self.of_kind("string") if c is not a)
            return self.str_pred2(a, b)
        c = self.pick(self.of_kind("list_string"))
        vals = [str_lit(self.draw) for _ in range(self.int(1, 3))]
        return f"has_any({q(c.name)}, {', '.join(vals)})"

    def cmp(self, depth: int) -> str:
        op = self.pick(["=", "<>", "!=", "<", "<=", ">", ">="])
        return f"({self.num(depth).text} {op} {self.num(depth).text})"

    def boolean(self, depth: int) -> str:
        if depth <= 0:
            return self.bool_leaf()
        d = depth - 1
        k = self.pick(["leaf", "cmp", "cmp", "and", "or", "not", "in", "between", "is_null",
                       "case", "coalesce", "booleq", "distinct", "truth"])
        if k == "leaf":
            return self.bool_leaf()
        if k == "cmp":
            return self.cmp(d)
        if k in ("and", "or"):
            return f"({self.boolean(d)} {k.upper()} {self.boolean(d)})"
        if k == "not":
            return f"(NOT {self.boolean(d)})"
        if k == "in":
            items = [self.num_leaf().text for _ in range(self.int(1, 4))]
            return f"({self.num(d).text} {self.pick(['IN', 'NOT IN'])} ({', '.join(items)}))"
        if k == "between":
            op = self.pick(["BETWEEN", "NOT BETWEEN"])
            return f"({self.num(d).text} {op} {self.num(d).text} AND {self.num(d).text})"
        if k == "is_null":
            inner = self.num(d).text if self.draw(st.booleans()) else self.boolean(d)
            return f"({inner} IS {self.pick(['', 'NOT '])}NULL)"
        if k == "case":
            return (f"(CASE WHEN {self.boolean(d)} THEN {self.boolean(d)} "
                    f"ELSE {self.boolean(d)} END)")
        if k == "coalesce":
            return f"coalesce({self.boolean(d)}, {self.boolean(d)})"
        if k == "distinct":
            op = self.pick(["IS DISTINCT FROM", "IS NOT DISTINCT FROM"])
            if self.draw(st.booleans()):
                return f"({self.num(d).text} {op} {self.num(d).text})"
            return f"({self.boolean(d)} {op} {self.boolean(d)})"
        if k == "truth":
            what = self.pick(["TRUE", "NOT TRUE", "FALSE", "NOT FALSE", "UNKNOWN", "NOT UNKNOWN"])
            return f"({self.boolean(d)} IS {what})"
        return f"({self.boolean(d)} {self.pick(['=', '<>'])} {self.boolean(d)})"


# ---- models -------------------------------------------------------------------------------

NUMBER = st.one_of(st.integers(-100, 100), st.floats(-100, 100).map(lambda x: round(x, 1)))
INT_LIT = st.one_of(st.integers(-1000, 1000), st.sampled_from([0, 1, -1, 2, 8, 100]))
FLOAT_LIT = st.one_of(st.floats(-1000, 1000).map(lambda x: round(x, 2)),
                      st.sampled_from([0.0, 0.5, 1.5, -2.5, 100.0]))
STR_LIT = st.one_of(st.sampled_from(WORDS), st.text("abSx_ ", max_size=4))
PATTERN = st.text(PAT_CHARS, max_size=6)


def _number(draw):
    return draw(NUMBER)


@st.composite
def models(draw, cols: list[Col], max_scores: int = 4, max_rules: int = 5, depth: int = 3,
           max_segments: int = 2) -> dict:
    scores: dict[str, float] = {}  # name → magnitude bound
    out_scores = {}
    for i in range(draw(st.integers(1, max_scores))):
        name = f"s{i}" if draw(_range(0, 3)) else f"score {i}"
        g = ExprGen(draw, cols, dict(scores))
        if i and draw(_range(0, 3)) == 0:  # derived score
            e = g.num(draw(_range(0, depth)))
            out_scores[name] = {"expr": e.text}
            bound = e.bound
        else:
            rules, bound = [], 0.0
            for j in range(draw(_range(1, max_rules))):
                rule = {"name": f"r{j}"}
                if draw(_range(0, 3)):
                    rule["when"] = g.boolean(draw(_range(0, depth)))
                if draw(_range(0, 3)) == 0:
                    rule["points"] = _number(draw)
                    b = abs(rule["points"])
                else:
                    e = g.num(draw(_range(0, depth)))
                    rule["points"], b = e.text, e.bound
                if draw(_range(0, 3)) == 0:
                    rule["cap"] = _number(draw)
                if draw(_range(0, 4)) == 0:
                    rule["floor"] = _number(draw)
                    if "cap" in rule and rule["floor"] > rule["cap"]:
                        rule["floor"], rule["cap"] = rule["cap"], rule["floor"]
                rules.append(rule)
                bound += b
            out_scores[name] = {"rules": rules}
        if draw(_range(0, 2)) == 0:  # clamp (a derived score: after NULL → 0)
            lo = _number(draw)
            out_scores[name]["range"] = [lo, lo + abs(_number(draw))]
            bound = max(abs(lo), abs(out_scores[name]["range"][1]))
        scores[name] = min(bound, 1e100)
    segments = {}
    g = ExprGen(draw, cols, scores)
    for k in range(draw(st.integers(0, max_segments))):
        if draw(_range(0, 4)) == 0:  # the bands shorthand
            edges = sorted(set(draw(st.lists(st.integers(-50, 150), min_size=1, max_size=4))))
            segments[f"b{k}"] = {"bands": {"score": draw(st.sampled_from(sorted(scores))),
                                           "edges": edges,
                                           "labels": [f"B{i}" for i in range(len(edges) + 1)]}}
            continue
        cases = [{"name": f"L{k}_{m}", "when": g.boolean(draw(_range(0, depth)))}
                 for m in range(draw(_range(1, 4)))]
        if draw(st.booleans()):
            cases.append({"name": f"L{k}_default"})
        segments[f"g{k}" if k else "tier"] = cases
    model = {"name": "generated", "as_of": draw(st.sampled_from(AS_OFS)), "scores": out_scores}
    if segments:
        model["segments"] = segments
    return model


def examples(fraction: float):
    """``settings`` for a test running ``fraction`` of the active profile's max_examples."""
    return settings(max_examples=max(10, int(settings.default.max_examples * fraction)))


@dataclass
class Case:
    model: dict
    table: pa.Table
    as_of: dt.datetime | None  # explicit override, or None for the model's as_of
    chunk_rows: int


@st.composite
def cases(draw, max_rows: int = 50, **model_kw) -> Case:
    cols = draw(schemas())
    model = draw(models(cols, **model_kw))
    table = draw(tables(cols, max_rows))
    as_of = draw(st.sampled_from([None, None, dt.datetime(2027, 1, 15, 6, 0, tzinfo=UTC)]))
    chunk_rows = draw(st.sampled_from([4096, 4096, 7, 16]))
    return Case(model, table, as_of, chunk_rows)
