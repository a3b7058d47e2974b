"""Issue 14's numeric forms: ``//``, round/floor/ceil/sign/pow/log10/log2/mod, CAST and
TRY_CAST, IS [NOT] DISTINCT FROM, IS [NOT] TRUE/FALSE/UNKNOWN, integer flags as conditions;
DEPARTURES: int64 overflow and failed casts are NULL where DuckDB raises an error."""

MAX = 9.223372036854776e+18
HALF = 4.611686018427388e+18

CASES = [
    # // truncates on integers; on floats it is /
    ("i // j", "num"), ("j // 2", "num"), ("(j - 7) // 2", "num"), ("i // 3", "num"),
    ("f // 2", "num"), ("f // j", "num"),
    ("mod(j, 2)", "num"), ("mod(i, j)", "num"), ("mod(f, 2)", "num"), ("mod(-7, j)", "num"),
    # round: floats half away from zero, DuckDB's formula for digits; integers to 10^-digits
    ("round(f)", "num"), ("round(f, 1)", "num"), ("round(f, 2)", "num"), ("round(f, -1)", "num"),
    ("round(f * 3, 3)", "num"), ("round(f, 400)", "num"), ("round(f, -400)", "num"),
    ("round(j)", "num"), ("round(j * 10 + 5, -1)", "num"), ("round(j * 25, -2)", "num"),
    ("round(j, -19)", "num"), ("round(j / 4, 1)", "num"),
    ("floor(f)", "num"), ("ceil(f)", "num"), ("ceiling(j / 2)", "num"), ("floor(j)", "num"),
    ("sign(f)", "num"), ("sign(j)", "num"), ("sign(i)", "num"), ("sign(f) = -1", "bool"),
    ("pow(f, 2)", "num"), ("power(j, 2)", "num"), ("pow(2, j)", "num"), ("pow(abs(f), 0.5)", "num"),
    ("log10(abs(f) + 1)", "num"), ("log2(abs(j) + 1)", "num"), ("log10(100)", "num"),
    # CAST / :: / TRY_CAST
    ("CAST(j AS DOUBLE) / 4", "num"), ("CAST(f * 0 + j AS BIGINT)", "num"), ("CAST(j AS INT)", "num"),
    ("CAST(least(f, 1e6) * 2 AS BIGINT)", "num"), ("CAST(b AS INTEGER)", "num"), ("CAST(b AS DOUBLE)", "num"),
    ("j::BOOLEAN", "bool"), ("f::BOOLEAN", "bool"), ("b::BOOLEAN", "bool"), ("CAST(j AS BIGINT) + 1", "num"),
    ("TRY_CAST(i AS INT)", "num"), ("TRY_CAST(f AS BIGINT)", "num"), ("TRY_CAST(s AS BIGINT)", "num"),
    ("TRY_CAST(s AS DOUBLE)", "num"), ("TRY_CAST(t AS BOOLEAN)", "bool"),
    ("CAST('12' AS INT) + j", "num"), ("'2.5'::BIGINT", "num"), ("CAST(' 1_000 ' AS DOUBLE)", "num"),
    ("CAST('yes' AS BOOLEAN) AND b", "bool"), ("CAST(s AS VARCHAR) = 'x@y@z'", "bool"),
    ("CAST(7 AS VARCHAR) = '7'", "bool"),
    # IS [NOT] DISTINCT FROM
    ("i IS DISTINCT FROM j", "bool"), ("f IS NOT DISTINCT FROM j", "bool"),
    ("s IS DISTINCT FROM t", "bool"), ("s IS NOT DISTINCT FROM NULL", "bool"),
    ("b IS NOT DISTINCT FROM (j > 0)", "bool"), ("j IS DISTINCT FROM 2", "bool"),
    # IS [NOT] TRUE / FALSE / UNKNOWN
    ("b IS TRUE", "bool"), ("b IS NOT TRUE", "bool"), ("(f > 1) IS FALSE", "bool"),
    ("(f > 1) IS NOT FALSE", "bool"), ("(j > 0) IS UNKNOWN", "bool"), ("b IS NOT UNKNOWN", "bool"),
    ("flag IS TRUE", "bool"),
    # a 0/1 integer column as a condition: nonzero is TRUE
    ("flag AND TRUE", "bool"), ("NOT flag", "bool"), ("flag OR b", "bool"), ("j AND flag", "bool"),
    ("CASE WHEN flag THEN 1 ELSE 0 END", "num"), ("CASE WHEN j THEN 10 END", "num"),
]

# to_sql writes these rules out too (DuckDB: HUGEINT arithmetic under TRY_CAST)
DEPARTURES_IN_SQL = True
DEPARTURES = [
    ("i + 1", "num", [1, 2, 0, 8, -6, None, HALF, -MAX, None, 43, 4, 101, -4, 11, 6]),
    ("i - 1", "num", [-1, 0, -2, 6, -8, None, HALF, None, MAX, 41, 2, 99, -6, 9, 4]),
    ("i * 2", "num", [0, 2, -2, 14, -14, None, None, None, None, 84, 6, 200, -10, 20, 10]),
    ("j * i", "num", [0, -2, 0, 21, -14, None, None, -MAX, -MAX, 0, 21, -300, -10, 30, 5]),
    ("-i", "num", [0, -1, 1, -7, 7, None, -HALF, None, -MAX, -42, -3, -100, 5, -10, -5]),
    ("abs(i)", "num", [0, 1, 1, 7, 7, None, HALF, None, MAX, 42, 3, 100, 5, 10, 5]),
    ("i // -1", "num", [0, -1, 1, -7, 7, None, -HALF, None, -MAX, -42, -3, -100, 5, -10, -5]),
    ("round(i, -1)", "num", [0, 0, 0, 10, -10, None, HALF, None, None, 40, 0, 100, -10, 10, 10]),
    ("CAST(i AS INT)", "num", [0, 1, -1, 7, -7, None, None, None, None, 42, 3, 100, -5, 10, 5]),
    ("CAST(f AS BIGINT)", "num", [0, 2, -2, None, 2, 0, 0, None, 0, 3, 10, 7, 0, 123, 0]),
    ("CAST(i AS INT) IS NULL", "bool",
     [False, False, False, False, False, True, True, True, True, False, False, False, False, False, False]),
    ("i + 1 > 0", "bool",
     [True, True, False, True, False, None, True, False, None, True, True, True, False, True, True]),
    ("pow(f, j)", "num", [0, 0.4444444444444444, 1, None, 6.25, 0.03125, None, 1e+300, None, 1, 10000000,
                          0.0023703798518771354, 0, 1881640.2952028161, -0.001]),
    ("log10(f)", "num", [None, 0.17609125905568124, None, None, 0.3979400086720376, -0.3010299956639812, None, 300,
                         None, 0.4971495058611233, 1, 0.8750606843320048, -300, 2.0915122016277716, None]),
    ("log2(j)", "num", [1, None, None, 1.584962500721156, 1, 2.321928094887362, None, 0, None, None,
                        2.807354922057604, None, 1, 1.584962500721156, 0]),
    ("CAST(s AS BIGINT)", "num", [None] * 15),
]
