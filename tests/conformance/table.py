"""The one table every conformance grid is evaluated over (15 rows: NULLs, empty strings,
non-ASCII text, integers at the int64 limits, dates and timestamps around year ends)."""
from __future__ import annotations

import datetime as dt

import pyarrow as pa

UTC = dt.timezone.utc
D = dt.date
T = dt.datetime

COLUMNS = {
    "s": (pa.string(), ["alice@gmail.com", "Bob@Yahoo.COM", "", None, "ΣΑΣ", "straße",
                        "İstanbul", "ΟΔΟΣ", "ﬁle", "😀 emoji", "  padded  ", "a_b%c", "Ünïcödé",
                        "x@y@z", "NULL"]),
    "t": (pa.string(), ["gmail.com", "yahoo.com", "", "σας", None, "STRASSE", "istanbul", "οδος",
                        "FILE", "😀", "padded", "a\\_b%", "unicode", "x@y@z", "null"]),
    "i": (pa.int64(), [0, 1, -1, 7, -7, None, 4611686018427387904, -9223372036854775808,
                       9223372036854775807, 42, 3, 100, -5, 10, 5]),
    "j": (pa.int64(), [2, -2, 0, 3, 2, 5, None, 1, -1, 0, 7, -3, 2, 3, 1]),
    "f": (pa.float64(), [0.0, 1.5, -2.5, None, 2.5, 0.5, -0.5, 1e300, -0.0, 3.14159, 10.0,
                         7.49999, 1e-300, 123.456, -1e-3]),
    "b": (pa.bool_(), [True, False, None, True, False, True, False, None, True, True, False,
                       False, True, None, False]),
    "flag": (pa.int8(), [0, 1, None, 1, 0, 1, 1, 0, 0, 1, None, 0, 1, 1, 0]),
    "d": (pa.date32(), [D(2026, 1, 1), D(2025, 12, 31), None, D(2026, 6, 15), D(1970, 1, 1),
                        D(2026, 11, 1), D(2000, 2, 29), D(2026, 1, 2), D(1999, 12, 31),
                        D(2026, 10, 31), D(2024, 2, 29), D(2026, 3, 1), D(2030, 1, 1),
                        D(2026, 1, 1), D(2025, 1, 1)]),
    "ts": (pa.timestamp("us", tz="UTC"),
           [T(2026, 1, 1, tzinfo=UTC), T(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), None,
            T(2026, 6, 15, 12, 30, tzinfo=UTC), T(1970, 1, 1, tzinfo=UTC),
            T(2026, 11, 1, tzinfo=UTC), T(2000, 2, 29, 6, tzinfo=UTC),
            T(2026, 1, 1, 0, 0, 0, 1, tzinfo=UTC), T(1999, 12, 31, 23, tzinfo=UTC),
            T(2026, 10, 31, 18, tzinfo=UTC), T(2024, 2, 29, tzinfo=UTC),
            T(2026, 3, 1, 9, 15, tzinfo=UTC), T(2030, 1, 1, tzinfo=UTC),
            T(2026, 1, 1, 12, tzinfo=UTC), T(2025, 1, 1, tzinfo=UTC)]),
}
ROWS = 15
STRING_COLUMNS = ("s", "t")


def conformance_table(dictionary: bool = False) -> pa.Table:
    """The grid table; ``dictionary=True`` dictionary-encodes the string columns."""
    cols = {}
    for name, (typ, values) in COLUMNS.items():
        arr = pa.array(values, typ)
        if dictionary and name in STRING_COLUMNS:
            arr = arr.dictionary_encode()
        cols[name] = arr
    return pa.table(cols)
