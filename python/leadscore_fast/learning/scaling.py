"""From log-odds contributions to integer points.

A column's contribution in bin k is coef x WoE_k. Two scalings:
- ``points=(lo, hi)``: every column's lowest bin gets 0, and the factor ``s`` makes the sum of
  the columns' highest bins ``hi - lo``; a base rule adds ``lo``;
- ``pdo=(pdo, base, odds)``: ``s = pdo / ln 2`` points per doubling of the odds, a total of
  ``base`` at odds ``odds`` (conversion : not), as credit scorecards do.
Either way ``total = t0 + s x (linear predictor)`` up to the rounding of each rule's points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Scaling", "scale"]


@dataclass
class Scaling:
    s: float  # points per unit of log-odds
    t0: float  # total = t0 + s * linear predictor (before rounding)
    base_points: int  # the base rule's points
    how: str  # in words, for the file and the report

    def linear_predictor(self, total):
        return (np.asarray(total, np.float64) - self.t0) / self.s


def scale(intercept: float, contributions: dict[str, np.ndarray], *, points=None, pdo=None):
    """(Scaling, {column: integer points per bin})."""
    if pdo is not None:
        p, base, odds = pdo
        s = p / math.log(2)
        t0 = base - s * math.log(odds)
        base_points = round(t0 + s * intercept)
        how = (f"{p:g} points double the odds of converting; {base:g} points at odds of "
               f"{odds:g} to 1")
        pts = {c: np.round(s * v).astype(int) for c, v in contributions.items()}
        # the base rule's rounding moves t0 with it
        return Scaling(s, t0 + (base_points - (t0 + s * intercept)), base_points, how), pts
    lo, hi = points if points is not None else (0, 100)
    spread = sum(float(v.max() - v.min()) for v in contributions.values())
    s = (hi - lo) / spread if spread > 0 else 1.0
    pts = {c: np.round(s * (v - v.min())).astype(int) for c, v in contributions.items()}
    t0 = lo - s * (intercept + sum(float(v.min()) for v in contributions.values()))
    how = f"totals from {lo:g} to {hi:g} (each column's lowest bin 0 points, a base of {lo:g})"
    return Scaling(s, t0, int(round(lo)), how), pts
