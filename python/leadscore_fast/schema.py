"""Arrow type → engine column kind (ARCHITECTURE §1). The Rust type checker only sees kinds."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.types as pat


def is_string(t: pa.DataType) -> bool:
    """Plain (not dictionary-encoded) string: utf8, large_utf8 or string_view."""
    return pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t)


def kind_of(arrow_type: pa.DataType) -> str:
    """One of int, float, bool, string, timestamp, date, list_string, null, other."""
    t = arrow_type
    if pat.is_null(t):
        return "null"  # every row NULL: reads as a NULL of whatever type the context needs
    if pat.is_integer(t):
        return "int"
    if pat.is_floating(t):
        return "float"
    if pat.is_boolean(t):
        return "bool"
    if is_string(t) or (pat.is_dictionary(t) and is_string(t.value_type)):
        return "string"
    if pat.is_timestamp(t):
        return "timestamp"
    if pat.is_date(t):
        return "date"
    if (pat.is_list(t) or pat.is_large_list(t)) and is_string(t.value_type):
        return "list_string"
    return "other"


def schema_kinds(schema: pa.Schema) -> list[dict]:
    """``[{"name": ..., "kind": ...}, ...]`` in schema order (the engine's schema JSON)."""
    return [{"name": f.name, "kind": kind_of(f.type)} for f in schema]
