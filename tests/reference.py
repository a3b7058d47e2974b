"""Plain-Python reference evaluator: the semantics of a scoring model, row by row.

It walks the untyped AST of ``_engine.parse_expr`` (ARCHITECTURE §2) and shares nothing else
with the engine (no type checker, no folding), so it is an independent statement of the rules.
Values: None is NULL; bool, int (unbounded, so integer arithmetic never wraps), float, str,
datetime (aware, UTC), date, list (list<string>).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import re
from decimal import Decimal
from functools import lru_cache

import pyarrow as pa
import pyarrow.types as pat

import reference_numeric as rn
import reference_strings as rs

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)
_DAY_US = 86_400_000_000


@lru_cache(maxsize=None)
def parse(text: str) -> dict:
    from leadscore_fast import _engine
    return json.loads(_engine.parse_expr(text))


def _src(v) -> str | None:
    """A model field as expression text (numbers and bools written as literals)."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, float):  # positional notation: SQL literals have no exponent
        text = format(Decimal(repr(v)), "f")
        return text if "." in text else text + ".0"
    return v if isinstance(v, str) else str(v)


# ---- values -------------------------------------------------------------------------------

def _isnum(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _f(x):
    """A float result: NaN is NULL."""
    return None if isinstance(x, float) and math.isnan(x) else x


def _pair(a, b):
    """Numeric operands: int op float compares/computes in float64 (as the engine does);
    dates and timestamps compare as microseconds since the epoch (a date is its midnight)."""
    if isinstance(a, (dt.date, dt.datetime)) and isinstance(b, (dt.date, dt.datetime)):
        return rn.temporal_us(a), rn.temporal_us(b)
    if _isnum(a) and _isnum(b) and (isinstance(a, float) or isinstance(b, float)):
        return float(a), float(b)
    return a, b


def _arith(op, a, b):
    if a is None or b is None:
        return None
    a, b = _pair(a, b)
    exact = rn.int64 if rn.isint(a) and rn.isint(b) else _f
    if op == "+":
        return exact(a + b)
    if op == "-":
        return exact(a - b)
    if op == "*":
        return exact(a * b)
    if op == "//":  # integer division of ints; of floats it is / (as in DuckDB)
        return rn.int_div(a, b) if rn.isint(a) and rn.isint(b) else _arith("/", a, b)
    if op == "/":
        return None if b == 0 else _f(float(a) / float(b))
    if op == "%":  # truncating: the result has the dividend's sign
        if b == 0:
            return None
        if isinstance(a, int):
            r = abs(a) % abs(b)
            return -r if a < 0 else r
        return None if math.isinf(a) else _f(math.fmod(a, b))
    raise ValueError(op)


def _cmp(op, a, b):
    if a is None or b is None:
        return None
    a, b = _pair(a, b)
    return {"=": a == b, "<>": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _and(a, b):
    a, b = rn.truth(a), rn.truth(b)
    if a is False or b is False:
        return False
    return None if a is None or b is None else True


def _or(a, b):
    a, b = rn.truth(a), rn.truth(b)
    if a is True or b is True:
        return True
    return None if a is None or b is None else False


def _not(a):
    a = rn.truth(a)
    return None if a is None else not a


def _days_since(v, as_of: dt.datetime):
    if v is None:
        return None
    if not isinstance(v, dt.datetime):  # a date is midnight UTC
        v = dt.datetime(v.year, v.month, v.day, tzinfo=UTC)
    elif v.tzinfo is None:
        v = v.replace(tzinfo=UTC)
    us = (as_of - v) // dt.timedelta(microseconds=1)
    return float(us) / _DAY_US  # int64 microseconds → float64, one rounding in the division


def _math1(fn, x):
    if x is None:
        return None
    x = float(x)
    if fn == "ln":
        return math.log(x) if x > 0 else None
    if fn == "sqrt":
        return math.sqrt(x) if x >= 0 else None
    try:  # exp
        return math.exp(x)
    except OverflowError:
        return math.inf


def _decay(p, age, hl):
    if p is None or age is None or hl is None or hl == 0:
        return None
    try:
        f = math.pow(0.5, float(age) / float(hl))
    except OverflowError:
        f = math.inf
    return _f(float(p) * f)


def _call(fn, args, as_of):
    if fn == "mod":
        return _arith("%", *args)
    if fn in rn.FUNCTIONS:
        return rn.call(fn, args)
    if fn in rs.FUNCTIONS:
        return rs.call(fn, args)
    if fn in ("least", "greatest"):
        vals = [v for v in args if v is not None]
        if not vals:
            return None
        best = vals[0]
        for v in vals[1:]:
            x, y = _pair(v, best)
            if (x < y) if fn == "least" else (x > y):
                best = v
        return float(best) if any(isinstance(v, float) for v in vals) else best
    if fn == "coalesce":
        return next((v for v in args if v is not None), None)
    if fn == "abs":
        return None if args[0] is None else rn.int64(abs(args[0])) if rn.isint(args[0]) else abs(args[0])
    if fn in ("ln", "exp", "sqrt"):
        return _math1(fn, args[0])
    if fn in ("lower", "upper"):
        s = args[0]
        return None if s is None else (rs.lower(s) if fn == "lower" else rs.upper(s))
    if fn in ("starts_with", "contains"):
        s, t = args
        if s is None or t is None:
            return None
        return s.startswith(t) if fn == "starts_with" else t in s
    if fn == "days_since":
        return _days_since(args[0], as_of)
    if fn == "decay":
        return _decay(*args)
    if fn == "has_any":
        lst, wanted = args[0], {v for v in args[1:] if v is not None}
        return None if lst is None else any(x in wanted for x in lst if x is not None)
    raise ValueError(f"unknown function {fn}")


def evaluate(node: dict, env: dict, as_of: dt.datetime):
    """Evaluate one AST node against ``env`` (column and earlier-score values of one row)."""
    ev = lambda n: evaluate(n, env, as_of)  # noqa: E731
    t = node["t"]
    if t == "lit":
        return node["v"]
    if t == "col":
        return env[node["name"]]
    if t == "bin":
        op = node["op"]
        a, b = ev(node["l"]), ev(node["r"])
        if op == "and":
            return _and(a, b)
        if op == "or":
            return _or(a, b)
        if op in ("+", "-", "*", "/", "%", "//"):
            return _arith(op, a, b)
        if op == "||":
            return None if a is None or b is None else a + b
        return _cmp("<>" if op == "!=" else op, a, b)
    if t == "neg":
        v = ev(node["e"])
        return None if v is None else rn.int64(-v) if rn.isint(v) else -v
    if t == "not":
        return _not(ev(node["e"]))
    if t == "is_null":
        return (ev(node["e"]) is None) != node["neg"]
    if t == "in":
        v = ev(node["e"])
        r = False
        for item in node["list"]:
            r = _or(r, _cmp("=", v, ev(item)))
        return _not(r) if node["neg"] else r
    if t == "between":
        v = ev(node["e"])
        r = _and(_cmp(">=", v, ev(node["lo"])), _cmp("<=", v, ev(node["hi"])))
        return _not(r) if node["neg"] else r
    if t == "like":
        s, p = ev(node["e"]), ev(node["pat"])
        if s is None or p is None:
            return None
        if node["ci"]:  # ILIKE: LIKE of DuckDB's lower() of both sides
            s, p = rs.lower(s), rs.lower(p)
        r = rs.like(s, p, node.get("esc") or None)
        return not r if node["neg"] else r
    if t == "case":
        operand = ev(node["operand"]) if node["operand"] is not None else None
        for cond, res in node["whens"]:
            c = _cmp("=", operand, ev(cond)) if node["operand"] is not None else rn.truth(ev(cond))
            if c is True:
                return ev(res)
        return ev(node["else"]) if node["else"] is not None else None
    if t == "call":
        return _call(node["fn"], [ev(a) for a in node["args"]], as_of)
    if t == "cast":
        return rn.cast(ev(node["e"]), node["to"])
    if t == "distinct":
        d = rn.distinct(ev(node["l"]), ev(node["r"]), lambda a, b: _cmp("=", a, b))
        return not d if node["neg"] else d
    if t == "truth":
        r = rn.is_truth(ev(node["e"]), node["is"])
        return not r if node["neg"] else r
    raise ValueError(f"unknown node {t}")


# ---- models -------------------------------------------------------------------------------

def parse_as_of(v) -> dt.datetime:
    if isinstance(v, dt.datetime):
        return v if v.tzinfo else v.replace(tzinfo=UTC)
    d = dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    return d if d.tzinfo else d.replace(tzinfo=UTC)


def _ast(v):
    text = _src(v)
    return None if text is None else parse(text)


def _clamp_value(v, lo, hi):
    """least(greatest(v, lo), hi) with SQL's NULL-skipping least/greatest."""
    v = _call("greatest", [v, lo], None)
    return _call("least", [v, hi], None)


def _cases(spec):
    """[(label, when AST or None)], or the bands mapping as is."""
    if isinstance(spec, dict):
        return spec["bands"]
    return [(c, None) if not isinstance(c, dict) else (c["name"], _ast(c.get("when")))
            for c in spec]


def reference_score(model: dict, rows: list[dict], as_of=None) -> dict[str, list]:
    """Score every row: ``{score: [float, ...], segmentation: [str | None, ...]}``."""
    as_of = as_of if as_of is not None else model.get("as_of")
    as_of = dt.datetime.now(UTC) if as_of is None else parse_as_of(as_of)
    scores = []
    for name, spec in (model.get("scores") or {}).items():
        rules = [(_ast(r.get("when")), _ast(r.get("points")), _ast(r.get("floor")),
                  _ast(r.get("cap"))) for r in spec.get("rules") or []]
        scores.append((name, rules, _ast(spec.get("expr")), spec.get("range")))
    segs = [(name, _cases(spec)) for name, spec in (model.get("segments") or {}).items()]
    out = {name: [] for name, *_ in scores}
    out.update({name: [] for name, _ in segs})
    for row in rows:
        env = dict(row)
        for name, rules, expr, rng in scores:
            ev = lambda n: evaluate(n, env, as_of)  # noqa: E731
            if expr is not None:
                v = ev(expr)
                s = 0.0 if v is None else float(v)
            else:
                s = 0.0
                for when, points, floor, cap in rules:
                    if when is not None and rn.truth(ev(when)) is not True:
                        continue
                    p = ev(points)
                    if p is None:
                        continue  # a NULL points contributes 0
                    lo = ev(floor) if floor is not None else None
                    hi = ev(cap) if cap is not None else None
                    s += float(_clamp_value(p, lo, hi))
            if rng is not None:
                s = min(max(s, float(rng[0])), float(rng[1]))
            env[name] = s
            out[name].append(s)
        for name, cases in segs:
            if isinstance(cases, dict):  # bands: labels[i] for edges[i-1] <= score < edges[i]
                v = env[cases["score"]]
                label = None if v is None else cases["labels"][
                    sum(1 for e in cases["edges"] if _cmp(">=", v, e))]
            else:
                label = next((lab for lab, when in cases
                              if when is None or rn.truth(evaluate(when, env, as_of)) is True), None)
            out[name].append(label)
    return out


# ---- Arrow → rows -------------------------------------------------------------------------

def _column_values(arr: pa.ChunkedArray) -> list:
    t = arr.type
    if pat.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = t.value_type
    if pat.is_timestamp(t):  # epoch ticks → aware UTC datetime (sub-microsecond truncated)
        per_us = {"s": None, "ms": None, "us": 1, "ns": 1000}[t.unit]
        ticks = arr.cast(pa.int64()).to_pylist()
        mult = {"s": 1_000_000, "ms": 1000}.get(t.unit, 1)
        return [None if v is None else
                _EPOCH + dt.timedelta(microseconds=(v * mult if per_us is None else v // per_us))
                for v in ticks]
    vals = arr.to_pylist()
    if pat.is_floating(t):
        return [None if v is None or math.isnan(v) else v for v in vals]
    return vals


def table_rows(table: pa.Table) -> list[dict]:
    """Row dicts: timestamps → aware UTC datetimes, dates → date, NaN → None."""
    cols = {name: _column_values(table.column(name)) for name in table.column_names}
    return [{k: v[i] for k, v in cols.items()} for i in range(table.num_rows)]


# ---- comparing results --------------------------------------------------------------------

INEXACT_FUNCS = ("decay(", "exp(", "ln(")


def needs_tolerance(model: dict) -> bool:
    """Only libm functions (pow in decay, exp, ln) may differ in the last bit between
    implementations; every other operation is IEEE-exact, so results must match exactly."""
    return any(f in json.dumps(model) for f in INEXACT_FUNCS)


def table_results(table: pa.Table, names) -> dict[str, list]:
    return {n: table.column(n).to_pylist() for n in names}


def _same(a, b, tol: bool) -> bool:
    if a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        return True
    if tol and _isnum(a) and _isnum(b):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)
    return False


def mismatches(got: dict, want: dict, tol: bool = False, limit: int = 5) -> list[str]:
    """Human-readable differences between two ``{column: [values]}`` results."""
    out = []
    for name, expected in want.items():
        if name not in got:
            out.append(f"missing column {name!r} (have {sorted(got)})")
            continue
        actual = got[name]
        if len(actual) != len(expected):
            out.append(f"{name}: {len(actual)} rows, expected {len(expected)}")
            continue
        for i, (a, b) in enumerate(zip(actual, expected)):
            if not _same(a, b, tol):
                out.append(f"{name}[{i}]: got {a!r}, expected {b!r}")
                if len(out) >= limit:
                    return out
    return out
