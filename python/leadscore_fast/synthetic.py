"""Seeded synthetic B2B leads and the reference scoring model used by the demo and benchmarks.

Everything is vectorised numpy: rows are generated in fixed blocks of ``_BLOCK`` rows, each
from its own ``SeedSequence([seed, block])``, so a table is a pure function of ``(n, seed,
null_rate)`` whatever ``batch_rows`` is, and 10M rows take a few seconds.
"""
from __future__ import annotations

import datetime as _dt
import os

import numpy as np
import pyarrow as pa

__all__ = ["generate_leads", "REFERENCE_MODEL_YAML", "REFERENCE_AS_OF", "INDUSTRIES",
           "COUNTRIES", "JOB_TITLES", "TECHNOLOGIES", "HIGH_CARDINALITY", "email_domains",
           "utm_campaigns"]

_BLOCK = 1 << 20

INDUSTRIES = ["software", "fintech", "healthcare", "retail", "manufacturing", "education",
              "media", "logistics", "real_estate", "insurance", "telecom", "energy",
              "government", "nonprofit", "consulting", "hospitality", "automotive", "biotech",
              "legal", "agriculture"]
_INDUSTRY_P = np.array([14, 8, 7, 7, 7, 5, 5, 4, 4, 4, 4, 4, 3, 3, 6, 3, 3, 4, 3, 2], float)
# How much each industry buys (drives `converted`); software/fintech/biotech are the targets.
_INDUSTRY_LIFT = np.array([1.0, 0.9, 0.3, -0.2, 0.0, -0.3, 0.2, -0.1, -0.3, 0.3, 0.3, 0.0,
                           -0.6, -0.8, 0.1, -0.4, -0.1, 0.7, -0.2, -0.7])

COUNTRIES = ["US", "GB", "DE", "FR", "CA", "AU", "NL", "SE", "IN", "BR", "JP", "SG", "ES",
             "IT", "IE"]
_COUNTRY_P = np.array([35, 10, 8, 6, 6, 4, 4, 3, 7, 4, 3, 2, 3, 3, 2], float)

JOB_TITLES = ["CEO", "CTO", "CFO", "COO", "CMO", "VP Marketing", "VP Sales", "VP Engineering",
              "Head of Growth", "Head of Marketing", "Head of Sales", "Director of Marketing",
              "Director of Engineering", "Marketing Manager", "Sales Manager",
              "Product Manager", "Engineering Manager", "Software Engineer", "Data Analyst",
              "Data Scientist", "Growth Marketer", "Account Executive", "SDR", "Consultant",
              "Founder", "Student", "Intern", "Operations Manager", "IT Manager", "Other"]
_TITLE_P = np.array([3, 3, 2, 2, 3, 4, 3, 3, 3, 4, 3, 4, 3, 6, 5, 5, 4, 8, 4, 3, 3, 3, 3, 3,
                     3, 2, 1, 3, 2, 2], float)
# Decision makers convert more; students and interns almost never.
_TITLE_LIFT = np.zeros(len(JOB_TITLES))
for _t, _v in {"CEO": 0.6, "CTO": 0.8, "CMO": 0.7, "VP Marketing": 0.9, "VP Sales": 0.6,
               "VP Engineering": 0.6, "Head of Growth": 0.9, "Head of Marketing": 0.6,
               "Founder": 0.5, "Student": -1.5, "Intern": -1.5, "Other": -0.3}.items():
    _TITLE_LIFT[JOB_TITLES.index(_t)] = _v

TECHNOLOGIES = ["salesforce", "hubspot", "marketo", "segment", "snowflake", "aws", "gcp",
                "azure", "stripe", "shopify", "zendesk", "intercom", "slack", "jira", "react"]
_TECH_P = np.array([.20, .18, .08, .10, .08, .35, .15, .15, .12, .06, .10, .08, .40, .25, .20])

REFERENCE_AS_OF = "2026-11-01T00:00:00Z"
_AS_OF_US = int(_dt.datetime(2026, 11, 1, tzinfo=_dt.timezone.utc).timestamp()) * 1_000_000
_DAY_US = 86_400_000_000

# 16 rules over 12 columns. No list/has_any and no LIKE: those belong to other workloads.
# benchmarks/peers.py hand-codes exactly these rules; change both together.
REFERENCE_MODEL_YAML = f"""\
name: reference-b2b
as_of: "{REFERENCE_AS_OF}"
scores:
  fit:
    range: [0, 100]
    rules:
      - name: target industry
        when: industry IN ('software', 'fintech', 'biotech')
        points: 20
      - name: adjacent industry
        when: industry IN ('healthcare', 'insurance', 'telecom', 'media')
        points: 8
      - name: mid-market size
        when: company_size BETWEEN 50 AND 5000
        points: 15
      - name: enterprise size
        when: company_size > 5000
        points: 10
      - name: decision maker
        when: job_title IN ('CEO', 'CTO', 'CMO', 'VP Marketing', 'VP Sales', 'Head of Growth')
        points: 20
      - name: revenue
        when: annual_revenue > 0
        points: annual_revenue / 2000000
        cap: 15
      - name: target country
        when: country IN ('US', 'GB', 'DE', 'CA', 'AU')
        points: 5
      - name: free email domain
        when: email_domain_free
        points: -15
  engagement:
    range: [0, 100]
    rules:
      - name: pricing page visits
        points: 5 * pricing_visits
        cap: 25
      - name: web visits
        when: web_visits >= 3
        points: 2 * web_visits
        cap: 20
      - name: email opens
        points: 1.5 * email_opens
        cap: 15
      - name: webinar
        when: webinar_attended
        points: 15
      - name: recent activity
        points: decay(30, days_since(last_activity_at), 14)
      - name: gone quiet
        when: days_since(last_activity_at) > 180
        points: -10
      - name: low intent
        when: pricing_visits = 0 AND web_visits < 2
        points: -10
      - name: unsubscribed
        when: unsubscribed
        points: -40
  total:
    expr: 0.6 * fit + 0.4 * engagement
segments:
  tier:
    - {{ name: hot, when: total >= 40 }}
    - {{ name: warm, when: total >= 25 }}
    - {{ name: cold }}
"""


def _dict_array(codes: np.ndarray, values: list[str], mask) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32), mask=mask),
                                          pa.array(values, pa.string()))


def _sampler(p: np.ndarray) -> np.ndarray:
    """A 4096-entry table whose uniform sampling follows ``p``: far cheaper than
    ``Generator.choice(p=...)`` (a binary search per row)."""
    edges = np.cumsum(p / p.sum()) * _TABLE
    return np.searchsorted(edges, np.arange(_TABLE) + 0.5).astype(np.int32)


_TABLE = 4096
_INDUSTRY_T, _COUNTRY_T, _TITLE_T = _sampler(_INDUSTRY_P), _sampler(_COUNTRY_P), _sampler(_TITLE_P)


def _tech_sets(rng: np.random.Generator):
    """_TABLE random technology sets (each tech with its own probability, no duplicates):
    rows draw a set by index, which keeps list generation a couple of gathers."""
    bits = rng.random((_TABLE, len(TECHNOLOGIES))) < _TECH_P
    set_of, tech = np.nonzero(bits)
    return np.bincount(set_of, minlength=_TABLE), tech.astype(np.int32)


def _counts(rng, lam):
    # floor(lam * Exp(1)): a geometric-like count, ~5x cheaper than Poisson and just as skewed.
    return np.floor(lam * rng.standard_exponential(lam.shape[0], dtype=np.float32))


def _block(n: int, start: int, seq: np.random.SeedSequence, null_rate: float) -> pa.RecordBatch:
    rng = np.random.default_rng(seq)
    rand = lambda: rng.random(n, dtype=np.float32)  # noqa: E731

    def nulls():
        if null_rate <= 0:
            return None
        m = rand() < null_rate
        return m if m.any() else None

    industry = _INDUSTRY_T[rng.integers(0, _TABLE, n)]
    country = _COUNTRY_T[rng.integers(0, _TABLE, n)]
    title = _TITLE_T[rng.integers(0, _TABLE, n)]
    size = np.clip(np.rint(np.exp(rng.normal(4.2, 1.7, n))), 1, 200_000).astype(np.int32)
    revenue = size * np.exp(rng.normal(np.log(150_000.0), 0.6, n))
    free_mail = rand() < 0.25
    unsub = rand() < 0.06
    # One latent "interest" drives every engagement signal, so they correlate with each other
    # and with conversion the way real funnels do.
    interest = rng.standard_exponential(n, dtype=np.float32) * np.float32(1.2)
    pricing = np.minimum(_counts(rng, 0.8 * interest), 400).astype(np.int16)
    web = _counts(rng, 1.0 + 3.0 * interest).astype(np.int32)
    opens = _counts(rng, np.where(unsub, np.float32(0.3), 1.0 + 2.5 * interest)).astype(np.int32)
    webinar = rand() < np.clip(0.05 + 0.06 * interest, 0, 0.9)
    age_days = rng.standard_exponential(n) * (20.0 + 60.0 / (1.0 + interest))
    last_us = _AS_OF_US - (age_days * _DAY_US).astype(np.int64)
    created_days = (last_us // _DAY_US) - rng.integers(0, 730, n)

    set_len, set_techs = _tech_sets(rng)
    set_start = np.concatenate(([0], np.cumsum(set_len)[:-1]))
    pick = rng.integers(0, _TABLE, n)
    lens = set_len[pick]
    offsets = np.zeros(n + 1, np.int32)
    np.cumsum(lens, out=offsets[1:])
    # position j of row r's list is set_techs[set_start[pick[r]] + j]
    flat = np.repeat(set_start[pick] - offsets[:-1], lens) + np.arange(offsets[-1])
    tech_values = pa.array(TECHNOLOGIES, pa.string()).take(pa.array(set_techs[flat]))
    tech_mask = nulls()
    technologies = pa.ListArray.from_arrays(
        pa.array(offsets), tech_values, mask=None if tech_mask is None else pa.array(tech_mask))

    logit = (-3.4 + _INDUSTRY_LIFT[industry] + _TITLE_LIFT[title] + 0.45 * np.log1p(pricing)
             + 0.25 * np.log1p(opens) + 0.8 * webinar - 0.6 * free_mail - 2.5 * unsub
             - age_days / 90.0 + 0.15 * (size >= 50))
    converted = rand() < 1.0 / (1.0 + np.exp(-logit))

    cols = {
        "lead_id": pa.array(np.arange(start + 1, start + n + 1, dtype=np.int64)),
        "industry": _dict_array(industry, INDUSTRIES, nulls()),
        "company_size": pa.array(size, mask=nulls()),
        "country": _dict_array(country, COUNTRIES, nulls()),
        "job_title": _dict_array(title, JOB_TITLES, nulls()),
        "email_domain_free": pa.array(free_mail, mask=nulls()),
        "unsubscribed": pa.array(unsub, mask=nulls()),
        "pricing_visits": pa.array(pricing, mask=nulls()),
        "web_visits": pa.array(web, mask=nulls()),
        "email_opens": pa.array(opens, mask=nulls()),
        "webinar_attended": pa.array(webinar, mask=nulls()),
        "annual_revenue": pa.array(np.round(revenue, 2), mask=nulls()),
        "last_activity_at": pa.array(last_us, pa.timestamp("us", tz="UTC"), mask=nulls()),
        "created_at": pa.array(created_days.astype(np.int32), pa.date32(), mask=nulls()),
        "technologies": technologies,
        "converted": pa.array(converted),  # the outcome is always known
    }
    return pa.RecordBatch.from_pydict(cols)


# -- optional high-cardinality string columns (``generate_leads(..., high_cardinality=True)``) --
HIGH_CARDINALITY = 100_000  # distinct values in each pool
_FREE_DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "icloud.com",
                 "proton.me", "aol.com", "gmx.de", "mail.ru", "qq.com"]
_TLDS = [".com", ".io", ".co", ".net", ".de", ".co.uk", ".ai", ".org", ".fr", ".app"]
_SYLLABLES = ["ac", "me", "nova", "tech", "data", "cloud", "byte", "soft", "lab", "works",
              "sys", "net", "grid", "core", "flow", "link", "hub", "ware", "logic", "micro"]
_SOURCES = ["google", "linkedin", "facebook", "newsletter", "partner", "twitter", "bing",
            "youtube", "capterra", "g2"]
_THEMES = ["spring_sale", "summer_webinar", "q3_launch", "brand", "retarget", "ebook",
           "free_trial", "demo_request", "pricing", "competitor", "case_study", "black_friday"]


def email_domains() -> list[str]:
    """The ``email_domain`` value pool: 10 free-mail domains then company domains, all distinct
    (``HIGH_CARDINALITY`` in all); a pure function, no RNG."""
    out = list(_FREE_DOMAINS)
    i = 0
    while len(out) < HIGH_CARDINALITY:
        a, b = _SYLLABLES[i % 20], _SYLLABLES[(i // 20) % 20]
        out.append(f"{a}{b}{i // 400}{_TLDS[(i * 7) % 10]}")
        i += 1
    return out


def utm_campaigns() -> list[str]:
    """The ``utm_campaign`` value pool, e.g. ``2026w14_linkedin_spring_sale_00123``."""
    return [f"{2025 + (i // 5200) % 2}w{(i // 100) % 52 + 1:02d}_{_SOURCES[i % 10]}_"
            f"{_THEMES[(i // 10) % 12]}_{i:05d}" for i in range(HIGH_CARDINALITY)]


_POOLS: dict = {}


def _pool(name: str) -> pa.Array:
    if name not in _POOLS:
        _POOLS[name] = pa.array(email_domains() if name == "email_domain" else utm_campaigns(),
                                pa.string())
    return _POOLS[name]


def _zipf_codes(rng: np.random.Generator, n: int, size: int, a: float) -> np.ndarray:
    """Codes in [0, size) with a power-law head (a few values very common, a long tail):
    rank = floor(size ** u ** a) - 1 for uniform u, cheap and bounded."""
    u = rng.random(n)
    return np.minimum((np.power(float(size), u ** a)).astype(np.int64) - 1, size - 1)


def _high_cardinality_columns(n: int, seq: np.random.SeedSequence, null_rate: float) -> dict:
    """``email_domain`` and ``utm_campaign``: plain (not dictionary-encoded) strings with about
    ``HIGH_CARDINALITY`` distinct values each, from their own RNG stream (so the other
    columns do not change)."""
    rng = np.random.default_rng(seq)
    out = {}
    for name, a in (("email_domain", 1.0), ("utm_campaign", 0.5)):
        codes = _zipf_codes(rng, n, HIGH_CARDINALITY, a)
        mask = rng.random(n, dtype=np.float32) < null_rate if null_rate > 0 else None
        values = _pool(name).take(pa.array(codes))
        if mask is not None and mask.any():
            import pyarrow.compute as pc  # loaded only by the generator

            values = pc.if_else(pa.array(mask), pa.nulls(n, pa.string()), values)
        out[name] = values
    return out


def generate_leads(n: int, *, seed: int = 0, null_rate: float = 0.05,
                   batch_rows: int | None = None, high_cardinality: bool = False) -> pa.Table:
    """``n`` synthetic leads as a Table; ``batch_rows`` caps its record batch size (the data
    does not depend on it). Every column but ``lead_id`` and ``converted`` has about
    ``null_rate`` NULLs.

    ``high_cardinality=True`` appends two plain string columns with ~100,000 distinct values
    each, ``email_domain`` (power-law: a few free-mail domains dominate) and ``utm_campaign``
    (flatter); the other columns are the same as without it."""
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= null_rate <= 1.0:
        raise ValueError("null_rate must be within [0, 1]")
    starts = list(range(0, n, _BLOCK)) or [0]
    def make(i):
        rows = min(_BLOCK, n - starts[i])
        batch = _block(rows, starts[i], np.random.SeedSequence([seed, i]), null_rate)
        if not high_cardinality:
            return batch
        extra = _high_cardinality_columns(rows, np.random.SeedSequence([seed, i, 1]), null_rate)
        return pa.RecordBatch.from_arrays(batch.columns + list(extra.values()),
                                          batch.schema.names + list(extra))

    if len(starts) == 1:
        batches = [make(0)]
    else:  # numpy and Arrow release the GIL for the bulk work; blocks are independent
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(min(len(starts), os.cpu_count() or 1, 8)) as pool:
            batches = list(pool.map(make, range(len(starts))))
    table = pa.Table.from_batches(batches)
    if batch_rows is not None:
        if batch_rows <= 0:
            raise ValueError("batch_rows must be > 0")
        table = pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows), table.schema)
    return table
