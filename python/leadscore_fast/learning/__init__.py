"""``lf.learn``: learn a points model (a scorecard) from outcomes and write it as an ordinary
model file.

binning.py (bins and their SQL conditions) → woe.py (weight of evidence, information value) →
leakage.py (columns that give the answer away) → fit.py (regularised logistic regression on
the WoE, scikit-learn) → scaling.py (integer points) → writing.py (the YAML with comments) →
report.py (holdout metrics next to plain logistic regression and gradient boosting).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

__all__ = ["learn", "LearnResult"]


@dataclass
class LearnResult:
    """What :func:`learn` returns: ``model`` (a Model), ``yaml`` (its file text), ``report``."""

    model: object
    yaml: str
    report: object
    scaling: object = None
    intercept: float = 0.0
    coefficients: dict = field(default_factory=dict)
    columns: list = field(default_factory=list)  # ColumnBins of the columns in the model
    calibration: tuple = (0.0, 0.0)  # p_convert = 1 / (1 + exp(-(a + b * total)))
    total: str = "total"
    points: dict = field(default_factory=dict)  # column -> integer points per bin

    def save(self, path) -> None:
        """Write the model file (atomically)."""
        import os
        import tempfile

        path = os.fspath(path)
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".learn-", suffix=".yaml")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(self.yaml)
        os.replace(tmp, path)

    def __str__(self) -> str:
        return str(self.report)


def _err(msg):
    from leadscore_fast.queries import QueryError

    return QueryError(f"learn: {msg}")


def _labels(table: pa.Table, target: str, positive, text: bool) -> np.ndarray:
    from leadscore_fast.labels import label_values

    arr = table.column(target)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    y = label_values(arr, target, positive, text, "learn")
    if not text:
        odd = ~np.isnan(y) & (y != 0) & (y != 1)
        if odd.any():
            vals = np.unique(y[odd])[:3]
            raise _err(f"target {target!r} is not binary: it holds {', '.join(f'{v:g}' for v in vals)}"
                       " besides 0 and 1 (a 0/1, boolean or two-valued text column is needed)")
    return y


def _split(y: np.ndarray, holdout: float, seed: int) -> np.ndarray:
    """A stratified random holdout (True = holdout row)."""
    hold = np.zeros(len(y), bool)
    if holdout <= 0:
        return hold
    rng = np.random.default_rng(seed)
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        k = int(round(holdout * len(idx)))
        hold[rng.choice(idx, k, replace=False)] = True
    return hold


def _bands(a, b, totals, rate):
    """Edges (warm, hot) on the total: warm where p_convert reaches the training conversion,
    hot where it reaches twice that (or halfway to 1, if lower); quantiles as a fallback."""
    lo, hi = float(np.min(totals)), float(np.max(totals))
    p_hot = min(2 * rate, (1 + rate) / 2)
    logit = lambda p: np.log(p / (1 - p))  # noqa: E731
    if b > 0:
        warm = int(np.ceil((logit(rate) - a) / b))
        hot = int(np.ceil((logit(p_hot) - a) / b))
        if lo < warm < hot <= hi:
            return (warm, hot), (f"bands on the total: hot from {hot} (p_convert >= {p_hot:.1%}"
                                 f"), warm from {warm} (p_convert >= {rate:.1%}, the training "
                                 "conversion), cold below")
    warm, hot = (int(np.ceil(np.quantile(totals, q))) for q in (0.5, 0.8))
    if hot <= warm:
        hot = warm + 1
    return (warm, hot), (f"bands on the total: hot from {hot} (the top 20 % of the training "
                         f"rows), warm from {warm} (the top half), cold below")


def learn(data, target: str, *, exclude=(), columns=None, allow=(), positive=None,
          points=None, pdo=None, holdout: float = 0.3, seed: int = 0, as_of=None,
          max_bins: int = 8, min_share: float = 0.05, min_iv: float = 0.02, C: float = 1.0,
          null_values=None, format=None, delimiter=None, compare=None,
          compare_score: str = "total", baselines: bool = True,
          name: str = "learned") -> LearnResult:
    """Learn a points model of ``target`` from ``data`` (anything ``score`` reads).

    ``exclude``/``columns``: which columns to learn from (default: all but the target);
    ``allow``: columns kept although the leakage guard flags them; ``points=(lo, hi)`` (default
    (0, 100)) or ``pdo=(pdo, base, odds)``: the scaling; ``holdout``: the share of rows held
    out (stratified, ``seed``) for the report; ``as_of``: the reference time of dates (default:
    now); ``compare``: a model (or path) whose ``compare_score`` the report measures on the
    same holdout."""
    from leadscore_fast.as_of import epoch_us, iso_utc
    from leadscore_fast.compiler import compile as compile_model
    from leadscore_fast.evaluation import evaluate
    from leadscore_fast.labels import check_label
    from leadscore_fast.learning.binning import bin_column
    from leadscore_fast.learning.fit import fit_logistic, require_sklearn
    from leadscore_fast.learning.leakage import leak_reason
    from leadscore_fast.learning.report import Report, baselines as run_baselines
    from leadscore_fast.learning.report import metrics_of_evaluation
    from leadscore_fast.learning.scaling import scale
    from leadscore_fast.learning.writing import score_names, write_yaml
    from leadscore_fast.model import Model
    from leadscore_fast.sources import open_source
    from leadscore_fast.suggest import did_you_mean

    t_start = time.perf_counter()
    require_sklearn()
    if not 0 <= holdout < 1:
        raise _err(f"holdout must be in [0, 1), got {holdout}")
    if points is not None and pdo is not None:
        raise _err("give points=(lo, hi) or pdo=(pdo, base, odds), not both")
    if points is not None and not points[1] > points[0]:
        raise _err(f"points range {points[0]}:{points[1]} is empty")
    source = open_source(data, format=format, delimiter=delimiter, null_values=null_values)
    schema = source.schema
    if target not in schema.names:
        raise _err(f"unknown target column {target!r}{did_you_mean(target, schema.names)}")
    text = check_label(schema, target, positive, "learn")
    names = list(schema.names)
    for c in list(exclude) + list(columns or []) + list(allow):
        if c not in names:
            raise _err(f"unknown column {c!r}{did_you_mean(c, names)}")
    cand = [c for c in (columns if columns is not None else names)
            if c != target and c not in set(exclude)]
    table = source.read_all()
    y_all = _labels(table, target, positive, text)
    ok = ~np.isnan(y_all)
    if not ok.all():
        table = table.filter(pa.array(ok))
        y_all = y_all[ok]
    n = len(y_all)
    if n == 0:
        raise _err(f"target {target!r} has no values")
    conv = int(y_all.sum())
    if conv == 0 or conv == n:
        raise _err(f"target {target!r} has a single class: all {n:,} rows are "
                   f"{'conversions' if conv else 'non-conversions'}; nothing to learn")
    hold = _split(y_all, holdout, seed)
    train = ~hold
    y = y_all[train]
    if len(y) < max_bins or min(y.sum(), len(y) - y.sum()) < 2:
        raise _err(f"{len(y):,} training rows ({int(y.sum())} conversions) are fewer than the "
                   f"bins a column can get ({max_bins}): more rows are needed")
    try:
        as_of_iso = iso_utc(as_of if as_of is not None else
                            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "as_of")
    except ValueError as e:
        raise _err(str(e)) from None
    as_of_us = epoch_us(as_of_iso)

    binned, dropped, leaks = [], {}, {}
    kinds = {}
    for c in cand:
        cb = bin_column(c, table.column(c), y, train, as_of_us=as_of_us, max_bins=max_bins,
                        min_share=min_share)
        if isinstance(cb, str):
            dropped[c] = cb
            continue
        kinds[c] = cb.kind
        why = leak_reason(cb, y)
        if why and c not in allow:
            leaks[c] = why
            continue
        if cb.iv < min_iv:
            dropped[c] = f"negligible information value ({cb.iv:.4f} < {min_iv})"
            continue
        binned.append(cb)
    if not binned:
        raise _err("no column carries information about the target"
                   + "".join(f"; {c}: {w}" for c, w in list(dropped.items())[:5])
                   + "".join(f"; {c}: a leak? {w} (--allow {c} keeps it)"
                             for c, w in list(leaks.items())[:5]))
    X = np.column_stack([cb.woe_of_rows()[train] for cb in binned])
    intercept, coefs, neg = fit_logistic(X, y, [cb.column for cb in binned], C=C, seed=seed)
    dropped.update(neg)
    binned = sorted((cb for cb in binned if cb.column in coefs), key=lambda cb: -cb.iv)
    if not binned:
        raise _err("no column is left after the fit")
    contributions = {cb.column: coefs[cb.column] * np.array([b.woe for b in cb.bins])
                     for cb in binned}
    scaling, pts = scale(intercept, contributions, points=points, pdo=pdo)

    taken = set(names)
    special = score_names(["total", "p_convert", "base", "tier"], taken)
    snames = score_names([cb.column for cb in binned], taken | set(special.values()))
    totals = np.full(n, float(scaling.base_points))
    for cb in binned:
        totals += pts[cb.column][cb.codes]
    require_sklearn()
    from sklearn.linear_model import LogisticRegression

    cal = LogisticRegression(C=1e6, max_iter=1000).fit(totals[train, None], y)
    a, b = float(cal.intercept_[0]), float(cal.coef_[0][0])
    rate = float(y.mean())
    edges, bands_note = _bands(a, b, totals[train], rate)
    header = [f"Learned by leadscore learn: target {target!r}, {len(y):,} training rows "
              f"converting {rate:.1%}.",
              f"Points: {scaling.how}.",
              "Each rule: one bin of a column; its comment gives the bin's training leads, "
              "conversion rate and weight of evidence",
              "(WoE: ln of the bin's share of conversions over its share of non-conversions)."]
    uses_dates = any(cb.kind == "date" for cb in binned)
    text_yaml = write_yaml(
        name=name, header=header, as_of=as_of_iso if uses_dates else None,
        columns=[(cb, snames[cb.column], pts[cb.column], coefs[cb.column]) for cb in binned],
        base_score=special["base"] if scaling.base_points else None,
        base_points=scaling.base_points, total=special["total"],
        p_convert=special["p_convert"], a=a, b=b, tier=special["tier"], edges=edges,
        bands_note=bands_note, n_train=len(y))
    model = Model.from_yaml_string(text_yaml, "<learned>")
    compile_model(model, table.schema)  # the written model compiles on the data it came from

    col_rows = [{"column": cb.column, "kind": cb.kind, "iv": cb.iv, "bins": len(cb.bins),
                 "coefficient": coefs[cb.column],
                 "points": (int(pts[cb.column].min()), int(pts[cb.column].max())),
                 "notes": cb.notes} for cb in binned]
    report = Report(target=target, rows=n, train_rows=int(train.sum()),
                    holdout_rows=int(hold.sum()), conversion=conv / n, columns=col_rows,
                    dropped=dropped, leaks=leaks, scaling=scaling.how)
    if hold.any():
        ho = table.filter(pa.array(hold))
        ev = evaluate(model, ho, target, special["total"], positive=positive, as_of=as_of_iso)
        report.holdout["learned points (this model)"] = metrics_of_evaluation(ev)
        if baselines:
            usable = [c for c in cand if c in kinds and c not in leaks]
            report.holdout.update(run_baselines(table, usable, kinds, y_all, train, hold,
                                                as_of_us, seed))
        if compare is not None:
            cm = Model.from_yaml(compare) if isinstance(compare, str) or hasattr(
                compare, "__fspath__") else compare
            ev = evaluate(cm, ho, target, compare_score, positive=positive)
            report.holdout[f"compared: {getattr(cm, 'name', 'model')!s}"] = \
                metrics_of_evaluation(ev)
    report.seconds = time.perf_counter() - t_start
    return LearnResult(model=model, yaml=text_yaml, report=report, scaling=scaling,
                       intercept=intercept, coefficients=coefs, columns=binned,
                       calibration=(a, b), total=special["total"],
                       points={c: p.tolist() for c, p in pts.items()})
