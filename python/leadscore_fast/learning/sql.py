"""Writing SQL text for the learned rules: quoted column names and string literals, numbers
that parse back to the same float."""
from __future__ import annotations

import math

__all__ = ["ident", "string", "number"]


def ident(name: str) -> str:
    """A column name as a SQL identifier: always double-quoted, ``"`` doubled."""
    return '"' + name.replace('"', '""') + '"'


def string(value: str) -> str:
    """A SQL string literal, ``'`` doubled."""
    return "'" + value.replace("'", "''") + "'"


def number(x: float) -> str:
    """A number as SQL text that reads back as the same float64 (integers without '.0')."""
    x = float(x)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {x}")
    if x == int(x) and abs(x) < 2**53:
        return str(int(x))
    return repr(x)
