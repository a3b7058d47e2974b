"""Peer implementations of ``synthetic.REFERENCE_MODEL_YAML``, each hand-written for exactly
those 16 rules, to compare the leadscore VM against.

Every peer takes the synthetic Arrow table and returns an Arrow table with ``fit``,
``engagement``, ``total`` (float64) and ``tier`` (dictionary string), following the model
semantics: a rule adds least(points, cap) only where `when` is TRUE and points is not NULL;
rules sum left to right in file order, then the score is clamped to its range.
Keep the rule order identical everywhere: float sums are order-sensitive.
"""
from __future__ import annotations

import datetime as dt

import numba as nb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.synthetic import REFERENCE_AS_OF, REFERENCE_MODEL_YAML

TIERS = ["hot", "warm", "cold"]
HOT, WARM = 40.0, 25.0  # the tier thresholds in REFERENCE_MODEL_YAML
TARGET_INDUSTRIES = ["software", "fintech", "biotech"]
ADJACENT_INDUSTRIES = ["healthcare", "insurance", "telecom", "media"]
DECISION_MAKERS = ["CEO", "CTO", "CMO", "VP Marketing", "VP Sales", "Head of Growth"]
TARGET_COUNTRIES = ["US", "GB", "DE", "CA", "AU"]
AS_OF_US = int(dt.datetime.fromisoformat(REFERENCE_AS_OF.replace("Z", "+00:00")).timestamp()
               * 1_000_000)
DAY_US = 86_400_000_000.0
SCORES = ["fit", "engagement", "total"]


def _output(fit, eng, total, tier_codes) -> pa.Table:
    tier = pa.DictionaryArray.from_arrays(pa.array(tier_codes, pa.int32()),
                                          pa.array(TIERS, pa.string()))
    return pa.table({"fit": fit, "engagement": eng, "total": total, "tier": tier})


def load_model():
    """The reference model through the public API (raises ImportError until it exists)."""
    from leadscore_fast import Model

    return Model.from_yaml_string(REFERENCE_MODEL_YAML)


# ---------------------------------------------------------------- leadscore VM
def vm_unavailable() -> str | None:
    """Why the leadscore VM cannot run yet (the engine is built separately), or None."""
    try:
        import leadscore_fast
        from leadscore_fast.synthetic import generate_leads

        leadscore_fast.score  # noqa: B018
        leadscore_fast.compile(load_model(), generate_leads(0).schema)
    except Exception as exc:  # ImportError, AttributeError, a missing or stale _engine
        return f"leadscore VM unavailable: {type(exc).__name__}: {exc}"
    return None


def score_vm(model, table: pa.Table, **kw) -> pa.Table:
    import leadscore_fast

    return leadscore_fast.score(model, table, **kw)


def score_interpreted(model, table: pa.Table, **kw) -> pa.Table:
    """score() on the numba bytecode interpreter alone (executor="interpreter")."""
    return score_vm(model, table, executor="interpreter", **kw)


# ---------------------------------------------------------------- plain Python, row by row
def score_python(table: pa.Table) -> pa.Table:
    """The semantics written out literally; only for small tables (tests)."""
    fits, engs, totals, tiers = [], [], [], []
    for r in table.to_pylist():
        def is_true(cond):
            return cond is True

        def rule(acc, cond, points, cap=None):
            if is_true(cond) and points is not None:
                acc += points if cap is None else min(points, cap)
            return acc

        def cmp(v, f):
            return None if v is None else f(v)

        ind, size, title = r["industry"], r["company_size"], r["job_title"]
        rev, pv, wv, eo = (r["annual_revenue"], r["pricing_visits"], r["web_visits"],
                           r["email_opens"])
        ts = r["last_activity_at"]
        days = None if ts is None else (AS_OF_US - _epoch_us(ts)) / DAY_US
        fit = 0.0
        fit = rule(fit, cmp(ind, lambda v: v in TARGET_INDUSTRIES), 20.0)
        fit = rule(fit, cmp(ind, lambda v: v in ADJACENT_INDUSTRIES), 8.0)
        fit = rule(fit, cmp(size, lambda v: 50 <= v <= 5000), 15.0)
        fit = rule(fit, cmp(size, lambda v: v > 5000), 10.0)
        fit = rule(fit, cmp(title, lambda v: v in DECISION_MAKERS), 20.0)
        fit = rule(fit, cmp(rev, lambda v: v > 0), None if rev is None else rev / 2e6, 15.0)
        fit = rule(fit, cmp(r["country"], lambda v: v in TARGET_COUNTRIES), 5.0)
        fit = rule(fit, r["email_domain_free"], -15.0)
        fit = min(max(fit, 0.0), 100.0)
        eng = 0.0
        eng = rule(eng, True, None if pv is None else float(5 * pv), 25.0)
        eng = rule(eng, cmp(wv, lambda v: v >= 3), None if wv is None else float(2 * wv), 20.0)
        eng = rule(eng, True, None if eo is None else 1.5 * eo, 15.0)
        eng = rule(eng, r["webinar_attended"], 15.0)
        eng = rule(eng, True, None if days is None else 30.0 * 0.5 ** (days / 14.0))
        eng = rule(eng, cmp(days, lambda v: v > 180), -10.0)
        low = _and3(cmp(pv, lambda v: v == 0), cmp(wv, lambda v: v < 2))
        eng = rule(eng, low, -10.0)
        eng = rule(eng, r["unsubscribed"], -40.0)
        eng = min(max(eng, 0.0), 100.0)
        total = 0.6 * fit + 0.4 * eng
        fits.append(fit), engs.append(eng), totals.append(total)
        tiers.append(0 if total >= HOT else 1 if total >= WARM else 2)
    return _output(fits, engs, totals, tiers)


def _epoch_us(ts: dt.datetime) -> int:
    delta = ts - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _and3(a, b):
    if a is False or b is False:
        return False
    if a is None or b is None:
        return None
    return True


# ---------------------------------------------------------------- hand-fused numba
CHUNK = 2048  # rows per work item: scratch stays in L1, loops stay simple enough to vectorize
DECAY_K = -np.log(2.0) / 14.0  # 0.5 ** (d / 14) == exp(d * DECAY_K): one libm call, not pow


@nb.njit(inline="always")
def _valid(col, lo, m, out):
    """Unpack a column's validity for rows [lo, lo+m) into bytes (all 1 when no bitmap)."""
    bm = col[1]
    if bm.size == 0:
        out[:] = 1
    else:
        off = col[2] + lo
        for k in range(m):
            j = off + k
            out[k] = (bm[j >> 3] >> (j & 7)) & 1


@nb.njit(inline="always")
def _bits(col, lo, m, out):
    """Unpack a bool column's bit-packed values for rows [lo, lo+m) into bytes."""
    d = col[0]
    off = col[2] + lo
    for k in range(m):
        j = off + k
        out[k] = (d[j >> 3] >> (j & 7)) & 1


@nb.njit(parallel=True, cache=True)
def _kernel(n, ind, ind_pts, size, title, title_pts, rev, country, country_pts, free, pricing,
            web, opens, webinar, last, unsub, as_of_us, decay_k,
            fit_out, eng_out, total_out, tier_out):
    # Columns are (data, validity, offset) numpy views of the Arrow buffers (dictionary columns
    # add the code of their lookup's NULL entry). Per chunk, one simple loop per rule in file
    # order: LLVM vectorizes them, where one row-at-a-time loop with ~16 unpredictable branches
    # measured 1.7x slower. Adding 0.0 where a rule does not apply is exact, and mutually
    # exclusive rules (industry, company size) share one addition.
    for c in nb.prange((n + CHUNK - 1) // CHUNK):
        lo = c * CHUNK
        m = min(CHUNK, n - lo)
        ok = np.empty(m, np.uint8)
        ok_p = np.empty(m, np.uint8)
        ok_w = np.empty(m, np.uint8)
        bits = np.empty(m, np.uint8)
        fit = fit_out[lo:lo + m]
        eng = eng_out[lo:lo + m]

        _valid(ind, lo, m, ok)
        d, o = ind[0], ind[2] + lo
        for k in range(m):
            fit[k] = ind_pts[d[o + k] if ok[k] else ind[3]]
        _valid(size, lo, m, ok)
        d, o = size[0], size[2] + lo
        for k in range(m):
            s = d[o + k]
            v = ok[k] != 0
            fit[k] += 15.0 if v & (s >= 50) & (s <= 5000) else (10.0 if v & (s > 5000) else 0.0)
        _valid(title, lo, m, ok)
        d, o = title[0], title[2] + lo
        for k in range(m):
            fit[k] += title_pts[d[o + k] if ok[k] else title[3]]
        _valid(rev, lo, m, ok)
        d, o = rev[0], rev[2] + lo
        for k in range(m):
            r = d[o + k]
            fit[k] += min(r / 2000000.0, 15.0) if (ok[k] != 0) & (r > 0) else 0.0
        _valid(country, lo, m, ok)
        d, o = country[0], country[2] + lo
        for k in range(m):
            fit[k] += country_pts[d[o + k] if ok[k] else country[3]]
        _valid(free, lo, m, ok)
        _bits(free, lo, m, bits)
        for k in range(m):
            f = fit[k] + (-15.0 if ok[k] & bits[k] else 0.0)
            fit[k] = min(max(f, 0.0), 100.0)

        _valid(pricing, lo, m, ok_p)
        dp, op = pricing[0], pricing[2] + lo
        for k in range(m):
            eng[k] = min(5.0 * dp[op + k], 25.0) if ok_p[k] else 0.0
        _valid(web, lo, m, ok_w)
        dw, ow = web[0], web[2] + lo
        for k in range(m):
            w = dw[ow + k]
            eng[k] += min(2.0 * w, 20.0) if (ok_w[k] != 0) & (w >= 3) else 0.0
        _valid(opens, lo, m, ok)
        d, o = opens[0], opens[2] + lo
        for k in range(m):
            eng[k] += min(1.5 * d[o + k], 15.0) if ok[k] else 0.0
        _valid(webinar, lo, m, ok)
        _bits(webinar, lo, m, bits)
        for k in range(m):
            eng[k] += 15.0 if ok[k] & bits[k] else 0.0
        _valid(last, lo, m, ok)
        d, o = last[0], last[2] + lo
        for k in range(m):
            if ok[k]:
                days = float(as_of_us - d[o + k]) / 86400000000.0
                eng[k] += 30.0 * np.exp(days * decay_k)
                eng[k] += -10.0 if days > 180.0 else 0.0
        for k in range(m):
            low = (ok_p[k] & ok_w[k] != 0) & (dp[op + k] == 0) & (dw[ow + k] < 2)
            eng[k] += -10.0 if low else 0.0
        _valid(unsub, lo, m, ok)
        _bits(unsub, lo, m, bits)
        for k in range(m):
            e = eng[k] + (-40.0 if ok[k] & bits[k] else 0.0)
            eng[k] = min(max(e, 0.0), 100.0)

        for k in range(m):
            t = 0.6 * fit[k] + 0.4 * eng[k]
            total_out[lo + k] = t
            tier_out[lo + k] = 0 if t >= 40.0 else (1 if t >= 25.0 else 2)


_EMPTY = np.zeros(0, np.uint8)


def _buf(arr: pa.Array, dtype):
    """(data, validity, offset) numpy views over an Arrow array's buffers: no copies."""
    bufs = arr.buffers()
    no_nulls = bufs[0] is None or arr.null_count == 0
    validity = _EMPTY if no_nulls else np.frombuffer(bufs[0], np.uint8)
    return np.frombuffer(bufs[1], dtype), validity, arr.offset


def _dict(arr: pa.DictionaryArray, points: dict[tuple, float]):
    """Codes as (data, validity, offset, NULL code), and points per code (last entry: NULL):
    string predicates run once per dictionary value, not per row."""
    values = np.asarray(arr.dictionary.to_pylist(), dtype=object)
    table = np.zeros(len(values) + 1)
    for group, pts in points.items():
        table[:-1][np.isin(values, list(group))] = pts
    return (*_buf(arr.indices, np.int32), len(values)), table


def _reference_inputs(batch: pa.RecordBatch) -> list:
    """The reference model's inputs for one batch, in the kernels' argument order: dictionary
    columns as (buffers..., n_values) tuples followed by their points tables, the other columns
    as buffer tuples. Shared by the numba and Cython kernels."""
    c = {name: batch.column(name) for name in batch.schema.names}
    ind, ind_pts = _dict(c["industry"], {tuple(TARGET_INDUSTRIES): 20.0,
                                         tuple(ADJACENT_INDUSTRIES): 8.0})
    title, title_pts = _dict(c["job_title"], {tuple(DECISION_MAKERS): 20.0})
    country, country_pts = _dict(c["country"], {tuple(TARGET_COUNTRIES): 5.0})
    return [ind, ind_pts, _buf(c["company_size"], np.int32), title, title_pts,
            _buf(c["annual_revenue"], np.float64), country, country_pts,
            _buf(c["email_domain_free"], np.uint8), _buf(c["pricing_visits"], np.int16),
            _buf(c["web_visits"], np.int32), _buf(c["email_opens"], np.int32),
            _buf(c["webinar_attended"], np.uint8), _buf(c["last_activity_at"], np.int64),
            _buf(c["unsubscribed"], np.uint8)]


def _run_reference(table: pa.Table, kernel, flatten: bool) -> pa.Table:
    """Run a hand-written reference kernel batch by batch (flatten: pass tuples as arguments)."""
    outs = []
    for batch in table.to_batches():
        n = batch.num_rows
        args = _reference_inputs(batch)
        if flatten:
            args = [x for a in args for x in (a if isinstance(a, tuple) else (a,))]
        fit, eng, total = np.empty(n), np.empty(n), np.empty(n)
        tier = np.empty(n, np.int32)
        kernel(n, *args, AS_OF_US, DECAY_K, fit, eng, total, tier)
        outs.append(_output(fit, eng, total, tier))
    return pa.concat_tables(outs) if outs else _output([], [], [], [])


def score_numba(table: pa.Table) -> pa.Table:
    return _run_reference(table, _kernel, flatten=False)


# ---------------------------------------------------------------- Polars
def polars_frame(table: pa.Table):
    import polars as pl

    return pl.from_arrow(table)


def score_polars(df) -> pa.Table:
    import polars as pl

    def true(cond):
        return cond.fill_null(False)

    def rule(cond, points, cap=None):
        if cap is not None:
            points = points.clip(upper_bound=cap)
        return pl.when(true(cond) & points.is_not_null()).then(points).otherwise(0.0)

    def const(cond, points):
        return pl.when(true(cond)).then(pl.lit(points)).otherwise(0.0)

    def add(parts):
        acc = pl.lit(0.0)
        for p in parts:
            acc = acc + p
        return acc.clip(0.0, 100.0)

    col = pl.col
    days = (pl.lit(AS_OF_US) - col("last_activity_at").dt.epoch("us")).cast(pl.Float64) / DAY_US
    fit = add([
        const(col("industry").is_in(TARGET_INDUSTRIES), 20.0),
        const(col("industry").is_in(ADJACENT_INDUSTRIES), 8.0),
        const(col("company_size").is_between(50, 5000), 15.0),
        const(col("company_size") > 5000, 10.0),
        const(col("job_title").is_in(DECISION_MAKERS), 20.0),
        rule(col("annual_revenue") > 0, col("annual_revenue") / 2000000.0, 15.0),
        const(col("country").is_in(TARGET_COUNTRIES), 5.0),
        const(col("email_domain_free"), -15.0),
    ]).alias("fit")
    eng = add([
        rule(pl.lit(True), (col("pricing_visits").cast(pl.Int64) * 5).cast(pl.Float64), 25.0),
        rule(col("web_visits") >= 3, (col("web_visits").cast(pl.Int64) * 2).cast(pl.Float64), 20.0),
        rule(pl.lit(True), 1.5 * col("email_opens").cast(pl.Float64), 15.0),
        const(col("webinar_attended"), 15.0),
        rule(pl.lit(True), 30.0 * pl.lit(0.5).pow(days / 14.0)),
        const(days > 180.0, -10.0),
        const((col("pricing_visits") == 0) & (col("web_visits") < 2), -10.0),
        const(col("unsubscribed"), -40.0),
    ]).alias("engagement")
    out = df.lazy().select(fit, eng).with_columns(
        (0.6 * col("fit") + 0.4 * col("engagement")).alias("total"))
    out = out.with_columns(
        pl.when(col("total") >= HOT).then(0).when(col("total") >= WARM).then(1).otherwise(2)
        .cast(pl.Int32).alias("tier")).collect()
    return _output(out["fit"].to_arrow(), out["engagement"].to_arrow(), out["total"].to_arrow(),
                   out["tier"].to_arrow())


# ---------------------------------------------------------------- DuckDB
def _duckdb_sql(relation: str) -> str:
    def quoted(values):
        return ", ".join("'" + v.replace("'", "''") + "'" for v in values)

    def rule(cond, points, cap=None):
        value = points if cap is None else f"least({points}, {cap})"
        return f"CASE WHEN ({cond}) AND ({points}) IS NOT NULL THEN {value} ELSE 0.0 END"

    def const(cond, points):
        return f"CASE WHEN {cond} THEN {points} ELSE 0.0 END"

    def add(parts):
        return "least(greatest(" + "\n      + ".join(["0.0::DOUBLE"] + parts) + ", 0.0), 100.0)"

    days = f"(({AS_OF_US} - epoch_us(last_activity_at))::DOUBLE / {DAY_US}::DOUBLE)"
    fit = add([
        const(f"industry IN ({quoted(TARGET_INDUSTRIES)})", "20.0::DOUBLE"),
        const(f"industry IN ({quoted(ADJACENT_INDUSTRIES)})", "8.0::DOUBLE"),
        const("company_size BETWEEN 50 AND 5000", "15.0::DOUBLE"),
        const("company_size > 5000", "10.0::DOUBLE"),
        const(f"job_title IN ({quoted(DECISION_MAKERS)})", "20.0::DOUBLE"),
        rule("annual_revenue > 0", "annual_revenue / 2000000.0::DOUBLE", "15.0::DOUBLE"),
        const(f"country IN ({quoted(TARGET_COUNTRIES)})", "5.0::DOUBLE"),
        const("email_domain_free", "-15.0::DOUBLE"),
    ])
    eng = add([
        rule("TRUE", "(5 * pricing_visits::BIGINT)::DOUBLE", "25.0::DOUBLE"),
        rule("web_visits >= 3", "(2 * web_visits::BIGINT)::DOUBLE", "20.0::DOUBLE"),
        rule("TRUE", "1.5::DOUBLE * email_opens", "15.0::DOUBLE"),
        const("webinar_attended", "15.0::DOUBLE"),
        rule("TRUE", f"30.0::DOUBLE * pow(0.5::DOUBLE, {days} / 14.0::DOUBLE)"),
        const(f"{days} > 180", "-10.0::DOUBLE"),
        const("pricing_visits = 0 AND web_visits < 2", "-10.0::DOUBLE"),
        const("unsubscribed", "-40.0::DOUBLE"),
    ])
    return f"""
WITH s AS (SELECT lead_id, {fit} AS fit,
  {eng} AS engagement FROM {relation}),
t AS (SELECT lead_id, fit, engagement, 0.6::DOUBLE * fit + 0.4::DOUBLE * engagement AS total
      FROM s)
SELECT lead_id, fit, engagement, total,
  CAST(CASE WHEN total >= {HOT} THEN 'hot' WHEN total >= {WARM} THEN 'warm' ELSE 'cold' END
       AS ENUM({quoted(TIERS)})) AS tier
FROM t"""


DUCKDB_SQL = _duckdb_sql("leads")


def score_duckdb(table: pa.Table, con=None) -> pa.Table:
    """Rows come back in no particular order: DuckDB 2.0's parallel Arrow scan does not keep
    input order even with preserve_insertion_order. We keep lead_id and leave out the ORDER BY
    (generous to DuckDB); compare through ``in_input_order``."""
    import duckdb

    con = con or duckdb.connect()
    con.register("leads", table)
    try:
        out = con.sql(DUCKDB_SQL).to_arrow_table()
    finally:
        con.unregister("leads")
    return out


# ---------------------------------------------------------------- pandas
def pandas_frame(table: pa.Table):
    import pandas as pd

    # Nullable dtypes keep NULL distinct from NaN/False, as an idiomatic modern pandas user would.
    mapping = {pa.bool_(): pd.BooleanDtype(), pa.int16(): pd.Int16Dtype(),
               pa.int32(): pd.Int32Dtype(), pa.int64(): pd.Int64Dtype(),
               pa.float64(): pd.Float64Dtype()}
    cols = [c for c in table.column_names if c != "technologies"]
    return table.select(cols).to_pandas(types_mapper=mapping.get)


def score_pandas(df) -> pa.Table:
    def true(mask):
        return mask.to_numpy(dtype=bool, na_value=False)

    def num(s):
        return s.to_numpy(dtype=np.float64, na_value=np.nan)

    def rule(acc, cond, points, cap=None):
        if cap is not None:
            points = np.minimum(points, cap)
        return acc + np.where(cond & ~np.isnan(points), points, 0.0)

    def const(acc, cond, points):
        return acc + np.where(cond, points, 0.0)

    size, rev = df["company_size"], df["annual_revenue"]
    fit = np.zeros(len(df))
    fit = const(fit, true(df["industry"].isin(TARGET_INDUSTRIES)), 20.0)
    fit = const(fit, true(df["industry"].isin(ADJACENT_INDUSTRIES)), 8.0)
    fit = const(fit, true(size.between(50, 5000)), 15.0)
    fit = const(fit, true(size > 5000), 10.0)
    fit = const(fit, true(df["job_title"].isin(DECISION_MAKERS)), 20.0)
    fit = rule(fit, true(rev > 0), num(rev) / 2000000.0, 15.0)
    fit = const(fit, true(df["country"].isin(TARGET_COUNTRIES)), 5.0)
    fit = const(fit, true(df["email_domain_free"]), -15.0)
    fit = np.clip(fit, 0.0, 100.0)

    pv, wv = df["pricing_visits"], df["web_visits"]
    last = df["last_activity_at"]
    last_us = last.to_numpy(dtype="datetime64[us]", na_value=np.datetime64("NaT")).view(np.int64)
    days = (AS_OF_US - last_us).astype(np.float64) / DAY_US
    days[last.isna().to_numpy()] = np.nan
    eng = np.zeros(len(df))
    eng = rule(eng, True, 5.0 * num(pv), 25.0)
    eng = rule(eng, true(wv >= 3), 2.0 * num(wv), 20.0)
    eng = rule(eng, True, 1.5 * num(df["email_opens"]), 15.0)
    eng = const(eng, true(df["webinar_attended"]), 15.0)
    eng = rule(eng, True, 30.0 * np.power(0.5, days / 14.0))
    with np.errstate(invalid="ignore"):
        eng = const(eng, days > 180.0, -10.0)
    eng = const(eng, true((pv == 0) & (wv < 2)), -10.0)
    eng = const(eng, true(df["unsubscribed"]), -40.0)
    eng = np.clip(eng, 0.0, 100.0)

    total = 0.6 * fit + 0.4 * eng
    tier = np.where(total >= HOT, 0, np.where(total >= WARM, 1, 2)).astype(np.int32)
    return _output(fit, eng, total, tier)


# ---------------------------------------------------------------- NumPy / numexpr
def numpy_arrays(table: pa.Table) -> dict:
    """Untimed conversion (generous): every column the reference model reads as numpy
    (values, valid) pairs; dictionary columns as (codes, valid, dictionary values)."""
    import workloads

    return workloads.numpy_prepare(table, workloads.reference_spec().columns())


def score_numpy(cols: dict) -> pa.Table:
    """NumPy expressions: the generic spec translator (workloads.py) on the reference spec."""
    import workloads

    r = workloads.score_numpy(workloads.reference_spec(), cols)
    return _output(r["fit"], r["engagement"], r["total"], r["tier"].astype(np.int32))


def score_numexpr(cols: dict) -> pa.Table:
    """numexpr, hand-written for the 16 rules: one fused expression per score (numexpr
    evaluates it blockwise, multi-threaded); the dictionary predicates run once per value."""
    import numexpr as ne

    def lut(name, groups):
        _, codes, valid, values = cols[name]
        t = np.zeros(len(values))
        for group, pts in groups.items():
            t[np.isin(values, list(group))] = pts
        return np.where(valid, t[codes], 0.0)

    ind = lut("industry", {tuple(TARGET_INDUSTRIES): 20.0, tuple(ADJACENT_INDUSTRIES): 8.0})
    title = lut("job_title", {tuple(DECISION_MAKERS): 20.0})
    country = lut("country", {tuple(TARGET_COUNTRIES): 5.0})
    size, size_ok = cols["company_size"][1:]
    rev, rev_ok = cols["annual_revenue"][1:]
    free, free_ok = cols["email_domain_free"][1:]
    pv, pv_ok = cols["pricing_visits"][1:]
    wv, wv_ok = cols["web_visits"][1:]
    eo, eo_ok = cols["email_opens"][1:]
    web, web_ok = cols["webinar_attended"][1:]
    last, last_ok = cols["last_activity_at"][1:]
    uns, uns_ok = cols["unsubscribed"][1:]
    fit = ne.evaluate(
        "ind + where(size_ok & (size >= 50) & (size <= 5000), 15.0, 0.0)"
        " + where(size_ok & (size > 5000), 10.0, 0.0) + title"
        " + where(rev_ok & (rev > 0), where(rev / 2000000.0 < 15.0, rev / 2000000.0, 15.0), 0.0)"
        " + country + where(free_ok & free, -15.0, 0.0)")
    fit = ne.evaluate("where(fit < 0.0, 0.0, where(fit > 100.0, 100.0, fit))")
    as_of, day, k = float(AS_OF_US), DAY_US, DECAY_K
    eng = ne.evaluate(
        "where(pv_ok, where(5.0 * pv < 25.0, 5.0 * pv, 25.0), 0.0)"
        " + where(wv_ok & (wv >= 3), where(2.0 * wv < 20.0, 2.0 * wv, 20.0), 0.0)"
        " + where(eo_ok, where(1.5 * eo < 15.0, 1.5 * eo, 15.0), 0.0)"
        " + where(web_ok & web, 15.0, 0.0)"
        " + where(last_ok, 30.0 * exp((as_of - last) / day * k), 0.0)"
        " + where(last_ok & ((as_of - last) / day > 180.0), -10.0, 0.0)"
        " + where(pv_ok & wv_ok & (pv == 0) & (wv < 2), -10.0, 0.0)"
        " + where(uns_ok & uns, -40.0, 0.0)")
    eng = ne.evaluate("where(eng < 0.0, 0.0, where(eng > 100.0, 100.0, eng))")
    total = ne.evaluate("0.6 * fit + 0.4 * eng")
    tier = ne.evaluate("where(total >= 40.0, 0, where(total >= 25.0, 1, 2))").astype(np.int32)
    return _output(fit, eng, total, tier)


# ---------------------------------------------------------------- hand-written Cython
_CYTHON = None


def cython_unavailable() -> str | None:
    """Build (once, cached on disk by source hash) the Cython kernel; None when it is usable,
    else why not (no compiler, no Cython, a failed build)."""
    global _CYTHON
    if _CYTHON is not None:
        return _CYTHON if isinstance(_CYTHON, str) else None
    import hashlib
    import importlib.util
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    try:
        import Cython
    except ImportError:
        _CYTHON = "Cython not installed (pip install cython)"
        return _CYTHON
    cc = os.environ.get("CC", "cc").split()[0]
    if shutil.which(cc) is None and shutil.which("gcc") is None:
        _CYTHON = "no C compiler found: Cython peer skipped"
        return _CYTHON
    src = Path(__file__).with_name("cython_kernel.pyx")
    key = hashlib.sha1(src.read_bytes() + f"{sys.version}{Cython.__version__}{np.__version__}"
                       .encode()).hexdigest()[:12]
    root = Path(os.environ.get("LEADSCORE_BENCH_CACHE",
                               Path.home() / ".cache" / "leadscore_fast" / "bench"))
    build = root / f"cython-{key}"
    mod = f"ls_cython_{key}"
    found = list(build.glob(f"{mod}*.so")) + list(build.glob(f"{mod}*.pyd"))
    if not found:
        build.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, build / f"{mod}.pyx")
        setup = ("from setuptools import setup; from Cython.Build import cythonize; "
                 "import numpy; setup(ext_modules=cythonize(%r, quiet=True), "
                 "script_args=['build_ext', '--inplace'])" % f"{mod}.pyx")
        proc = subprocess.run([sys.executable, "-c", setup], cwd=build, capture_output=True,
                              text=True, timeout=600)
        found = list(build.glob(f"{mod}*.so")) + list(build.glob(f"{mod}*.pyd"))
        if proc.returncode != 0 or not found:
            _CYTHON = f"Cython build failed: {(proc.stderr or proc.stdout)[-400:]}"
            return _CYTHON
    spec = importlib.util.spec_from_file_location(mod, found[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _CYTHON = module
    return None


def score_cython(table: pa.Table) -> pa.Table:
    reason = cython_unavailable()
    if reason:
        raise RuntimeError(reason)
    return _run_reference(table, _CYTHON.score, flatten=True)


# ---------------------------------------------------------------- memory-read baseline
@nb.njit(parallel=True, cache=True)
def _sum_blocks(bufs, blk_buf, blk_lo, blk_hi):
    """One parallel region over every block of every buffer (many small regions would each
    pay a thread wake-up, which dominates on a loaded 2-core machine)."""
    total = np.uint64(0)
    for b in nb.prange(blk_buf.size):
        words = bufs[blk_buf[b]]
        s = np.uint64(0)
        for i in range(blk_lo[b], blk_hi[b]):
            s += words[i]
        total += s
    return total


_BLOCK_WORDS = 1 << 16


def memory_read(table: pa.Table, columns) -> int:
    """The physical limit: read every byte of every buffer (validity, offsets, data) of the
    columns a model reads, as 8-byte words summed in parallel; no scoring, no output."""
    from numba.typed import List

    bufs = List()
    blk_buf, blk_lo, blk_hi = [], [], []
    for name in columns:
        for chunk in table.column(name).chunks:
            arr = chunk.indices if isinstance(chunk, pa.DictionaryArray) else chunk
            for buf in arr.buffers():
                if buf is None or buf.size < 8:
                    continue
                words = np.frombuffer(buf, np.uint64, buf.size // 8)
                for lo in range(0, words.size, _BLOCK_WORDS):
                    blk_buf.append(len(bufs))
                    blk_lo.append(lo)
                    blk_hi.append(min(lo + _BLOCK_WORDS, words.size))
                bufs.append(words)
    if not blk_buf:
        return 0
    return int(_sum_blocks(bufs, np.array(blk_buf, np.int64), np.array(blk_lo, np.int64),
                           np.array(blk_hi, np.int64)))


REFERENCE_COLUMNS = ["industry", "company_size", "job_title", "annual_revenue", "country",
                     "email_domain_free", "pricing_visits", "web_visits", "email_opens",
                     "webinar_attended", "last_activity_at", "unsubscribed"]


# ---------------------------------------------------------------- cold start
COLD_START = """
import json, time
t0 = time.perf_counter()
import leadscore_fast
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads
t1 = time.perf_counter()
batch = generate_leads(4096, seed=1)
t2 = time.perf_counter()
out = leadscore_fast.score(leadscore_fast.Model.from_yaml_string(REFERENCE_MODEL_YAML), batch)
t3 = time.perf_counter()
assert out.num_rows == 4096
print(json.dumps({"import_s": t1 - t0, "first_score_s": t3 - t2, "total_s": t3 - t2 + t1 - t0}))
"""


def cold_start() -> dict:
    """A fresh interpreter imports leadscore_fast, loads the model and scores a first 4096-row
    batch; times exclude generating that batch. Warm numba cache = run it once before."""
    import json
    import os
    import subprocess
    import sys

    import leadscore_fast

    # The child must import the same leadscore_fast as this process (a source checkout too).
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(leadscore_fast.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    proc = subprocess.run([sys.executable, "-c", COLD_START], capture_output=True, text=True,
                          timeout=300, env=env)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- agreement
def tier_codes(table: pa.Table) -> np.ndarray:
    """The segmentation as indices into TIERS (-1 = NULL), whatever its encoding."""
    col = table.column("tier").cast(pa.string())
    codes = pc.index_in(col, value_set=pa.array(TIERS))
    assert codes.null_count == col.null_count, "unexpected tier label"
    return pc.fill_null(codes, -1).to_numpy()


def in_input_order(table: pa.Table) -> pa.Table:
    """Sort by lead_id (if present), which the synthetic data numbers 1..n in input order."""
    if "lead_id" not in table.column_names:
        return table
    ids = table.column("lead_id").to_numpy()
    if ids.size and (np.diff(ids) < 0).any():
        table = table.take(pa.array(np.argsort(ids, kind="stable")))
    return table


def assert_agree(got: pa.Table, want: pa.Table, rtol: float = 1e-9) -> None:
    """Scores equal to rtol (NULLs in the same places), segment labels identical."""
    assert got.num_rows == want.num_rows, (got.num_rows, want.num_rows)
    for name in SCORES:
        g, w = got.column(name), want.column(name)
        assert g.type == pa.float64(), (name, g.type)
        np.testing.assert_array_equal(pc.is_null(g).to_numpy(zero_copy_only=False),
                                      pc.is_null(w).to_numpy(zero_copy_only=False),
                                      err_msg=f"{name}: NULLs differ")
        np.testing.assert_allclose(g.to_numpy(), w.to_numpy(), rtol=rtol, atol=0,
                                   err_msg=name)
    np.testing.assert_array_equal(tier_codes(got), tier_codes(want), err_msg="tier")


__all__ = ["REFERENCE_MODEL_YAML", "load_model", "vm_unavailable", "score_vm", "score_python",
           "numpy_arrays", "score_numpy", "score_numexpr", "cython_unavailable", "score_cython",
           "memory_read", "REFERENCE_COLUMNS",
           "score_numba",
           "polars_frame", "score_polars", "score_duckdb", "DUCKDB_SQL", "pandas_frame",
           "score_pandas", "assert_agree", "tier_codes", "in_input_order", "cold_start"]
