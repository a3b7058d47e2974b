"""Conditions whose string value reads several columns (string `s`, `t`; boolean `b`): the
tuple-key lookups of engine/src/lookup.rs. NULLs, empty strings and non-ASCII text come from
the table; each case reads at least two columns in its string part."""

CASES = [
    # comparisons of two string columns (byte order, as DuckDB compares VARCHAR)
    ("s = t", "bool"), ("s <> t", "bool"), ("s < t", "bool"), ("s <= t", "bool"),
    ("s > t", "bool"), ("s >= t", "bool"), ("t = s", "bool"), ("NOT (s = t)", "bool"),
    # coalesce over the two
    ("coalesce(s, t) = 'gmail.com'", "bool"), ("coalesce(t, s) = ''", "bool"),
    ("coalesce(s, t) IS NULL", "bool"), ("coalesce(s, t) IS NOT NULL", "bool"),
    ("coalesce(s, t, 'none') IN ('none', 'σας', '')", "bool"),
    ("coalesce(s, t) LIKE '%@%'", "bool"), ("coalesce(t, s) ILIKE '%ss%'", "bool"),
    # a boolean column choosing the string
    ("CASE WHEN b THEN s ELSE t END IN ('alice@gmail.com', 'yahoo.com', '')", "bool"),
    ("CASE WHEN b THEN s ELSE t END = 'straße'", "bool"),
    ("CASE WHEN b THEN s END IS NULL", "bool"),
    ("CASE WHEN NOT b THEN t WHEN b THEN s ELSE 'none' END LIKE '%o%'", "bool"),
    ("(CASE WHEN b THEN s ELSE t END) <> s", "bool"),
    # one column as the pattern or needle of the other
    ("s LIKE t", "bool"), ("t LIKE s", "bool"), ("s NOT LIKE t", "bool"),
    ("contains(s, t)", "bool"), ("contains(t, s)", "bool"),
    ("starts_with(s, t)", "bool"), ("starts_with(t, s)", "bool"),
    ("s LIKE coalesce(t, '%')", "bool"), ("coalesce(s, '') LIKE t", "bool"),
    # case maps over the two, non-ASCII text included (DuckDB's per-code-point mapping)
    ("lower(s) = lower(t)", "bool"), ("upper(s) = upper(t)", "bool"), ("s ILIKE t", "bool"),
    ("lower(coalesce(s, t)) IN ('σασ', 'straße', 'istanbul')", "bool"),
    # string functions over the two
    ("length(s || t)", "num"), ("ends_with(s, t)", "bool"), ("starts_with(s || t, 'a')", "bool"),
    ("split_part(coalesce(s, t), '@', 2) = 'gmail.com'", "bool"), ("length(concat(s, t))", "num"),
    ("lower(coalesce(s, t)) = 'gmail.com'", "bool"), ("upper(coalesce(t, s)) LIKE '%COM'", "bool"),
    ("lower(CASE WHEN b THEN s ELSE t END) LIKE '%gmail%'", "bool"),
    # combined with one-column conditions and the boolean outside the string part
    ("s = t OR s IS NULL", "bool"), ("s = t AND b", "bool"), ("s <> t AND t LIKE '%a%'", "bool"),
    ("(s = t) = b", "bool"), ("CASE WHEN s = t THEN b ELSE NOT b END", "bool"),
    ("s = t OR coalesce(s, t) = 'σας'", "bool"),
    # numbers from a multi-column condition
    ("CASE WHEN s = t THEN 10 ELSE 1 END", "num"),
    ("CASE WHEN coalesce(s, t) LIKE '%a%' THEN 2.5 WHEN b THEN 1 END", "num"),
    ("CASE WHEN contains(s, t) THEN i ELSE j END", "num"),
    ("CASE WHEN starts_with(t, s) THEN f END", "num"),
    ("CASE WHEN CASE WHEN b THEN s ELSE t END IN ('', 'padded') THEN 1 ELSE 0 END + j", "num"),
]
