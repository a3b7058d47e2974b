"""The language as it stood before issue 14's additions: comparisons, three-valued logic,
arithmetic, CASE, IN, BETWEEN, LIKE/ILIKE over ASCII, NULL handling, days_since."""

CASES = [
    ("i > 5", "bool"), ("i = j", "bool"), ("i <> j", "bool"), ("f >= 1.5", "bool"),
    ("f < j", "bool"), ("b AND f > 0", "bool"), ("b OR i < 0", "bool"), ("NOT b", "bool"),
    ("i IN (0, 7, NULL)", "bool"), ("j NOT IN (2, 3)", "bool"), ("f BETWEEN -1 AND 3", "bool"),
    ("i IS NULL", "bool"), ("s IS NOT NULL", "bool"), ("s = ''", "bool"),
    ("s IN ('alice@gmail.com', 'NULL', '')", "bool"), ("s LIKE '%@%'", "bool"),
    ("s LIKE 'a_b%'", "bool"), ("s ILIKE 'bob%'", "bool"), ("s NOT LIKE '%e%'", "bool"),
    ("starts_with(s, 'x@')", "bool"), ("contains(s, '@')", "bool"), ("s < 'b'", "bool"),
    ("t = 'gmail.com'", "bool"), ("coalesce(s, 'none') = 'none'", "bool"),
    ("lower(s) = 'bob@yahoo.com'", "bool"), ("upper(t) = 'GMAIL.COM'", "bool"),
    ("j * 2 + 1", "num"), ("j - 3", "num"), ("f * 2", "num"), ("f / j", "num"),
    ("j % 2", "num"), ("f % 2", "num"), ("-j", "num"), ("abs(f)", "num"), ("abs(j)", "num"),
    ("least(f, j)", "num"), ("greatest(f, j, 1)", "num"), ("coalesce(f, j, -1)", "num"),
    ("CASE WHEN b THEN j ELSE f END", "num"), ("CASE j WHEN 2 THEN 10 WHEN 3 THEN 20 END", "num"),
    ("CASE WHEN s LIKE '%@%' THEN 1 ELSE 0 END", "num"), ("sqrt(abs(f))", "num"),
    ("exp(j)", "num"), ("ln(abs(j) + 1)", "num"), ("i / 2", "num"),
]

DEPARTURES: list = []
