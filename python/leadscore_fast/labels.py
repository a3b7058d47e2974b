"""Outcome labels (``converted``, ``y``): the one place a bool, numeric or text column becomes
1.0 (a conversion), 0.0 or NaN (NULL), for every report that reads one (summaries, evaluation).
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["TEXT_POSITIVE", "TEXT_NEGATIVE", "check_label", "label_values", "floats", "is_text"]

# Text labels read without ``positive``: the spellings of a conversion and of its absence
# (compared trimmed and case-insensitively).
TEXT_POSITIVE = ("yes", "y", "true", "t", "1", "converted", "won")
TEXT_NEGATIVE = ("no", "n", "false", "f", "0", "not converted", "lost")


def floats(arr) -> np.ndarray:
    """float64 with NaN for NULL (bools become 0/1)."""
    if pa.types.is_boolean(arr.type):
        arr = arr.cast(pa.int8())
    return np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)


def is_text(t: pa.DataType) -> bool:
    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t)


def check_label(schema: pa.Schema, label: str, positive: str | None, what: str) -> bool:
    """Check ``label`` names a usable outcome column of ``schema`` (QueryError naming it and
    suggesting a close name otherwise); True when it is text."""
    from leadscore_fast.queries import QueryError
    from leadscore_fast.suggest import did_you_mean_or_known

    if label not in schema.names:
        raise QueryError(f"{what}: unknown label column {label!r}"
                         f"{did_you_mean_or_known(label, schema.names)}")
    t = schema.field(label).type
    text = is_text(t)
    if not (text or pa.types.is_boolean(t) or pa.types.is_integer(t) or pa.types.is_floating(t)):
        raise QueryError(f"{what}: label column {label!r} must be bool, numeric or text, got {t}")
    if positive is not None and not text:
        raise QueryError(f"{what}: positive= is for a text label; {label!r} is {t} "
                         "(nonzero / TRUE is a conversion)")
    return text


def label_values(arr, name: str, positive: str | None, text: bool, what: str) -> np.ndarray:
    """One batch's labels as 1.0 / 0.0 / NaN. A text label is a conversion where it equals
    ``positive``, or, without it, one of TEXT_POSITIVE against TEXT_NEGATIVE; any other value
    is a QueryError naming it."""
    if not text:
        return floats(arr)
    import pyarrow.compute as pc

    from leadscore_fast.queries import QueryError

    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    arr = arr.cast(pa.large_string())
    if positive is not None:
        hit = pc.equal(arr, pa.scalar(positive, pa.large_string()))
    else:
        norm = pc.utf8_lower(pc.utf8_trim_whitespace(arr))
        hit = pc.is_in(norm, value_set=pa.array(TEXT_POSITIVE, pa.large_string()))
        known = pc.or_(hit, pc.is_in(norm, value_set=pa.array(TEXT_NEGATIVE, pa.large_string())))
        odd = pc.filter(arr, pc.and_(pc.invert(known), pc.is_valid(arr)))  # NULL is no label
        if len(odd):
            raise QueryError(
                f"{what}: label column {name!r} holds {odd[0].as_py()!r}, which is neither "
                f"a conversion ({'/'.join(TEXT_POSITIVE[:3])}) nor its absence "
                f"({'/'.join(TEXT_NEGATIVE[:3])}): say which value is a conversion with "
                "positive= (--positive VALUE)")
        hit = pc.if_else(pc.is_valid(arr), hit, pa.scalar(None, pa.bool_()))  # NULL stays NULL
    return floats(hit)
