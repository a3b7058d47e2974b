"""Exact per-group sums of float64 values, so that sums over partitions merge into the
one-pass answer bit for bit (a float sum depends on the order of its additions; an exact
one does not).

Every finite float64 is ``m · 2**(x - 1075)`` with an integer ``|m| < 2**53`` and its
biased exponent ``x`` in [1, 2046] (its IEEE-754 fields). Each batch is split into 26-bit halves of ``m`` and summed per (group,
exponent) with ``np.bincount`` (sums of at most ``2**26`` halves stay below ``2**53``: exact
in float64), then folded into one Python integer per group, the sum scaled by ``2**1126``.
``totals()`` rounds each exactly once (int / int division is correctly rounded).
"""
from __future__ import annotations

import numpy as np

__all__ = ["ExactSums"]

_SHIFT = 1126          # sums are kept scaled by 2**1126 (any unit 2**-1074 and up is whole)
_EXPONENTS = 2100      # x - 1075 + _SHIFT lies in [52, 2098)
_ROWS = 1 << 26        # rows per bincount: the halves' sums stay exact
_LOW = (1 << 26) - 1


class ExactSums:
    """Exact sums of float64 values in ``n`` groups (+inf/-inf counted apart)."""

    def __init__(self, n: int):
        self.n = int(n)
        self.acc = [0] * self.n     # per group: the sum of the finite values · 2**1126
        self.pinf = np.zeros(self.n, np.int64)
        self.ninf = np.zeros(self.n, np.int64)

    def add(self, groups: np.ndarray, values: np.ndarray) -> None:
        """Add ``values`` (float64, no NaN) to the groups ``groups`` (int64 in [0, n))."""
        groups = np.asarray(groups, np.int64)
        values = np.asarray(values, np.float64)
        finite = np.isfinite(values)
        if not finite.all():
            self.pinf += np.bincount(groups[values == np.inf], minlength=self.n)
            self.ninf += np.bincount(groups[values == -np.inf], minlength=self.n)
            groups, values = groups[finite], values[finite]
        for lo in range(0, len(values), _ROWS):
            self._add(groups[lo:lo + _ROWS], values[lo:lo + _ROWS])

    def _add(self, groups, values) -> None:
        # IEEE-754 fields: value = ±mant · 2**(max(biased, 1) - 1075), mant < 2**53
        bits = values.view(np.int64)
        biased = (bits >> 52) & 0x7FF
        mant = (bits & 0xFFFFFFFFFFFFF) | ((biased != 0).astype(np.int64) << 52)
        m = np.where(bits < 0, -mant, mant)
        key = groups * _EXPONENTS + (np.maximum(biased, 1) + (_SHIFT - 1075))
        size = self.n * _EXPONENTS
        hi = np.bincount(key, weights=(m >> 26).astype(np.float64), minlength=size)
        lo = np.bincount(key, weights=(m & _LOW).astype(np.float64), minlength=size)
        for k in np.flatnonzero((hi != 0) | (lo != 0)).tolist():
            group, shift = divmod(k, _EXPONENTS)
            self.acc[group] += ((int(hi[k]) << 26) + int(lo[k])) << shift

    def merge(self, other: ExactSums) -> ExactSums:
        """The sums of both (groups matched by position)."""
        if other.n != self.n:
            raise ValueError(f"cannot merge sums over {other.n} groups into {self.n}")
        out = ExactSums(self.n)
        out.acc = [a + b for a, b in zip(self.acc, other.acc)]
        out.pinf, out.ninf = self.pinf + other.pinf, self.ninf + other.ninf
        return out

    def totals(self) -> np.ndarray:
        """Each group's sum, correctly rounded to float64 (NaN where +inf meets -inf)."""
        return np.array([_round(a, p, n) for a, p, n in zip(self.acc, self.pinf, self.ninf)],
                        np.float64)

    def grand_total(self) -> float:
        """The sum over every group, correctly rounded."""
        return _round(sum(self.acc), self.pinf.sum(), self.ninf.sum())


def _round(scaled: int, pinf, ninf) -> float:
    if pinf or ninf:
        return float("nan") if pinf and ninf else float("inf") if pinf else float("-inf")
    try:
        return scaled / (1 << _SHIFT)  # int / int: correctly rounded
    except OverflowError:
        return float("inf") if scaled > 0 else float("-inf")
