"""Benchmark workloads: models described as small Python specs, rendered to leadscore model
dicts, plus *generic* peers translated from the same spec (plain Python row by row, NumPy with
pyarrow.compute for strings, Polars expressions). DuckDB runs the engine's own translation
(``leadscore_fast.to_sql``). No model text is ever eval'd: every peer is built from the spec.

Spec vocabulary (tuples, so specs are hashable and print readably):

    conditions (a rule's ``when`` is their AND; empty = always)
        ("cmp", col, op, k)          col op k           op in > >= < <= =
        ("between", col, lo, hi)     col BETWEEN lo AND hi
        ("in", col, values)          col IN ('a', 'b')            dictionary or plain strings
        ("like", col, pattern, ci)   col LIKE / ILIKE 'pat%'
        ("starts", col, prefix)      starts_with(col, 'prefix')
        ("split_in", col, sep, n, values)  split_part(col, sep, n) IN ('a', ...)   (n >= 1)
        ("regexp", col, pattern)     regexp_matches(col, 'pattern')
        ("coalesce_in", col, col2, values)  coalesce(col, col2) IN ('a', ...)   (two columns)
        ("flag", col)                col                           (a bool column)
        ("age", col, op, k)          days_since(col) op k          (timestamp or date column)
    points
        ("const", v)                 v (an int)
        ("lin", a, col)              a * col                       (a is a float)
        ("div", col, d)              col / d
        ("decay", p, col, hl)        decay(p, days_since(col), hl)

Semantics follow the README: a rule adds least(points, cap) where every condition is TRUE
and points is not NULL; a score is the left-to-right float64 sum of its rules, clamped to its
range; ``total`` is a weighted sum of the scores; ``tier`` is hot/warm/cold by thresholds.
"""
from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.synthetic import (COUNTRIES, INDUSTRIES, JOB_TITLES, REFERENCE_AS_OF,
                                      REFERENCE_MODEL_YAML, email_domains, utm_campaigns)

AS_OF_US = int(dt.datetime.fromisoformat(REFERENCE_AS_OF.replace("Z", "+00:00")).timestamp()
               * 1_000_000)
DAY_US = 86_400_000_000
TIERS = ["hot", "warm", "cold"]

INT_COLS = {"company_size": (1, 20_000), "pricing_visits": (0, 8), "web_visits": (0, 30),
            "email_opens": (0, 25)}
FLOAT_COLS = {"annual_revenue": (1e5, 5e8)}
BOOL_COLS = ["email_domain_free", "unsubscribed", "webinar_attended"]
DICT_COLS = {"industry": INDUSTRIES, "country": COUNTRIES, "job_title": JOB_TITLES}
TIME_COLS = {"last_activity_at": "timestamp", "created_at": "date"}
STRING_COLS = ["email_domain", "utm_campaign"]  # plain strings, generate_leads(high_cardinality)
_OPS = {">": np.greater, ">=": np.greater_equal, "<": np.less, "<=": np.less_equal,
        "=": np.equal}


@dataclass(frozen=True)
class Spec:
    name: str
    scores: tuple            # ((score name, (lo, hi) or None, (rule, ...)), ...)
    weights: tuple           # total = sum(w * score) in score order
    hot: float
    warm: float

    @property
    def n_rules(self) -> int:
        return sum(len(r) for _, _, r in self.scores)

    def columns(self) -> list[str]:
        """Every input column the model reads, in first-use order."""
        seen: dict[str, None] = {}
        for _, _, rules in self.scores:
            for _, conds, pts, _ in rules:
                for c in conds:
                    seen[c[1]] = None
                    if c[0] == "coalesce_in":
                        seen[c[2]] = None
                if pts[0] in ("lin", "decay"):
                    seen[pts[2]] = None
                elif pts[0] == "div":
                    seen[pts[1]] = None
        return list(seen)

    def model_dict(self) -> dict:
        """The model in leadscore's YAML layout (``Model.from_dict``)."""
        scores = {}
        for sname, rng, rules in self.scores:
            body: dict = {"rules": [_rule_dict(r) for r in rules]}
            if rng is not None:
                body["range"] = list(rng)
            scores[sname] = body
        scores["total"] = {"expr": " + ".join(f"{w!r} * {s}" for w, (s, _, _) in
                                              zip(self.weights, self.scores))}
        return {"name": self.name, "as_of": REFERENCE_AS_OF, "scores": scores,
                "segments": {"tier": [{"name": "hot", "when": f"total >= {self.hot!r}"},
                                      {"name": "warm", "when": f"total >= {self.warm!r}"},
                                      {"name": "cold"}]}}

    def model(self):
        from leadscore_fast import Model

        return Model.from_dict(self.model_dict())

    @property
    def outputs(self) -> list[str]:
        return [s for s, _, _ in self.scores] + ["total"]


# ------------------------------------------------------------------ rendering to model text
def _lit(v) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)


def cond_text(c) -> str:
    kind, col = c[0], c[1]
    if kind == "cmp":
        return f"{col} {c[2]} {_lit(c[3])}"
    if kind == "between":
        return f"{col} BETWEEN {_lit(c[2])} AND {_lit(c[3])}"
    if kind == "in":
        return f"{col} IN ({', '.join(_lit(v) for v in c[2])})"
    if kind == "like":
        return f"{col} {'ILIKE' if c[3] else 'LIKE'} {_lit(c[2])}"
    if kind == "starts":
        return f"starts_with({col}, {_lit(c[2])})"
    if kind == "split_in":
        return f"split_part({col}, {_lit(c[2])}, {c[3]}) IN ({', '.join(_lit(v) for v in c[4])})"
    if kind == "regexp":
        return f"regexp_matches({col}, {_lit(c[2])})"
    if kind == "coalesce_in":
        return f"coalesce({col}, {c[2]}) IN ({', '.join(_lit(v) for v in c[3])})"
    if kind == "flag":
        return col
    if kind == "age":
        return f"days_since({col}) {c[2]} {_lit(c[3])}"
    raise ValueError(c)


def points_text(p) -> str:
    if p[0] == "const":
        return str(p[1])
    if p[0] == "lin":
        return f"{p[1]!r} * {p[2]}"
    if p[0] == "div":
        return f"{p[1]} / {p[2]!r}"
    if p[0] == "decay":
        return f"decay({p[1]!r}, days_since({p[2]}), {p[3]!r})"
    raise ValueError(p)


def _rule_dict(rule) -> dict:
    name, conds, pts, cap = rule
    d = {"name": name, "points": points_text(pts)}
    if conds:
        d["when"] = " AND ".join(cond_text(c) for c in conds)
    if cap is not None:
        d["cap"] = cap
    return d


def like_regex(pattern: str, ci: bool) -> str:
    """SQL LIKE (no ESCAPE) as an anchored regex: % any run, _ any one character."""
    out = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return ("(?is)" if ci else "(?s)") + "^" + out + "$"


# ------------------------------------------------------------------ the workloads
def reference_spec() -> Spec:
    """REFERENCE_MODEL_YAML as a spec (the generic peers use it; the tests check it matches)."""
    fit = (
        ("target industry", (("in", "industry", ("software", "fintech", "biotech")),),
         ("const", 20), None),
        ("adjacent industry", (("in", "industry", ("healthcare", "insurance", "telecom",
                                                   "media")),), ("const", 8), None),
        ("mid-market size", (("between", "company_size", 50, 5000),), ("const", 15), None),
        ("enterprise size", (("cmp", "company_size", ">", 5000),), ("const", 10), None),
        ("decision maker", (("in", "job_title", ("CEO", "CTO", "CMO", "VP Marketing",
                                                 "VP Sales", "Head of Growth")),),
         ("const", 20), None),
        ("revenue", (("cmp", "annual_revenue", ">", 0.0),),
         ("div", "annual_revenue", 2000000.0), 15.0),
        ("target country", (("in", "country", ("US", "GB", "DE", "CA", "AU")),),
         ("const", 5), None),
        ("free email domain", (("flag", "email_domain_free"),), ("const", -15), None),
    )
    eng = (
        ("pricing page visits", (), ("lin", 5.0, "pricing_visits"), 25.0),
        ("web visits", (("cmp", "web_visits", ">=", 3),), ("lin", 2.0, "web_visits"), 20.0),
        ("email opens", (), ("lin", 1.5, "email_opens"), 15.0),
        ("webinar", (("flag", "webinar_attended"),), ("const", 15), None),
        ("recent activity", (), ("decay", 30.0, "last_activity_at", 14.0), None),
        ("gone quiet", (("age", "last_activity_at", ">", 180),), ("const", -10), None),
        ("low intent", (("cmp", "pricing_visits", "=", 0), ("cmp", "web_visits", "<", 2)),
         ("const", -10), None),
        ("unsubscribed", (("flag", "unsubscribed"),), ("const", -40), None),
    )
    return Spec("reference-b2b", (("fit", (0, 100), fit), ("engagement", (0, 100), eng)),
                (0.6, 0.4), 40.0, 25.0)


def _random_cond(r: random.Random):
    kind = r.choices(["int", "between", "float", "dict", "flag", "age", "and"],
                     [5, 2, 2, 4, 2, 2, 2])[0]
    if kind == "int":
        col = r.choice(sorted(INT_COLS))
        lo, hi = INT_COLS[col]
        return (("cmp", col, r.choice(list(_OPS)), r.randint(lo, hi // 2)),)
    if kind == "between":
        col = r.choice(sorted(INT_COLS))
        lo, hi = INT_COLS[col]
        a = r.randint(lo, hi // 3)
        return (("between", col, a, a + r.randint(1, hi // 2)),)
    if kind == "float":
        lo, hi = FLOAT_COLS["annual_revenue"]
        return (("cmp", "annual_revenue", r.choice([">", "<", ">="]),
                 float(round(r.uniform(lo, hi / 20), 2))),)
    if kind == "dict":
        col = r.choice(sorted(DICT_COLS))
        values = DICT_COLS[col]
        return (("in", col, tuple(r.sample(values, r.randint(1, min(6, len(values) - 1))))),)
    if kind == "flag":
        return (("flag", r.choice(BOOL_COLS)),)
    if kind == "age":
        return (("age", r.choice(sorted(TIME_COLS)), r.choice([">", "<", ">="]),
                 r.choice([7, 14, 30, 60, 90, 180, 365])),)
    return _random_cond(r)[:1] + _random_cond(r)[:1]


def _random_rule(r: random.Random, i: int):
    conds = () if r.random() < 0.15 else _random_cond(r)
    kind = r.choices(["const", "lin", "div", "decay"], [10, 3, 1, 1])[0]
    cap = None
    if kind == "const":
        pts = ("const", r.choice([-20, -15, -10, -8, -5, -3, 2, 3, 5, 8, 10, 15]))
    elif kind == "lin":
        pts = ("lin", r.choice([0.5, 1.0, 1.5, 2.0, 3.0, 5.0]), r.choice(sorted(INT_COLS)))
        cap = float(r.choice([5, 10, 15, 20, 25]))
        if r.random() < 0.5:
            pts, cap = ("lin", -pts[1], pts[2]), -cap / 4  # a penalty, capped at its floor-ish
    elif kind == "div":
        pts = ("div", "annual_revenue", float(r.choice([1e6, 2e6, 5e6, 1e7])))
        cap = float(r.choice([5, 10, 15]))
    else:
        pts = ("decay", float(r.choice([5, 10, 20, 30])), r.choice(sorted(TIME_COLS)),
               float(r.choice([7, 14, 30, 90])))
    return (f"rule {i}", conds, pts, cap)


def generated_spec(n_rules: int, seed: int = 200) -> Spec:
    """A deterministic random model of ``n_rules`` rules over the default columns, split into
    scores of at most 100 rules (s0, s1, ...), each clamped to [-100, 100]; total = their mean."""
    r = random.Random(seed * 1_000_003 + n_rules)
    rules = [_random_rule(r, i) for i in range(n_rules)]
    per = 100
    scores = tuple((f"s{k}", (-100, 100), tuple(rules[k * per:(k + 1) * per]))
                   for k in range((n_rules + per - 1) // per))
    k = len(scores)
    spec = Spec(f"generated-{n_rules}", scores, tuple([round(1.0 / k, 6)] * k), 0.0, 0.0)
    # Tier thresholds at the 80th/40th percentile of the total on a small seeded sample, so
    # every tier is populated whatever the random rules add up to (deterministic).
    from leadscore_fast.synthetic import generate_leads

    sample = generate_leads(4_000, seed=1, null_rate=0.05)
    total = score_numpy(spec, numpy_prepare(sample, spec.columns()))["total"]
    hot, warm = (float(np.round(np.percentile(total, q), 3)) for q in (80, 40))
    return Spec(spec.name, scores, spec.weights, hot, min(warm, hot - 0.001))


def string_heavy_spec(seed: int = 7) -> Spec:
    """LIKE/ILIKE/starts_with and IN over two ~100k-distinct plain string columns
    (``generate_leads(..., high_cardinality=True)``), plus a few dictionary/numeric rules, and
    a third score of string functions (split_part, regexp_matches) and a condition on two
    dictionary columns (coalesce(industry, job_title) IN ...)."""
    r = random.Random(seed)
    domains, campaigns = email_domains(), utm_campaigns()
    accounts = tuple(r.sample(domains[10:], 500))       # a target-account list
    bad = tuple(r.sample(domains[10:], 200))            # competitors / known spam
    hot_campaigns = tuple(r.sample(campaigns, 300))
    account = (
        ("free mail", (("in", "email_domain", tuple(domains[:10])),), ("const", -15), None),
        ("target account", (("in", "email_domain", accounts),), ("const", 30), None),
        ("blocked domain", (("in", "email_domain", bad),), ("const", -40), None),
        ("startup tld", (("like", "email_domain", "%.io", False),), ("const", 5), None),
        ("ai tld", (("like", "email_domain", "%.ai", False),), ("const", 8), None),
        ("uk company", (("like", "email_domain", "%.co.uk", False),), ("const", 3), None),
        ("tech name", (("like", "email_domain", "%TECH%", True),), ("const", 4), None),
        ("data name", (("starts", "email_domain", "data"),), ("const", 4), None),
        ("cloud name", (("like", "email_domain", "%cloud%", False),), ("const", 3), None),
        ("german", (("like", "email_domain", "%.de", False),
                    ("in", "country", ("DE", "NL")),), ("const", 2), None),
        ("target industry", (("in", "industry", ("software", "fintech", "biotech")),),
         ("const", 10), None),
        ("decision maker", (("in", "job_title", ("CEO", "CTO", "CMO", "VP Marketing")),),
         ("const", 10), None),
    )
    campaign = (
        ("hot campaign", (("in", "utm_campaign", hot_campaigns),), ("const", 20), None),
        ("linkedin", (("like", "utm_campaign", "%_linkedin_%", False),), ("const", 8), None),
        ("g2 or capterra", (("like", "utm_campaign", "%_g2_%", False),), ("const", 10), None),
        ("capterra", (("like", "utm_campaign", "%CAPTERRA%", True),), ("const", 10), None),
        ("webinar campaign", (("like", "utm_campaign", "%webinar%", False),), ("const", 6),
         None),
        ("pricing campaign", (("like", "utm_campaign", "%PRICING%", True),), ("const", 12),
         None),
        ("this year", (("starts", "utm_campaign", "2026"),), ("const", 5), None),
        ("q3 launch", (("like", "utm_campaign", "%q3_launch%", False),), ("const", 7), None),
        ("black friday", (("like", "utm_campaign", "%black_friday%", False),),
         ("const", -5), None),
        ("retarget", (("like", "utm_campaign", "2025w___%retarget%", False),),
         ("const", -3), None),
        ("pricing visits", (), ("lin", 5.0, "pricing_visits"), 25.0),
        ("recent", (), ("decay", 20.0, "last_activity_at", 14.0), None),
    )
    signals = (  # string functions and a condition on two string columns
        ("paid source", (("split_in", "utm_campaign", "_", 2, ("linkedin", "google", "bing")),),
         ("const", 8), None),
        ("launch theme", (("split_in", "utm_campaign", "_", 3, ("q3", "spring", "summer")),),
         ("const", 4), None),
        ("last year", (("split_in", "utm_campaign", "w", 1, ("2025",)),), ("const", -2), None),
        ("data or cloud", (("regexp", "email_domain", "^(data|cloud)"),), ("const", 4), None),
        ("startup tld re", (("regexp", "email_domain", "[0-9]\\.(io|ai|app)$"),),
         ("const", 5), None),
        ("round number", (("regexp", "utm_campaign", "_0[0-9]{2}00$"),), ("const", 2), None),
        ("known segment", (("coalesce_in", "industry", "job_title",
                            ("software", "fintech", "CEO", "CTO")),), ("const", 6), None),
    )
    return Spec("string-heavy", (("account", (0, 100), account),
                                 ("campaign", (0, 100), campaign),
                                 ("signals", (0, 100), signals)), (0.4, 0.4, 0.2), 30.0, 15.0)


def decay_spec() -> Spec:
    """Time decay: several half-lives over a timestamp and a date column."""
    recency = tuple(
        (f"activity hl {hl}", (), ("decay", p, "last_activity_at", hl), None)
        for p, hl in ((30.0, 7.0), (20.0, 14.0), (15.0, 30.0), (10.0, 90.0)))
    recency += (
        ("new lead", (), ("decay", 15.0, "created_at", 30.0), None),
        ("old lead", (), ("decay", 5.0, "created_at", 365.0), None),
        ("this week", (("age", "last_activity_at", "<", 7),), ("const", 10), None),
        ("this month", (("age", "last_activity_at", "<", 30),), ("const", 5), None),
        ("gone quiet", (("age", "last_activity_at", ">", 180),), ("const", -15), None),
        ("stale", (("age", "created_at", ">", 540),), ("const", -5), None),
        ("active webinar", (("flag", "webinar_attended"), ("age", "last_activity_at", "<", 14)),
         ("decay", 25.0, "last_activity_at", 10.0), None),
        ("pricing recency", (("cmp", "pricing_visits", ">=", 1),),
         ("decay", 20.0, "last_activity_at", 21.0), None),
    )
    return Spec("decay", (("recency", (0, 100), recency),), (1.0,), 30.0, 15.0)


# ------------------------------------------------------------------ plain Python, row by row
def _days_py(v) -> float | None:
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        d = v - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
        us = (d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds
    else:
        us = (v - dt.date(1970, 1, 1)).days * DAY_US
    return (AS_OF_US - us) / DAY_US


_PY_CMP = {">": lambda a, b: a > b, ">=": lambda a, b: a >= b, "<": lambda a, b: a < b,
           "<=": lambda a, b: a <= b, "=": lambda a, b: a == b}


def _cond_py(c, row):
    """True / False / None (NULL) for one row."""
    kind, v = c[0], row[c[1]]
    if kind == "age":
        v = _days_py(v)
    if kind == "coalesce_in":
        v = v if v is not None else row[c[2]]
        return None if v is None else v in c[3]
    if v is None:
        return None
    if kind in ("cmp", "age"):
        return _PY_CMP[c[2]](v, c[3])
    if kind == "between":
        return c[2] <= v <= c[3]
    if kind == "in":
        return v in c[2]
    if kind == "like":
        return re.match(like_regex(c[2], c[3]), v) is not None
    if kind == "starts":
        return v.startswith(c[2])
    if kind == "split_in":
        parts = v.split(c[2])
        return (parts[c[3] - 1] if c[3] <= len(parts) else "") in c[4]
    if kind == "regexp":
        return re.search(c[2], v) is not None
    if kind == "flag":
        return bool(v)
    raise ValueError(c)


def _points_py(p, row):
    if p[0] == "const":
        return float(p[1])
    if p[0] == "lin":
        v = row[p[2]]
        return None if v is None else p[1] * v
    if p[0] == "div":
        v = row[p[1]]
        return None if v is None else v / p[2]
    d = _days_py(row[p[2]])
    return None if d is None else p[1] * 0.5 ** (d / p[3])


def score_python(spec: Spec, table: pa.Table) -> dict:
    """name -> list (scores) and 'tier' -> list of labels: the semantics written out."""
    out = {n: [] for n in spec.outputs + ["tier"]}
    for row in table.select(spec.columns()).to_pylist():
        total = 0.0
        for (sname, rng, rules), w in zip(spec.scores, spec.weights):
            acc = 0.0
            for _, conds, pts, cap in rules:
                if all(_cond_py(c, row) is True for c in conds):
                    v = _points_py(pts, row)
                    if v is not None:
                        acc += v if cap is None else min(v, cap)
            if rng is not None:
                acc = min(max(acc, rng[0]), rng[1])
            out[sname].append(acc)
        total = 0.0
        for (sname, _, _), w in zip(spec.scores, spec.weights):
            total += w * out[sname][-1]  # 0.6 * fit + 0.4 * engagement, left to right
        out["total"].append(total)
        out["tier"].append("hot" if total >= spec.hot else "warm" if total >= spec.warm
                           else "cold")
    return out


# ------------------------------------------------------------------ NumPy (generic)
def numpy_prepare(table: pa.Table, columns) -> dict:
    """Untimed conversion (generous): numeric/bool/time columns as (values, valid) numpy arrays,
    dictionary columns as (codes, valid, dictionary values), plain strings as one Arrow array."""
    out = {}
    for name in columns:
        col = table.column(name)
        typ = col.type
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            out[name] = ("str", col.combine_chunks())
            continue
        if pa.types.is_dictionary(typ):
            col = col.unify_dictionaries() if hasattr(col, "unify_dictionaries") else col
            arr = col.combine_chunks()
            valid = arr.is_valid().to_numpy(zero_copy_only=False)
            codes = arr.indices.fill_null(0).to_numpy()
            out[name] = ("dict", codes, valid, np.asarray(arr.dictionary.to_pylist(), object))
            continue
        arr = col.combine_chunks()
        valid = arr.is_valid().to_numpy(zero_copy_only=False)
        if pa.types.is_timestamp(typ):
            vals = arr.cast(pa.int64()).fill_null(0).to_numpy()
            if typ.unit != "us":
                raise NotImplementedError(typ)
        elif pa.types.is_date32(typ):
            vals = arr.cast(pa.int32()).fill_null(0).to_numpy().astype(np.int64) * DAY_US
        else:
            vals = arr.fill_null(False if pa.types.is_boolean(typ) else 0).to_numpy(
                zero_copy_only=False)
        out[name] = ("num", vals, valid)
    return out


def _cond_np(c, cols, cache):
    kind, name = c[0], c[1]
    col = cols[name]
    if col[0] == "str":
        arr = col[1]
        if kind == "in":
            m = pc.is_in(arr, value_set=pa.array(list(c[2]), arr.type))
        elif kind == "like":
            m = pc.match_like(arr, c[2], ignore_case=c[3])
        elif kind == "starts":
            m = pc.starts_with(arr, c[2])
        elif kind == "split_in":  # the n-th part (a missing part is '', never in the list)
            assert len(c[2]) == 1, "the NumPy peer splits on one character"
            sep = re.escape(c[2])
            part = pc.struct_field(pc.extract_regex(
                arr, f"^(?:[^{sep}]*{sep}){{{c[3] - 1}}}(?P<p>[^{sep}]*)"), "p")
            m = pc.is_in(part, value_set=pa.array(list(c[4]), part.type))
        elif kind == "regexp":
            m = pc.match_substring_regex(arr, c[2])
        else:
            raise ValueError(c)
        return pc.fill_null(m, False).to_numpy(zero_copy_only=False)
    if kind == "coalesce_in":  # two dictionary columns: the predicate once per value of each
        _, codes, valid, values = col
        _, codes2, valid2, values2 = cols[c[2]]
        first = np.isin(values, list(c[3]))[codes]
        second = np.isin(values2, list(c[3]))[codes2] & valid2
        return np.where(valid, first, second)
    if col[0] == "dict":
        _, codes, valid, values = col
        lut = np.isin(values, list(c[2]))  # the predicate once per distinct value
        return lut[codes] & valid
    _, vals, valid = col
    if kind == "cmp":
        return _OPS[c[2]](vals, c[3]) & valid
    if kind == "between":
        return (vals >= c[2]) & (vals <= c[3]) & valid
    if kind == "flag":
        return vals & valid
    if kind == "age":
        return _OPS[c[2]](_days_np(name, cols, cache), c[3]) & valid
    raise ValueError(c)


def _days_np(name, cols, cache):
    if name not in cache:
        cache[name] = (AS_OF_US - cols[name][1]).astype(np.float64) / float(DAY_US)
    return cache[name]


def _points_np(p, cols, cache):
    """(values, valid or None)."""
    if p[0] == "const":
        return float(p[1]), None
    if p[0] == "lin":
        _, v, ok = cols[p[2]]
        return p[1] * v.astype(np.float64), ok
    if p[0] == "div":
        _, v, ok = cols[p[1]]
        return v / p[2], ok
    return p[1] * np.power(0.5, _days_np(p[2], cols, cache) / p[3]), cols[p[2]][2]


def score_numpy(spec: Spec, cols: dict) -> dict:
    n = len(next(iter(cols.values()))[1])
    cache: dict = {}
    out = {}
    total = np.zeros(n)
    for (sname, rng, rules), w in zip(spec.scores, spec.weights):
        acc = np.zeros(n)
        for _, conds, pts, cap in rules:
            v, ok = _points_np(pts, cols, cache)
            if cap is not None:
                v = np.minimum(v, cap)
            mask = ok
            for c in conds:
                m = _cond_np(c, cols, cache)
                mask = m if mask is None else mask & m
            if mask is None:
                acc = acc + v
            else:
                acc = acc + np.where(mask, v, 0.0)
        if rng is not None:
            acc = np.clip(acc, rng[0], rng[1])
        out[sname] = acc
    for (sname, _, _), w in zip(spec.scores, spec.weights):
        total = total + w * out[sname]
    out["total"] = total
    out["tier"] = np.where(total >= spec.hot, 0, np.where(total >= spec.warm, 1, 2))
    return out


# ------------------------------------------------------------------ Polars (generic)
def polars_frame(table: pa.Table, columns):
    import polars as pl

    return pl.from_arrow(table.select(columns))


def _polars_exprs(spec: Spec):
    import polars as pl

    typ = {}

    def days(name):
        c = pl.col(name)
        us = (c.dt.epoch("us") if TIME_COLS[name] == "timestamp"
              else c.cast(pl.Int32).cast(pl.Int64) * DAY_US)
        return (pl.lit(AS_OF_US) - us).cast(pl.Float64) / float(DAY_US)

    def cond(c):
        kind, name = c[0], c[1]
        col = pl.col(name)
        if kind == "cmp":
            e = {">": col > c[3], ">=": col >= c[3], "<": col < c[3], "<=": col <= c[3],
                 "=": col == c[3]}[c[2]]
        elif kind == "between":
            e = col.is_between(c[2], c[3])
        elif kind == "in":
            e = col.cast(pl.String).is_in(list(c[2])) if name in DICT_COLS else \
                col.is_in(list(c[2]))
        elif kind == "like":
            e = col.str.contains(like_regex(c[2], c[3]))
        elif kind == "starts":
            e = col.str.starts_with(c[2])
        elif kind == "split_in":
            e = col.str.split(c[2]).list.get(c[3] - 1, null_on_oob=True).fill_null("") \
                .is_in(list(c[4]))
        elif kind == "regexp":
            e = col.str.contains(c[2])
        elif kind == "coalesce_in":
            e = pl.coalesce(col.cast(pl.String), pl.col(c[2]).cast(pl.String)).is_in(list(c[3]))
        elif kind == "flag":
            e = col
        elif kind == "age":
            d = days(name)
            e = {">": d > c[3], ">=": d >= c[3], "<": d < c[3], "<=": d <= c[3],
                 "=": d == c[3]}[c[2]]
        else:
            raise ValueError(c)
        return e.fill_null(False)

    def points(p):
        if p[0] == "const":
            return pl.lit(float(p[1]))
        if p[0] == "lin":
            return p[1] * pl.col(p[2]).cast(pl.Float64)
        if p[0] == "div":
            return pl.col(p[1]) / p[2]
        return p[1] * pl.lit(0.5).pow(days(p[2]) / p[3])

    del typ
    exprs = []
    for sname, rng, rules in spec.scores:
        acc = pl.lit(0.0)
        for _, conds, pts, cap in rules:
            v = points(pts)
            if cap is not None:
                v = v.clip(upper_bound=cap)
            m = v.is_not_null()
            for c in conds:
                m = m & cond(c)
            acc = acc + pl.when(m).then(v).otherwise(0.0)
        if rng is not None:
            acc = acc.clip(float(rng[0]), float(rng[1]))
        exprs.append(acc.alias(sname))
    total = pl.lit(0.0)
    for (sname, _, _), w in zip(spec.scores, spec.weights):
        total = total + w * pl.col(sname)
    tier = (pl.when(pl.col("total") >= spec.hot).then(0)
            .when(pl.col("total") >= spec.warm).then(1).otherwise(2).cast(pl.Int32))
    return exprs, total.alias("total"), tier.alias("tier")


def score_polars(spec: Spec, df) -> dict:
    exprs, total, tier = _polars_exprs(spec)
    out = df.lazy().select(exprs).with_columns(total).with_columns(tier).collect()
    return {name: out[name].to_numpy() for name in spec.outputs + ["tier"]}


# ------------------------------------------------------------------ DuckDB (engine's SQL)
def duckdb_sql(spec_or_model, schema, keep_id: bool = True) -> str:
    """``leadscore_fast.to_sql`` over relation ``leads``; with ``keep_id`` the final SELECT also
    returns ``lead_id`` (DuckDB's parallel Arrow scan does not keep input order)."""
    import leadscore_fast as lf

    model = spec_or_model.model() if isinstance(spec_or_model, Spec) else spec_or_model
    sql = lf.to_sql(model, schema, relation="leads")
    if keep_id:
        head, sep, tail = sql.rpartition("\nSELECT ")
        if not sep:
            raise ValueError("unexpected to_sql layout: no final SELECT")
        sql = head + sep + '"lead_id", ' + tail
    return sql


def score_duckdb(con, table: pa.Table, sql: str) -> pa.Table:
    con.register("leads", table)
    try:
        return con.sql(sql).to_arrow_table()
    finally:
        con.unregister("leads")


# ------------------------------------------------------------------ normalising and agreement
def normalize(result, outputs) -> dict:
    """Any peer's result (an Arrow table from leadscore/DuckDB, or a dict from the generic
    peers) as {name: float64 numpy array, 'tier': int codes (-1 NULL)}, in input order."""
    if isinstance(result, pa.Table):
        if "lead_id" in result.column_names:
            ids = result.column("lead_id").to_numpy()
            if ids.size and (np.diff(ids) < 0).any():
                result = result.take(pa.array(np.argsort(ids, kind="stable")))
        out = {n: result.column(n).to_numpy() for n in outputs}
        tier = result.column("tier").cast(pa.string())
        out["tier"] = pc.fill_null(pc.index_in(tier, value_set=pa.array(TIERS)), -1).to_numpy()
        return out
    out = {n: np.asarray(result[n], np.float64) for n in outputs}
    tier = result["tier"]
    if len(tier) and isinstance(tier[0], str):
        tier = [TIERS.index(t) for t in tier]
    out["tier"] = np.asarray(tier, np.int64)
    return out


def assert_agree(got: dict, want: dict, outputs, who: str = "", thresholds=(), rtol=1e-9,
                 atol=1e-9) -> None:
    """Scores equal to rtol/atol with NULLs in the same places; tiers identical except where
    the total is within float noise (atol) of a tier threshold."""
    for n in outputs:
        g, w = got[n], want[n]
        assert g.shape == w.shape, (who, n, g.shape, w.shape)
        np.testing.assert_array_equal(np.isnan(g), np.isnan(w), err_msg=f"{who} {n}: NULLs")
        np.testing.assert_allclose(g, w, rtol=rtol, atol=atol, err_msg=f"{who} {n}")
    bad = np.flatnonzero(got["tier"] != want["tier"])
    if bad.size:
        # a total within float noise of a threshold may legitimately fall either side
        t = want["total"][bad]
        near = np.zeros(t.shape, bool)
        for th in thresholds:
            near |= np.isclose(t, th, rtol=0, atol=atol)
        assert near.all(), f"{who} tier differs at rows {bad[:10]}"

WORKLOADS = {
    "reference": reference_spec,
    "rules-200": lambda: generated_spec(200),
    "string-heavy": string_heavy_spec,
    "decay": decay_spec,
    "rules-1000": lambda: generated_spec(1000),
}

__all__ = ["Spec", "reference_spec", "generated_spec", "string_heavy_spec", "decay_spec",
           "WORKLOADS", "score_python", "numpy_prepare", "score_numpy", "polars_frame",
           "score_polars", "duckdb_sql", "score_duckdb", "normalize", "assert_agree",
           "like_regex", "REFERENCE_MODEL_YAML"]
