"""How well a score separates the leads that converted from those that did not: ROC AUC, KS,
gains and lift per decile, conversion per segment, the score's distribution per outcome, and
what a threshold (or a sales capacity of N leads) catches.

One streaming pass: each batch folds into the distinct score values with their converted /
not-converted counts (exact: AUC counts ties as half, as scikit-learn's ``roc_auc_score``
does) and into per-segment conversion counts. Everything else is computed from those.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore_fast.compiler import as_model, as_schema
from leadscore_fast.labels import check_label, floats, label_values
from leadscore_fast.queries import QueryError
from leadscore_fast.suggest import did_you_mean_or_known

__all__ = ["evaluate", "Evaluation"]


@dataclass
class Evaluation:
    """The result of :func:`evaluate`. ``to_dict()`` gives plain numbers (for JSON)."""

    score: str
    leads: int  # with a non-NULL label
    conversions: int
    auc: float | None
    ks: float | None
    ks_at: float | None  # the score threshold where the KS distance is largest
    deciles: list[dict]  # rank, min_score, max_score, leads, conversions, rate, gains, lift
    segments: list[dict]  # segmentation, segment, leads, share, conversions, rate, lift
    histogram: dict  # edges, converted, not_converted (counts per bin)
    capacity: dict | None = None  # capacity, threshold, leads, conversions, rate, caught
    threshold: dict | None = None  # threshold, leads, conversions, rate, caught
    unlabelled: int = 0  # leads whose label or score is NULL (left out)

    @property
    def rate(self) -> float | None:
        return self.conversions / self.leads if self.leads else None

    def to_dict(self) -> dict:
        d = {k: getattr(self, k) for k in ("score", "leads", "conversions", "auc", "ks", "ks_at",
                                          "deciles", "segments", "histogram", "capacity",
                                          "threshold", "unlabelled")}
        d["conversion_rate"] = self.rate
        return d


class _Counts:
    """Distinct score values (ascending) with their positive / negative label counts: each
    batch's are kept as they come and merged once, at the end (``done``)."""

    def __init__(self):
        self._parts: list = []
        self.values = np.empty(0)
        self.pos = np.empty(0, np.int64)
        self.neg = np.empty(0, np.int64)

    def add(self, v: np.ndarray, y: np.ndarray) -> None:
        u, inv = np.unique(v, return_inverse=True)
        pos = np.bincount(inv, weights=y, minlength=len(u)).round().astype(np.int64)
        self._parts.append((u, pos, np.bincount(inv, minlength=len(u)) - pos))

    def done(self) -> "_Counts":
        if self._parts:
            vals = np.concatenate([p[0] for p in self._parts])
            self.values, inv = np.unique(vals, return_inverse=True)
            self.pos = np.bincount(inv, weights=np.concatenate([p[1] for p in self._parts]),
                                   minlength=len(self.values)).round().astype(np.int64)
            self.neg = np.bincount(inv, weights=np.concatenate([p[2] for p in self._parts]),
                                   minlength=len(self.values)).round().astype(np.int64)
            self._parts = []
        return self


def _auc_ks(c: _Counts):
    P, N = int(c.pos.sum()), int(c.neg.sum())
    if not P or not N:
        return None, None, None
    # Mann-Whitney: P(score of a conversion > score of a non-conversion) + half the ties
    neg_below = np.cumsum(c.neg) - c.neg
    auc = float((c.pos * (neg_below + 0.5 * c.neg)).sum() / (P * N))
    # KS: the largest gap between the two classes' score distributions (at >= threshold)
    tpr = np.cumsum(c.pos[::-1])[::-1] / P
    fpr = np.cumsum(c.neg[::-1])[::-1] / N
    gap = tpr - fpr
    k = int(np.argmax(gap))
    return auc, float(gap[k]), float(c.values[k])


def _deciles(c: _Counts) -> list[dict]:
    """Leads ranked by score, highest first, cut into ten groups of about equal size; leads
    with equal scores stay in one group (a threshold cannot split them)."""
    n = c.pos + c.neg
    total, conv = int(n.sum()), int(c.pos.sum())
    if not total:
        return []
    order = np.arange(len(n))[::-1]  # descending score
    cum = np.cumsum(n[order])
    # group of each distinct value: where its first lead falls among the ten equal parts
    start = cum - n[order]
    group = np.minimum((start * 10) // total, 9)
    out = []
    for g in range(10):
        sel = order[group == g]
        if not len(sel):
            continue
        leads, hits = int(n[sel].sum()), int(c.pos[sel].sum())
        out.append({"decile": g + 1, "min_score": float(c.values[sel].min()),
                    "max_score": float(c.values[sel].max()), "leads": leads, "conversions": hits,
                    "rate": hits / leads if leads else None})
    cum_hits = 0
    for d in out:
        cum_hits += d["conversions"]
        d["gains"] = cum_hits / conv if conv else None  # share of all conversions so far
        d["lift"] = d["rate"] / (conv / total) if conv and d["rate"] is not None else None
    return out


def _at_least(c: _Counts, t: float) -> dict:
    sel = c.values >= t
    leads, hits = int((c.pos + c.neg)[sel].sum()), int(c.pos[sel].sum())
    conv = int(c.pos.sum())
    return {"threshold": float(t), "leads": leads, "conversions": hits,
            "rate": hits / leads if leads else None, "caught": hits / conv if conv else None}


def _capacity(c: _Counts, capacity: int) -> dict:
    """The lowest threshold whose leads (score >= threshold) fit in ``capacity``."""
    n = (c.pos + c.neg)[::-1]
    fits = np.cumsum(n) <= capacity
    if not fits.any():
        res = {"threshold": None, "leads": 0, "conversions": 0, "rate": None, "caught": 0.0}
    else:
        k = int(np.nonzero(fits)[0][-1])
        res = _at_least(c, float(c.values[::-1][k]))
    return {"capacity": int(capacity), **res}


def _histogram(c: _Counts, bins: int) -> dict:
    if not len(c.values):
        return {"edges": [], "converted": [], "not_converted": []}
    lo, hi = float(c.values[0]), float(c.values[-1])
    edges = np.linspace(lo, hi if hi > lo else lo + 1.0, bins + 1)
    at = np.clip(np.searchsorted(edges, c.values, side="right") - 1, 0, bins - 1)
    return {"edges": [float(e) for e in edges],
            "converted": np.bincount(at, weights=c.pos, minlength=bins).astype(int).tolist(),
            "not_converted": np.bincount(at, weights=c.neg, minlength=bins).astype(int).tolist()}


def evaluate(model, data, label: str, score: str = "total", *, positive=None, capacity=None,
             threshold=None, bins: int = 20, as_of=None, threads=None) -> Evaluation:
    """Evaluate ``score`` of ``model`` against the outcome column ``label`` of ``data``
    (anything :func:`leadscore_fast.score` reads). The label is bool, numeric (nonzero is a
    conversion) or text (``positive``, default yes/y/true/1 against no/n/false/0); leads with
    a NULL label or a NULL score are left out. ``capacity``: how many leads sales can take —
    the threshold that fits them and what it catches; ``threshold``: the same for a given
    score threshold."""
    from leadscore_fast.compiler import compile_program as compile_model
    from leadscore_fast.scoring import score as run
    from leadscore_fast.sources import open_source

    m = as_model(model)
    if score not in m.score_names:
        raise QueryError(f"evaluate: unknown score {score!r}{did_you_mean_or_known(score, m.score_names)}")
    source = open_source(data)
    text = check_label(as_schema(source.schema), label, positive, "evaluate")
    program = compile_model(m, source.schema)
    segs = [(g["name"], list(g["labels"])) for g in program.segments]
    counts = _Counts()
    seg_n = [np.zeros(len(labels) + 1, np.int64) for _, labels in segs]
    seg_hits = [np.zeros(len(labels) + 1) for _, labels in segs]
    unlabelled = 0
    n_scores = len(m.score_names)
    at = m.score_names.index(score)
    for batch in run(program, source, keep=[label], as_of=as_of, threads=threads, stream=True):
        v = floats(batch.column(at))
        y = label_values(batch.column(n_scores + len(segs)), label, positive, text, "evaluate")
        ok = ~np.isnan(y) & ~np.isnan(v)
        unlabelled += int((~ok).sum())
        counts.add(v[ok], y[ok])
        for k in range(len(segs)):
            codes = batch.column(n_scores + k).indices.fill_null(-1).to_numpy(zero_copy_only=False)
            codes = np.where(codes < 0, len(segs[k][1]), codes)[ok]
            seg_n[k] += np.bincount(codes, minlength=len(seg_n[k]))
            seg_hits[k] += np.bincount(codes, weights=y[ok], minlength=len(seg_n[k]))
    counts.done()
    leads, conv = int((counts.pos + counts.neg).sum()), int(counts.pos.sum())
    overall = conv / leads if leads else None
    segments = []
    for (name, labels), n, h in zip(segs, seg_n, seg_hits):
        for i, lab in enumerate(labels + [None]):
            if lab is None and not n[i]:
                continue
            rate = h[i] / n[i] if n[i] else None
            segments.append({"segmentation": name, "segment": lab, "leads": int(n[i]),
                             "share": n[i] / leads if leads else None,
                             "conversions": int(round(h[i])), "rate": rate,
                             "lift": rate / overall if rate is not None and overall else None})
    auc, ks, ks_at = _auc_ks(counts)
    return Evaluation(
        score=score, leads=leads, conversions=conv, auc=auc, ks=ks, ks_at=ks_at,
        deciles=_deciles(counts), segments=segments, histogram=_histogram(counts, int(bins)),
        capacity=None if capacity is None else _capacity(counts, int(capacity)),
        threshold=None if threshold is None else _at_least(counts, float(threshold)),
        unlabelled=unlabelled)

