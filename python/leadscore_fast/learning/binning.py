"""Binning one column into the bins that become rules.

- numbers (and dates, as ``days_since`` against ``as_of``): quantile pre-bins, merged until
  every bin holds at least ``min_share`` of the rows and there are at most ``max_bins``, with a
  monotone conversion rate when that keeps (nearly) all the information value;
- text: each frequent value is a bin, the rare ones (and values never seen) are ``other``;
- booleans: TRUE and FALSE;
- NULL (and the reader's null tokens, ``--null-values Select``) is a bin of its own.

Each bin carries its SQL condition; ``codes`` gives every row's bin, computed the way the
engine evaluates the conditions.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.labels import is_text
from leadscore_fast.learning.sql import ident, number, string
from leadscore_fast.learning.woe import bin_counts, woe_iv

__all__ = ["Bin", "ColumnBins", "bin_column", "US_PER_DAY"]

US_PER_DAY = 86_400_000_000


@dataclass
class Bin:
    label: str  # how the report and the rule name say it
    when: str  # the SQL condition
    count: int = 0  # training rows
    conversions: int = 0
    woe: float = 0.0

    @property
    def rate(self):
        return self.conversions / self.count if self.count else None


@dataclass
class ColumnBins:
    column: str
    kind: str  # numeric, date, text, boolean
    bins: list[Bin]
    codes: np.ndarray  # bin per row (all rows, training and holdout)
    iv: float = 0.0
    notes: list[str] = field(default_factory=list)

    def woe_of_rows(self) -> np.ndarray:
        return np.array([b.woe for b in self.bins])[self.codes]


def _kind(t: pa.DataType) -> str | None:
    if pa.types.is_dictionary(t):
        t = t.value_type
    if is_text(t):
        return "text"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return "numeric"
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        return "date"
    return None


def as_numbers(arr: pa.ChunkedArray, kind: str, as_of_us: int | None) -> np.ndarray:
    """float64 per row, NaN for NULL (and NaN); dates as days before as_of."""
    if kind == "date":
        t = arr.type
        if pa.types.is_date(t):
            us = arr.cast(pa.date32()).cast(pa.int32()).to_numpy(zero_copy_only=False)
            mask = arr.is_null().to_numpy(zero_copy_only=False)
            us = np.asarray(us, np.float64) * US_PER_DAY
        else:
            a = arr.cast(pa.timestamp("us", tz=t.tz)) if t.unit != "us" else arr
            mask = a.is_null().to_numpy(zero_copy_only=False)
            us = np.asarray(a.cast(pa.int64()).fill_null(0).to_numpy(zero_copy_only=False),
                            np.float64)
        x = (as_of_us - us) / US_PER_DAY
        x[mask] = np.nan
        return x
    if pa.types.is_integer(arr.type) and pa.types.is_unsigned_integer(arr.type):
        arr = arr.cast(pa.int64())
    x = np.asarray(arr.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64).copy()
    return x


def _merge(n, pos, cuts, _unused, i):
    """Merge bin i with bin i+1 (removing cut i)."""
    n = np.concatenate([n[:i], [n[i] + n[i + 1]], n[i + 2:]])
    pos = np.concatenate([pos[:i], [pos[i] + pos[i + 1]], pos[i + 2:]])
    cuts = cuts[:i] + cuts[i + 1:]
    return n, pos, cuts


def _short(below: float, cut: float) -> float:
    """The number with the fewest significant digits in (below, cut]: the same split of the
    training values as ``cut`` (the largest of them under it is ``below``), easier to read."""
    import math

    if not math.isfinite(below) or cut == int(cut) and abs(cut) < 1e6:
        return cut
    mag = math.floor(math.log10(max(abs(cut), abs(below), 1e-300)))
    for d in range(1, 17):
        q = 10.0 ** (mag - d + 1)
        for r in (float(f"{math.floor(cut / q) * q:.{d + 2}g}"), float(f"{cut:.{d}g}")):
            if below < r <= cut:
                return r
    return cut


def _rates(n, pos):
    return (pos + 0.5) / (n + 1.0)


def _merged(n, pos, cuts, min_count, max_bins, monotone):
    n, pos, cuts = np.asarray(n), np.asarray(pos), list(cuts)
    while len(n) > 1:
        r = _rates(n, pos)
        small = np.flatnonzero(n < min_count)
        if len(small):  # the smallest bin joins the neighbour with the closer rate
            k = int(small[np.argmin(n[small])])
            if k == 0:
                i = 0
            elif k == len(n) - 1:
                i = k - 1
            else:
                i = k - 1 if abs(r[k] - r[k - 1]) <= abs(r[k] - r[k + 1]) else k
            n, pos, cuts = _merge(n, pos, cuts, None, i)
            continue
        d = np.diff(np.log(r / (1 - r)))
        if monotone:
            k = np.arange(len(n))
            km = (k * n).sum() / n.sum()
            sign = 1.0 if ((k - km) * (r - (r * n).sum() / n.sum()) * n).sum() >= 0 else -1.0
            bad = np.flatnonzero(d * sign < 0)
            if len(bad):
                i = int(bad[np.argmin(np.abs(d[bad]))])
                n, pos, cuts = _merge(n, pos, cuts, None, i)
                continue
        if len(n) > max_bins:
            i = int(np.argmin(np.abs(d)))
            n, pos, cuts = _merge(n, pos, cuts, None, i)
            continue
        break
    return n, pos, cuts


def _numeric_bins(name, x, y, train, kind, max_bins, min_share):
    col = f"days_since({ident(name)})" if kind == "date" else ident(name)
    xt, yt = x[train], y
    ok = ~np.isnan(xt)
    v, vy = xt[ok], yt[ok]
    if len(v) == 0:
        return "no values (all NULL)"
    probs = np.linspace(0, 1, 21)[1:-1]
    if kind == "date":
        cand = np.unique(np.ceil(np.quantile(v, probs)))
    else:
        cand = np.unique(np.quantile(v, probs, method="nearest"))
        if len(np.unique(v[:10000])) <= 20:  # few distinct values: cut between each
            cand = np.unique(v)
    cand = [float(c) for c in cand if c > v.min() and np.isfinite(c)]
    if not cand and not (~ok).any():
        return "a single value"
    idx = np.searchsorted(np.array(cand), v, side="right")
    n, pos = bin_counts(idx, vy, len(cand) + 1)
    min_count = max(1, int(np.ceil(min_share * len(yt))))
    free = _merged(n, pos, cand, min_count, max_bins, False)
    mono = _merged(n, pos, cand, min_count, max_bins, True)
    iv_free = woe_iv(free[0], free[1])[1]
    iv_mono = woe_iv(mono[0], mono[1])[1]
    notes = []
    if iv_mono >= 0.9 * iv_free:
        n, pos, cuts = mono
        if len(cuts):
            notes.append("monotone")
    else:
        n, pos, cuts = free
        notes.append(f"not monotone (a monotone binning keeps {iv_mono:.3f} of IV {iv_free:.3f})")
    unit = " days" if kind == "date" else ""
    bins = []
    edges = [number(_short(v[v < c].max(), c)) for c in cuts]
    if not edges:
        bins.append(Bin("(any value)", f"{col} IS NOT NULL"))
    for k in range(len(edges) + 1 if edges else 0):
        if k == 0:
            bins.append(Bin(f"< {edges[0]}{unit}", f"{col} < {edges[0]}"))
        elif k == len(edges):
            bins.append(Bin(f">= {edges[-1]}{unit}", f"{col} >= {edges[-1]}"))
        else:
            bins.append(Bin(f"{edges[k - 1]} to < {edges[k]}{unit}",
                            f"{col} >= {edges[k - 1]} AND {col} < {edges[k]}"))
    codes = np.searchsorted(np.array([float(e) for e in edges]), x, side="right") if edges \
        else np.zeros(len(x), np.int64)
    codes = np.asarray(codes, np.int64)
    if (~ok).any():
        bins.append(Bin("(NULL)", f"{ident(name)} IS NULL"))
        codes[np.isnan(x)] = len(bins) - 1
    return bins, codes, notes


def _text_bins(name, arr, y, train, max_categories, min_share):
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    arr = arr.cast(pa.large_string())
    null = np.asarray(arr.is_null().to_numpy(zero_copy_only=False))
    tr = arr.filter(pa.array(train))
    counts = pc.value_counts(tr.drop_null())
    vals = counts.field("values").to_pylist()
    cnt = np.asarray(counts.field("counts").to_numpy(zero_copy_only=False))
    order = np.argsort(-cnt, kind="stable")
    min_count = max(1, int(np.ceil(min_share * len(y) * 0.2)))
    kept = [vals[i] for i in order[:max_categories] if cnt[i] >= min_count]
    notes = []
    if not kept and not null[train].any():
        return f"no value covers {min_count} training rows (an identifier?)"
    if len(vals) > len(kept):
        notes.append(f"{len(vals) - len(kept)} rare values as 'other'")
    c = ident(name)
    bins = [Bin(str(v), f"{c} = {string(v)}") for v in kept]
    if kept:
        bins.append(Bin(_unique("(other)", kept),
                        f"{c} NOT IN ({', '.join(string(v) for v in kept)})"))
    else:
        bins.append(Bin("(any value)", f"{c} IS NOT NULL"))
    idx = pc.index_in(arr, value_set=pa.array(kept, pa.large_string())) if kept else None
    codes = (np.asarray(idx.fill_null(len(kept)).to_numpy(zero_copy_only=False), np.int64)
             if kept else np.zeros(len(arr), np.int64))
    if null.any():
        bins.append(Bin(_unique("(NULL)", kept), f"{c} IS NULL"))
        codes[null] = len(bins) - 1
    return bins, codes, notes


def _unique(label, taken):
    while label in taken:
        label = "(" + label + ")"
    return label


def _bool_bins(name, arr):
    c = ident(name)
    v = np.asarray(arr.fill_null(False).to_numpy(zero_copy_only=False), bool)
    null = np.asarray(arr.is_null().to_numpy(zero_copy_only=False))
    bins = [Bin("TRUE", c), Bin("FALSE", f"NOT {c}")]
    codes = np.where(v, 0, 1).astype(np.int64)
    if null.any():
        bins.append(Bin("(NULL)", f"{c} IS NULL"))
        codes[null] = 2
    return bins, codes, []


def bin_column(name: str, arr: pa.ChunkedArray, y: np.ndarray, train: np.ndarray, *,
               as_of_us: int | None, max_bins: int = 8, min_share: float = 0.05,
               max_categories: int = 20):
    """The bins of column ``name`` (``arr``: all rows; ``y``: the training rows' labels;
    ``train``: which rows are training rows), or a string saying why it has none."""
    kind = _kind(arr.type)
    if kind is None:
        return f"type {arr.type} is not learned (numbers, text, booleans and dates are)"
    if isinstance(arr, pa.Array):
        arr = pa.chunked_array([arr])
    if kind == "text":
        got = _text_bins(name, arr, y, train, max_categories, min_share)
    elif kind == "boolean":
        got = _bool_bins(name, arr)
    else:
        got = _numeric_bins(name, as_numbers(arr, kind, as_of_us), y, train, kind, max_bins,
                            min_share)
    if isinstance(got, str):
        return got
    bins, codes, notes = got
    n, pos = bin_counts(codes[train], y, len(bins))
    if (n > 0).sum() < 2:
        return "a single bin in the training rows"
    woe, iv = woe_iv(n, pos)
    for b, k, p, w in zip(bins, n, pos, woe):
        b.count, b.conversions, b.woe = int(k), int(p), float(w)
    return ColumnBins(name, kind, bins, codes, iv, notes)
