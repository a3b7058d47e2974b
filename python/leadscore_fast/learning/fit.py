"""The regularised logistic regression on the weights of evidence (scikit-learn).

Each column enters as one feature, its bins' WoE, so its coefficient scales the whole column.
A column whose coefficient comes out negative (its evidence points the other way once the
others are in: collinear with them) is dropped and the rest refitted, as scorecards do, so
every column's points follow its own conversion rates.
"""
from __future__ import annotations

import numpy as np

from leadscore_fast.errors import ModelError

__all__ = ["fit_logistic", "require_sklearn", "MAX_FIT_ROWS"]

MAX_FIT_ROWS = 1_000_000  # the fit sees a random sample of this many rows at most


def require_sklearn():
    try:
        import sklearn  # noqa: F401
    except ImportError:
        raise ModelError("learn needs scikit-learn: pip install leadscore_fast[learn]") from None


def fit_logistic(X: np.ndarray, y: np.ndarray, names: list[str], *, C: float = 1.0,
                 seed: int = 0):
    """(intercept, {name: coefficient}, dropped {name: reason}) for the columns of X."""
    require_sklearn()
    from sklearn.linear_model import LogisticRegression

    if len(y) > MAX_FIT_ROWS:
        idx = np.random.default_rng(seed).choice(len(y), MAX_FIT_ROWS, replace=False)
        X, y = X[idx], y[idx]
    keep = list(range(len(names)))
    dropped = {}
    while True:
        if not keep:
            return float(np.log(y.mean() / (1 - y.mean()))), {}, dropped
        lr = LogisticRegression(C=C, max_iter=1000, tol=1e-6)
        lr.fit(X[:, keep], y)
        coef = lr.coef_[0]
        if (coef > 0).all():
            return float(lr.intercept_[0]), {names[j]: float(c) for j, c in zip(keep, coef)}, \
                dropped
        j = int(np.argmin(coef))
        dropped[names[keep[j]]] = (f"negative coefficient ({coef[j]:+.3f}) next to the other "
                                   "columns: its evidence is already in them")
        del keep[j]
