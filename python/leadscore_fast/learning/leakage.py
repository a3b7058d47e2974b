"""The leakage guard: a column whose values nearly determine the outcome (filled in after the
fact, like a sales team's tags) is reported before fitting and left out unless allowed.

A column leaks when, in the training rows, its values (text and boolean columns: a number's
extreme quantile bins of a strong predictor would look the same) whose odds of converting are at least
``odds`` times the average, or at most 1/``odds`` of it (|WoE| >= ln odds; NULL aside), cover
at least ``min_share`` of the rows, or when the column alone ranks the leads with an AUC above
``max_auc``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["leak_reason", "column_auc"]


def leak_reason(cb, y: np.ndarray, *, min_share: float = 0.1, odds: float = 20.0,
                max_auc: float = 0.95) -> str | None:
    """Why the binned column ``cb`` (a ColumnBins) looks like a leak, or None."""
    n_train = sum(b.count for b in cb.bins)
    sure = [b for b in cb.bins if cb.kind in ("text", "boolean") and b.count and not b.when.endswith(" IS NULL") and
            abs(b.woe) >= math.log(odds)]
    share = sum(b.count for b in sure) / n_train if n_train else 0
    if share >= min_share:
        sure.sort(key=lambda b: -b.count)
        shown = ", ".join(f"{b.label!r} ({b.count:,} leads, {b.rate:.1%})" for b in sure[:3])
        return (f"values that nearly decide the outcome (odds {odds:g}x the average or "
                f"1/{odds:g} of it) cover {share:.0%} of the training rows: {shown}"
                f"{', ...' if len(sure) > 3 else ''} (overall {float(np.mean(y)):.1%})")
    a = column_auc(cb)
    if a > max_auc:
        return f"on its own it ranks the leads with an AUC of {a:.3f}"
    return None


def column_auc(cb) -> float:
    """The column's own AUC (its bins ranked by WoE; ties count half), from the bin counts."""
    woe = np.array([b.woe for b in cb.bins])
    pos = np.array([b.conversions for b in cb.bins], np.float64)
    neg = np.array([b.count - b.conversions for b in cb.bins], np.float64)
    o = np.argsort(woe)
    pos, neg = pos[o], neg[o]
    P, N = pos.sum(), neg.sum()
    if not P or not N:
        return 0.5
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (P * N))
