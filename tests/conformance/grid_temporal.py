"""DATE and TIMESTAMP values: typed literals, CAST to DATE / TIMESTAMP, and comparisons of
date and timestamp columns with them and with each other (a date compares as its midnight)."""

CASES = [
    ("d >= DATE '2026-01-01'", "bool"), ("d < '2026-01-01'::DATE", "bool"),
    ("ts < TIMESTAMP '2026-01-01 00:00:00.000001'", "bool"),
    ("ts > TIMESTAMP '2026-01-01T00:00:00Z'", "bool"), ("ts <= TIMESTAMP '2025-12-31 23:59:59.999999'", "bool"),
    ("d = ts", "bool"), ("ts >= d", "bool"), ("d <> ts", "bool"),
    ("d BETWEEN DATE '2025-12-31' AND DATE '2026-06-15'", "bool"),
    ("ts NOT BETWEEN DATE '2026-01-01' AND TIMESTAMP '2026-06-30 12:00'", "bool"),
    ("CAST('2026-01-02' AS DATE) > d", "bool"), ("CAST('2026-1-2 10:00' AS DATE) = d", "bool"),
    ("coalesce(d, DATE '2000-01-01') < DATE '2001-01-01'", "bool"),
    ("greatest(d, ts) > TIMESTAMP '2026-06-01'", "bool"), ("least(d, DATE '2026-01-01') = d", "bool"),
    ("CAST(d AS TIMESTAMP) = ts", "bool"), ("ts IS DISTINCT FROM d", "bool"),
    ("d IS NOT DISTINCT FROM DATE '2026-01-01'", "bool"), ("d IN (DATE '2026-01-01', DATE '2024-02-29')", "bool"),
    ("TRY_CAST(s AS DATE) IS NULL", "bool"), ("TRY_CAST(t AS TIMESTAMP) IS NULL", "bool"),
    ("CASE WHEN b THEN d ELSE ts END >= DATE '2026-01-01'", "bool"),
    ("CASE WHEN ts >= TIMESTAMP '2026-01-01' THEN 10 ELSE 0 END", "num"),
    ("TIMESTAMP '2026-01-02 24:00:00' = DATE '2026-01-03'", "bool"),
]
