"""Weight of evidence and information value of a binned column (conversions against the rest).

WoE of a bin = ln(share of the conversions in it / share of the non-conversions in it), with
0.5 added to each count so an empty side stays finite: positive where leads convert more than
on average. IV = sum over bins of (share of conversions - share of non-conversions) x WoE.
"""
from __future__ import annotations

import numpy as np

__all__ = ["bin_counts", "woe_iv"]


def bin_counts(codes: np.ndarray, y: np.ndarray, n_bins: int):
    """Leads and conversions per bin (codes: bin index per row; y: 1/0)."""
    n = np.bincount(codes, minlength=n_bins).astype(np.int64)
    pos = np.bincount(codes, weights=y, minlength=n_bins).round().astype(np.int64)
    return n, pos


def woe_iv(n: np.ndarray, pos: np.ndarray):
    """(woe per bin, information value). A bin with no leads gets WoE 0 (neutral)."""
    n = np.asarray(n, np.float64)
    pos = np.asarray(pos, np.float64)
    neg = n - pos
    P, N = pos.sum(), neg.sum()
    m = len(n)
    sp = (pos + 0.5) / (P + 0.5 * m)
    sn = (neg + 0.5) / (N + 0.5 * m)
    woe = np.where(n > 0, np.log(sp / sn), 0.0)
    iv = float(((sp - sn) * woe)[n > 0].sum())
    return woe, iv
