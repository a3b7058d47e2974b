"""Arrow type → engine column kind (ARCHITECTURE §1)."""
from __future__ import annotations

import pyarrow as pa
import pytest

from leadscore_fast.schema import kind_of, schema_kinds

CASES = [
    *[(getattr(pa, t)(), "int") for t in ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64")],
    (pa.float16(), "float"), (pa.float32(), "float"), (pa.float64(), "float"),
    (pa.bool_(), "bool"),
    (pa.string(), "string"), (pa.large_string(), "string"), (pa.string_view(), "string"),
    (pa.dictionary(pa.int8(), pa.string()), "string"), (pa.dictionary(pa.int32(), pa.large_string()), "string"),
    (pa.dictionary(pa.uint16(), pa.string()), "string"), (pa.dictionary(pa.int32(), pa.int64()), "other"),
    *[(pa.timestamp(u), "timestamp") for u in ("s", "ms", "us", "ns")],
    (pa.timestamp("us", "UTC"), "timestamp"), (pa.timestamp("ns", "Europe/Paris"), "timestamp"),
    (pa.date32(), "date"), (pa.date64(), "date"),
    (pa.list_(pa.string()), "list_string"), (pa.large_list(pa.string()), "list_string"),
    (pa.large_list(pa.large_string()), "list_string"),
    (pa.list_(pa.int64()), "other"), (pa.binary(), "other"), (pa.null(), "null"),
    (pa.decimal128(10, 2), "other"), (pa.struct([("a", pa.int8())]), "other"), (pa.time64("us"), "other"),
]


@pytest.mark.parametrize("typ, kind", CASES, ids=[str(t) for t, _ in CASES])
def test_kind_of(typ, kind):
    assert kind_of(typ) == kind


def test_schema_kinds_in_order():
    s = pa.schema([("b", pa.bool_()), ("a", pa.int8()), ("t", pa.timestamp("ms", "UTC")), ("x", pa.binary())])
    assert schema_kinds(s) == [{"name": "b", "kind": "bool"}, {"name": "a", "kind": "int"},
                               {"name": "t", "kind": "timestamp"}, {"name": "x", "kind": "other"}]
