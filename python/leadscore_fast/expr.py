"""Python-side expression builder: THE one place that turns Python values into SQL expression text.

Expressions are only ever text handed to the Rust parser; nothing here evaluates them.

Two conventions, kept everywhere:

* In operators and function arguments a Python ``str`` is a *string literal*
  (``col("industry") == "software"`` → ``industry = 'software'``). Use ``col()`` for columns
  and ``sql()`` to embed raw SQL text. The exceptions are arguments that can only be
  columns (``days_since("last_activity_at")``, the first argument of ``has_any``).
* Where a whole expression is expected (a rule's ``when``/``points``, a derived score, a
  segment case), a ``str`` is SQL expression text: see :func:`to_expr_text`.

Every composite sub-expression is parenthesised when used as an operand, so the text
always means what the Python expression tree means, whatever SQL's precedence rules are.
"""
from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal

__all__ = [
    "Expr", "col", "lit", "sql", "to_expr_text",
    "least", "greatest", "coalesce", "abs_", "ln", "exp", "sqrt", "lower", "upper",
    "starts_with", "contains", "days_since", "decay", "has_any", "case",
    "round_", "floor", "ceil", "sign", "pow_", "log10", "log2", "mod", "cast", "try_cast",
    "date", "timestamp", "length", "trim", "ends_with", "split_part", "substring", "replace",
    "regexp_matches", "strip_accents", "concat",
]
# CAST targets (engine/src/ast.rs CAST_TYPES, as SQL spells them)
_CAST_TYPES = {"int": "INTEGER", "integer": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE",
               "float": "DOUBLE", "varchar": "VARCHAR", "str": "VARCHAR", "boolean": "BOOLEAN",
               "bool": "BOOLEAN", "date": "DATE", "timestamp": "TIMESTAMP"}

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Words the SQL grammar reserves: a column with one of these names must be quoted.
_RESERVED = {
    "and", "or", "not", "in", "is", "null", "true", "false", "like", "ilike", "between",
    "case", "when", "then", "else", "end",
}


class Expr:
    """An expression: its SQL text plus whether it is atomic (safe to use unparenthesised)."""

    __slots__ = ("text", "_atomic")

    def __init__(self, text: str, atomic: bool = False):
        self.text = text
        self._atomic = atomic

    # -- rendering -------------------------------------------------------------------------
    def _operand(self) -> str:
        return self.text if self._atomic else f"({self.text})"

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"

    def __bool__(self):
        # `a < b < c`, `x and y`, `if expr:` would silently drop half the expression.
        raise TypeError("an Expr has no truth value: use & | ~ instead of and/or/not, "
                        "and parenthesise comparisons")

    __hash__ = None  # == builds an expression, so Expr cannot be a dict key

    # -- arithmetic ------------------------------------------------------------------------
    def _bin(self, op: str, other, reverse: bool = False) -> Expr:
        left, right = (_as_expr(other), self) if reverse else (self, _as_expr(other))
        return Expr(f"{left._operand()} {op} {right._operand()}")

    def __add__(self, o): return self._bin("+", o)
    def __radd__(self, o): return self._bin("+", o, True)
    def __sub__(self, o): return self._bin("-", o)
    def __rsub__(self, o): return self._bin("-", o, True)
    def __mul__(self, o): return self._bin("*", o)
    def __rmul__(self, o): return self._bin("*", o, True)
    def __truediv__(self, o): return self._bin("/", o)
    def __rtruediv__(self, o): return self._bin("/", o, True)
    def __mod__(self, o): return self._bin("%", o)
    def __rmod__(self, o): return self._bin("%", o, True)
    def __floordiv__(self, o): return self._bin("//", o)
    def __rfloordiv__(self, o): return self._bin("//", o, True)
    def __neg__(self): return Expr(f"-{self._operand()}")
    def __pos__(self): return self

    # -- comparisons (== None / != None mean IS NULL / IS NOT NULL, as in SQLAlchemy) -------
    def __eq__(self, o):  # type: ignore[override]
        return self.is_null() if o is None else self._bin("=", o)

    def __ne__(self, o):  # type: ignore[override]
        return self.is_not_null() if o is None else self._bin("<>", o)

    def __lt__(self, o): return self._bin("<", o)
    def __le__(self, o): return self._bin("<=", o)
    def __gt__(self, o): return self._bin(">", o)
    def __ge__(self, o): return self._bin(">=", o)

    # -- logic -----------------------------------------------------------------------------
    def __and__(self, o): return self._bin("AND", o)
    def __rand__(self, o): return self._bin("AND", o, True)
    def __or__(self, o): return self._bin("OR", o)
    def __ror__(self, o): return self._bin("OR", o, True)
    def __invert__(self): return Expr(f"NOT {self._operand()}")

    # -- predicates ------------------------------------------------------------------------
    def isin(self, *values) -> Expr:
        """``x IN (v1, v2, ...)``; accepts values or one list/tuple/set of values."""
        if len(values) == 1 and isinstance(values[0], (list, tuple, set, frozenset)):
            values = tuple(sorted(values[0], key=repr) if isinstance(values[0], (set, frozenset))
                           else values[0])
        if not values:
            raise ValueError("isin() needs at least one value")
        items = ", ".join(_as_expr(v)._operand() for v in values)
        return Expr(f"{self._operand()} IN ({items})")

    def between(self, lo, hi) -> Expr:
        return Expr(f"{self._operand()} BETWEEN {_as_expr(lo)._operand()} "
                    f"AND {_as_expr(hi)._operand()}")

    def is_null(self) -> Expr:
        return Expr(f"{self._operand()} IS NULL")

    def is_distinct_from(self, other) -> Expr:
        return self._bin("IS DISTINCT FROM", other)

    def is_not_distinct_from(self, other) -> Expr:
        return self._bin("IS NOT DISTINCT FROM", other)

    def is_not_null(self) -> Expr:
        return Expr(f"{self._operand()} IS NOT NULL")

    def like(self, pattern) -> Expr:
        return Expr(f"{self._operand()} LIKE {_as_expr(pattern)._operand()}")

    def ilike(self, pattern) -> Expr:
        return Expr(f"{self._operand()} ILIKE {_as_expr(pattern)._operand()}")


# -- leaves ------------------------------------------------------------------------------------

def col(name: str) -> Expr:
    """A column (or an earlier score / segmentation) by name; quoted when not a plain identifier."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"col() needs a non-empty column name, got {name!r}")
    if _IDENT.match(name) and name.lower() not in _RESERVED:
        return Expr(name, atomic=True)
    return Expr('"' + name.replace('"', '""') + '"', atomic=True)


def lit(value) -> Expr:
    """A literal: str → 'quoted' ('' escaping), None → NULL, bool → TRUE/FALSE, numbers as text."""
    if isinstance(value, Expr):
        return value
    if value is None:
        return Expr("NULL", atomic=True)
    if isinstance(value, bool):
        return Expr("TRUE" if value else "FALSE", atomic=True)
    if isinstance(value, str):
        return Expr("'" + value.replace("'", "''") + "'", atomic=True)
    if isinstance(value, numbers.Integral):
        text = str(int(value))
    elif isinstance(value, numbers.Real):
        text = _float_text(float(value))
    else:
        raise TypeError(f"cannot make an expression literal from {type(value).__name__} {value!r}")
    # A negative literal is parenthesised as an operand: `a - (-5)`, never `a - -5`.
    return Expr(text, atomic=not text.startswith("-"))


def _float_text(x: float) -> str:
    if not math.isfinite(x):
        raise ValueError(f"{x!r} is not a valid literal: expressions have no NaN or infinity "
                         "(use NULL for a missing value)")
    text = repr(x)
    if "e" in text or "E" in text:
        # SQL decimal literals have no exponent: spell the shortest repr out positionally.
        text = format(Decimal(text), "f")
    if "." not in text:
        text += ".0"  # keeps it a float literal for the parser
    return text


def sql(text: str) -> Expr:
    """Raw SQL expression text, used as-is (parenthesised when it becomes an operand)."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"sql() needs non-empty expression text, got {text!r}")
    return Expr(text.strip())


def _as_expr(value) -> Expr:
    return value if isinstance(value, Expr) else lit(value)


def _as_column(value) -> Expr:
    return col(value) if isinstance(value, str) else _as_expr(value)


def to_expr_text(value) -> str:
    """Expression text for a place where a whole expression is expected.

    ``str`` → the SQL text itself (stripped); ``Expr`` → its text; bool/number → literal text.
    """
    if isinstance(value, Expr):
        return value.text
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty expression")
        return text
    if value is None:
        raise TypeError("expected an expression, got None")
    return lit(value).text


# -- functions -----------------------------------------------------------------------------

def _call(fn: str, *args: Expr) -> Expr:
    # Arguments are comma-separated, so they never need parentheses.
    return Expr(f"{fn}({', '.join(a.text for a in args)})", atomic=True)


def _variadic(fn: str, args) -> Expr:
    if len(args) < 2:
        raise ValueError(f"{fn}() needs at least two arguments")
    return _call(fn, *map(_as_expr, args))


def least(*args) -> Expr:
    return _variadic("least", args)


def greatest(*args) -> Expr:
    return _variadic("greatest", args)


def coalesce(*args) -> Expr:
    return _variadic("coalesce", args)


def abs_(x) -> Expr:
    return _call("abs", _as_expr(x))


def ln(x) -> Expr:
    return _call("ln", _as_expr(x))


def exp(x) -> Expr:
    return _call("exp", _as_expr(x))


def sqrt(x) -> Expr:
    return _call("sqrt", _as_expr(x))


def lower(x) -> Expr:
    return _call("lower", _as_expr(x))


def upper(x) -> Expr:
    return _call("upper", _as_expr(x))


def starts_with(x, prefix) -> Expr:
    return _call("starts_with", _as_expr(x), _as_expr(prefix))


def contains(x, part) -> Expr:
    return _call("contains", _as_expr(x), _as_expr(part))


def days_since(column) -> Expr:
    """Fractional days from a timestamp/date column to the model's as_of (a str is a column name)."""
    return _call("days_since", _as_column(column))


def decay(points, age, half_life) -> Expr:
    """``points * 0.5 ^ (age / half_life)``."""
    return _call("decay", _as_expr(points), _as_expr(age), _as_expr(half_life))


def has_any(column, *values) -> Expr:
    """TRUE where the list<string> ``column`` (a str is a column name) holds any of ``values``."""
    if len(values) == 1 and isinstance(values[0], (list, tuple)):
        values = tuple(values[0])
    if not values:
        raise ValueError("has_any() needs at least one value")
    return _call("has_any", _as_column(column), *map(_as_expr, values))


def case(*whens, else_=None) -> Expr:
    """``CASE WHEN c1 THEN v1 ... ELSE e END`` from ``(condition, value)`` pairs."""
    if not whens:
        raise ValueError("case() needs at least one (condition, value) pair")
    parts = ["CASE"]
    for cond, value in whens:
        parts.append(f"WHEN {_as_cond(cond).text} THEN {_as_expr(value).text}")
    if else_ is not None:
        parts.append(f"ELSE {_as_expr(else_).text}")
    parts.append("END")
    return Expr(" ".join(parts), atomic=True)


def _as_cond(value) -> Expr:
    # A condition given as a str is SQL text (a string literal is never a useful condition).
    return sql(value) if isinstance(value, str) else _as_expr(value)


def round_(x, digits: int = 0) -> Expr:
    """Half away from zero; ``digits`` may be negative (``round_(x, -2)``: to hundreds)."""
    return _call("round", _as_expr(x), lit(int(digits))) if digits else _call("round", _as_expr(x))


def floor(x) -> Expr:
    return _call("floor", _as_expr(x))


def ceil(x) -> Expr:
    return _call("ceil", _as_expr(x))


def sign(x) -> Expr:
    return _call("sign", _as_expr(x))


def pow_(x, y) -> Expr:
    return _call("pow", _as_expr(x), _as_expr(y))


def log10(x) -> Expr:
    return _call("log10", _as_expr(x))


def log2(x) -> Expr:
    return _call("log2", _as_expr(x))


def mod(x, y) -> Expr:
    return _call("mod", _as_expr(x), _as_expr(y))


def _cast(kind: str, x, to: str) -> Expr:
    t = _CAST_TYPES.get(str(to).lower())
    if t is None:
        raise ValueError(f"cannot cast to {to!r}; the types are {sorted(set(_CAST_TYPES.values()))}")
    return Expr(f"{kind}({_as_expr(x).text} AS {t})", atomic=True)


def cast(x, to: str) -> Expr:
    """``CAST(x AS to)`` (a value that does not convert is NULL)."""
    return _cast("CAST", x, to)


def try_cast(x, to: str) -> Expr:
    return _cast("TRY_CAST", x, to)


def date(text) -> Expr:
    """A DATE literal: ``date("2026-01-01")`` or a ``datetime.date``."""
    return Expr(f"DATE {lit(str(text)).text}", atomic=True)


def timestamp(text) -> Expr:
    """A TIMESTAMP literal (UTC): ``timestamp("2026-01-01 12:00:00")`` or a ``datetime``."""
    if hasattr(text, "isoformat"):
        text = text.isoformat(sep=" ")
    return Expr(f"TIMESTAMP {lit(str(text)).text}", atomic=True)


def length(x) -> Expr:
    return _call("length", _as_expr(x))


def trim(x, characters=None) -> Expr:
    return _call("trim", _as_expr(x)) if characters is None else _call("trim", _as_expr(x), _as_expr(characters))


def ends_with(x, suffix) -> Expr:
    return _call("ends_with", _as_expr(x), _as_expr(suffix))


def split_part(x, separator, n: int) -> Expr:
    return _call("split_part", _as_expr(x), _as_expr(separator), lit(int(n)))


def substring(x, start: int, length_=None) -> Expr:
    args = [_as_expr(x), lit(int(start))] + ([] if length_ is None else [lit(int(length_))])
    return _call("substring", *args)


def replace(x, old, new) -> Expr:
    return _call("replace", _as_expr(x), _as_expr(old), _as_expr(new))


def regexp_matches(x, pattern: str, options: str = "") -> Expr:
    args = [_as_expr(x), lit(pattern)] + ([lit(options)] if options else [])
    return _call("regexp_matches", *args)


def strip_accents(x) -> Expr:
    return _call("strip_accents", _as_expr(x))


def concat(*args) -> Expr:
    if not args:
        raise ValueError("concat() needs at least one argument")
    return _call("concat", *map(_as_expr, args))
