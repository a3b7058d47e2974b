"""Plain-Python semantics of the numeric additions to the language, for tests/reference.py:
int64 overflow as NULL, ``//``, round/floor/ceil/sign/pow/log10/log2/mod, CAST, IS [NOT]
DISTINCT FROM, IS [NOT] TRUE/FALSE/UNKNOWN and integers used as conditions. Written from the
SQL (DuckDB) semantics with Python's own numbers (unbounded ints, Decimal), sharing nothing
with the engine.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
INT32_MIN, INT32_MAX = -(1 << 31), (1 << 31) - 1
FUNCTIONS = {"round", "floor", "ceil", "ceiling", "sign", "pow", "power", "log10", "log2", "mod"}


def isint(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def int64(v):
    """An integer result: NULL outside int64 (the engine's rule where DuckDB raises)."""
    return v if v is None or INT64_MIN <= v <= INT64_MAX else None


def truth(v):
    """A condition's value: an integer is TRUE where nonzero (as DuckDB reads it)."""
    return v != 0 if isint(v) else v


def int_div(a, b):
    """``a // b`` of integers, truncating toward zero; by 0 NULL."""
    if a is None or b is None or b == 0:
        return None
    q = abs(a) // abs(b)
    return int64(q if (a < 0) == (b < 0) else -q)


def _round_half_away(x: float) -> float:
    """C's round(): the nearest integer, halves away from zero (exact in Decimal)."""
    if math.isinf(x) or math.isnan(x):
        return x
    return math.copysign(float(Decimal(x).to_integral_value(rounding=ROUND_HALF_UP)), x)


def round_(x, digits=0):
    if x is None or digits is None:
        return None
    if isint(x):
        if digits >= 0:
            return x
        if -digits >= 19:
            return 0
        p = 10 ** -digits
        q = (abs(x) + p // 2) // p * p
        return int64(-q if x < 0 else q)
    x = float(x)
    if digits == 0:
        return _round_half_away(x)
    # DuckDB's formula: scale by 10^|digits|, round, scale back; not finite → x (or 0).
    m = math.pow(10.0, abs(digits)) if abs(digits) <= 308 else math.inf  # std::pow, as DuckDB
    r = _round_half_away(x * m) / m if digits > 0 else _round_half_away(x / m) * m
    if math.isfinite(r):
        return r
    return x if digits > 0 else 0.0


def math1(fn, x):
    if x is None:
        return None
    x = float(x)
    if fn == "floor":
        return float(math.floor(x)) if math.isfinite(x) else x
    if fn in ("ceil", "ceiling"):
        return float(math.ceil(x)) if math.isfinite(x) else x
    if fn in ("log10", "log2"):
        if x <= 0:
            return None
        return math.log10(x) if fn == "log10" else math.log2(x)
    raise ValueError(fn)


def sign(x):
    if x is None:
        return None
    return (x > 0) - (x < 0)


def pow_(x, y):
    if x is None or y is None:
        return None
    x, y = float(x), float(y)
    if x == 0 and y < 0:
        return None
    try:
        r = math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:  # a negative number to a fraction
        return None
    return None if math.isnan(r) else r


def call(fn, args):
    if fn == "round":
        return round_(*args)
    if fn == "sign":
        return sign(args[0])
    if fn in ("pow", "power"):
        return pow_(*args)
    if fn == "mod":
        return None  # handled by the caller as the % operator
    return math1(fn, args[0])


# ---- CAST --------------------------------------------------------------------------------

_DEC = re.compile(r"[+-]?([0-9]+(_[0-9]+)*)?(\.([0-9]+(_[0-9]+)*)?)?([eE][+-]?[0-9]+)?")
_SPACE = " \t\n\v\f\r"


def _str_to_int(s: str):
    t = s.strip(_SPACE)
    low = t.lower()
    for prefix, base, digits in (("0x", 16, "0123456789abcdef"), ("0b", 2, "01")):
        if low.startswith(prefix):
            body = low[2:]
            if not re.fullmatch(rf"[{digits}]+(_[{digits}]+)*", body):
                return None
            return int64(int(body.replace("_", ""), base))
    m = _DEC.fullmatch(t)
    if not t or not m or not (m.group(1) or m.group(4)):
        return None
    d = Decimal(t.replace("_", ""))
    return int64(int(d.to_integral_value(rounding=ROUND_HALF_UP)))


def _str_to_float(s: str):
    t = s.strip(_SPACE)
    if not t.isascii():  # Python's float() reads other scripts' digits; DuckDB does not
        return None
    try:
        v = float(t)  # signs, exponents, inf/infinity/nan, single underscores between digits
    except ValueError:
        return None
    return None if math.isnan(v) else v


_BOOLS = {"true": True, "t": True, "yes": True, "y": True, "1": True,
          "false": False, "f": False, "no": False, "n": False, "0": False}


def cast(v, to: str):
    """CAST(v AS to); a value that does not convert is NULL (CAST behaves as TRY_CAST)."""
    if v is None:
        return None
    if to in ("bigint", "int"):
        if isinstance(v, bool):
            r = int(v)
        elif isint(v):
            r = v
        elif isinstance(v, float):
            if math.isnan(v) or math.isinf(v):
                return None
            # half to even (DuckDB's nearbyint); float → Decimal is exact
            r = int(Decimal(v).to_integral_value())
        else:
            try:
                r = _str_to_int(v)
            except InvalidOperation:
                r = None
        r = int64(r)
        if to == "int" and r is not None and not INT32_MIN <= r <= INT32_MAX:
            return None
        return r
    if to == "double":
        if isinstance(v, str):
            return _str_to_float(v)
        return float(v)
    if to == "boolean":
        if isinstance(v, str):
            return _BOOLS.get(v.lower())
        return v if isinstance(v, bool) else v != 0
    if to in ("date", "timestamp"):
        return _to_temporal(v, to)
    if to == "varchar":
        return v if isinstance(v, str) else (str(v).lower() if isinstance(v, bool) else str(v))
    raise ValueError(to)


_UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=_UTC)
_DATE = re.compile(r"([0-9]{4,6})-([0-9]{1,2})-([0-9]{1,2})")
_TIME = re.compile(r"([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
                   r"(Z|[+-][0-9:]{1,5}| [A-Za-z0-9_/+-]+)?")


def _date(text: str):
    m = _DATE.match(text)
    if not m:
        return None, text
    try:
        return dt.date(*(int(g) for g in m.groups())), text[m.end():]
    except ValueError:
        return None, text


def _time(text: str):
    """Microseconds into the day of ``HH:MM[:SS[.f]]`` (24:00:00 is the next midnight); the
    zone after it is read and ignored, as DuckDB's TIMESTAMP does."""
    m = _TIME.fullmatch(text)
    if not m:
        return None
    h, mi, sec = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    us = int((m.group(4) or "")[:6].ljust(6, "0"))
    if h > 24 or mi > 59 or sec > 59 or (h == 24 and (mi, sec, us) != (0, 0, 0)):
        return None
    return ((h * 60 + mi) * 60 + sec) * 1_000_000 + us


def temporal_us(v) -> int:
    """A date (its midnight UTC) or timestamp (naive = UTC) as microseconds since the epoch."""
    if not isinstance(v, dt.datetime):
        v = dt.datetime(v.year, v.month, v.day, tzinfo=_UTC)
    elif v.tzinfo is None:
        v = v.replace(tzinfo=_UTC)
    return (v - _EPOCH) // dt.timedelta(microseconds=1)


def _to_temporal(v, to: str):
    if isinstance(v, (dt.date, dt.datetime)):
        if to == "timestamp" and not isinstance(v, dt.datetime):
            return dt.datetime(v.year, v.month, v.day, tzinfo=_UTC)
        return v
    if to == "date":
        d, rest = _date(v.strip(" "))
        return d if d is not None and (not rest or (rest[0] in " T" and _time(rest[1:]) is not None)) else None
    d, rest = _date(v)
    if d is None:
        return None
    us = 0 if not rest else (_time(rest[1:]) if rest[0] in " T" else None)
    if us is None:
        return None
    return dt.datetime(d.year, d.month, d.day, tzinfo=_UTC) + dt.timedelta(microseconds=us)


def distinct(a, b, eq) -> bool:
    """``a IS DISTINCT FROM b``: ``eq(a, b)`` compares two non-NULL values."""
    if a is None or b is None:
        return (a is None) != (b is None)
    return eq(a, b) is not True


def is_truth(v, want) -> bool:
    """``v IS TRUE / FALSE / UNKNOWN`` (want True / False / None): never NULL."""
    v = truth(v)
    return v is None if want is None else v is want
