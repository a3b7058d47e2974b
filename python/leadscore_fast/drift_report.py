"""Drift between two runs: has the population a model scores moved? Per score the population
stability index over fixed bins taken from the reference (its deciles), the change in each
segment's share, each rule's hit-rate change and the NULL rate of each input column the model
reads. One engine pass over each input (the augmented model of rule_health.py); batches are
folded with numpy (searchsorted + bincount), never row by row in Python.

PSI = Σ_bins (c − r) · ln(c / r), r and c the reference and current shares of a bin; the bins
are ``[e_{i-1}, e_i)`` between the distinct reference deciles, plus one for NULL scores; a
share of 0 counts as ``EPS`` (so an empty bin gives a large, finite term). Flags: PSI at or
past 0.1 "moderate", past 0.25 "major" (the usual thresholds).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from leadscore_fast.compiler import as_model
from leadscore_fast.rule_health import augment, Folder, session_for

__all__ = ["drift", "Drift", "psi", "decile_edges", "EPS", "MODERATE", "MAJOR", "NULL_SHIFT"]

EPS = 1e-4
MODERATE, MAJOR = 0.1, 0.25
NULL_SHIFT = 0.1  # an input column whose NULL rate rose by this much (absolute) is flagged


def decile_edges(values: np.ndarray, bins: int = 10) -> np.ndarray:
    """The distinct interior quantiles (1/bins ... (bins-1)/bins, linear) of the non-NULL
    ``values``: the fixed bin edges."""
    v = np.asarray(values, np.float64)
    v = v[~np.isnan(v)]
    if not len(v):
        return np.zeros(0)
    return np.unique(np.quantile(v, np.arange(1, bins) / bins))


def psi(ref_counts, cur_counts, eps: float = EPS) -> float:
    """The population stability index of two count vectors over the same bins."""
    r = np.asarray(ref_counts, np.float64)
    c = np.asarray(cur_counts, np.float64)
    if not r.sum() or not c.sum():
        return float("nan")
    r, c = r / r.sum(), c / c.sum()
    used = (r > 0) | (c > 0)
    r, c = np.maximum(r[used], eps), np.maximum(c[used], eps)
    return float(np.sum((c - r) * np.log(c / r)))


def _flag(p: float) -> str:
    if p != p:
        return "-"
    return "major" if p > MAJOR else "moderate" if p >= MODERATE else "stable"


@dataclass
class Drift:
    """``scores`` (score, psi, flag, edges, reference/current counts per bin), ``segments``
    (segmentation, segment, reference/current share, change), ``rules`` (score, rule,
    reference/current hit rate, change), ``columns`` (column, reference/current NULL rate,
    change, flagged), ``warnings`` (messages for what moved)."""
    reference_leads: int
    current_leads: int
    scores: list
    segments: list
    rules: list
    columns: list
    warnings: list

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def _pass(m, data, as_of, threads, edges=None, keep_scores=False):
    """One pass of the augmented model; with ``edges``, each score's bin counts are
    histogram queries of the same Program (the engine counts them in the pass)."""
    from leadscore_fast.compiler import as_schema
    from leadscore_fast.queries import query_program, query_spec
    from leadscore_fast.sources import open_source

    source = open_source(data)
    schema = as_schema(source.schema)
    aug, slots, _ = augment(m, schema, bounds=False)
    engine_edges = {s: e for s, e in (edges or {}).items() if len(e)}
    numpy_edges = {s: e for s, e in (edges or {}).items() if not len(e)}
    queries = [query_spec("hist", f"__drift.{i}", _quoted(s), edges=[float(x) for x in e])
               for i, (s, e) in enumerate(engine_edges.items())]
    program = query_program(aug, schema, queries) if queries else aug
    ses = session_for(program, source, [], as_of, threads)
    f = Folder(m, ses, slots, [], keep_scores=keep_scores, score_edges=numpy_edges,
                what="drift", null_columns=False)
    slots_of = {q["name"]: (int(q["slot"]), int(q["size"])) for q in ses.prep.queries}
    for s in engine_edges:
        f.hist[s] = np.zeros(len(engine_edges[s]) + 2, np.int64)
    for out in ses.batches(materialize=True):
        f.add(out)
        for i, s in enumerate(engine_edges):
            at, size = slots_of[f"__drift.{i}"]
            acc = out.acc[at:at + size]  # [NULL, below, bins..., at or above the last]
            f.hist[s] += np.append(acc[1:], acc[0])
    return f


def _quoted(name: str) -> str:
    """A score name as an identifier in query text."""
    return '"' + name.replace('"', '""') + '"'


def _reference_bins(v: np.ndarray, bins: int):
    """(edges, counts) of the reference values: the deciles, then one compare per edge."""
    v = np.asarray(v, np.float64)
    ok = v[~np.isnan(v)]
    edges = decile_edges(ok, bins)  # a partition, not a sort
    below = np.array([np.count_nonzero(ok < e) for e in edges], np.int64)  # values < each edge
    counts = np.diff(np.concatenate([[0], below, [len(ok)]]))
    return edges, np.append(counts, len(v) - len(ok))


def _named(fn, which, data, *args, **kwargs):
    """``fn(*args)``; an error says which input it is about (the reference or the current)."""
    from leadscore_fast.errors import LeadscoreError

    try:
        return fn(*args, **kwargs)
    except LeadscoreError as e:
        what = getattr(data, "name", None) or (data if isinstance(data, (str, bytes)) else None)
        where = f"the {which} input {what}" if isinstance(what, str) else f"the {which} input"
        try:
            err = type(e)(f"{e}\n  (drift: reading {where})")
        except Exception:  # an error type that takes other arguments: leave it as it is
            raise e from None
        raise err from None


def _share(x, n):
    return float(x / n) if n else None


def drift(model, reference, current, *, bins: int = 10, as_of=None, threads=None) -> Drift:
    """How ``current`` differs from ``reference`` (each anything ``score`` reads: files,
    datasets, database tables, tables in memory) under ``model``: PSI per score over the
    reference's deciles, segment shares, rule hit rates and input NULL rates, with flags."""
    from leadscore_fast.as_of import pinned
    from leadscore_fast.queries import QueryError

    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 2:
        raise QueryError(f"drift: bins must be an integer >= 2, got {bins!r}")
    m = as_model(model)
    as_of = pinned(as_of, m)
    ref = _named(_pass, "reference", reference, m, reference, as_of, threads, keep_scores=True)
    edges, ref_hist = {}, {}
    for s, parts in ref.scores.items():
        edges[s], ref_hist[s] = _reference_bins(
            np.concatenate(parts) if parts else np.zeros(0), bins)
    ref.scores = None  # free the reference's score columns
    cur = _named(_pass, "current", current, m, current, as_of, threads, edges=edges)
    warnings = []
    scores = []
    for s in m.score_names:
        p = psi(ref_hist[s], cur.hist[s])  # NaN (None in the report) when an input is empty
        scores.append({"score": s, "psi": None if p != p else p, "flag": _flag(p), "edges": edges[s].tolist(),
                       "reference": ref_hist[s].tolist(), "current": cur.hist[s].tolist()})
        if p == p and p >= MODERATE:
            warnings.append(f"score {s!r}: PSI {p:.3f} ({_flag(p)} shift; 0.1 moderate, "
                            "0.25 major)")
    segments = []
    for g in m.segment_names:
        labels = ref.seg_labels[g] + [None]
        for i, lab in enumerate(labels):
            r, c = ref.segs[g][i], cur.segs[g][i]
            if lab is None and not r and not c:
                continue
            rs, cs = _share(r, ref.n), _share(c, cur.n)
            segments.append({"segmentation": g, "segment": lab, "reference_share": rs,
                             "current_share": cs,
                             "change": None if rs is None or cs is None else cs - rs})
    rules = []
    for k, s in enumerate(ref.slots):
        rs, cs = _share(ref.truth[k, 0], ref.n), _share(cur.truth[k, 0], cur.n)
        rules.append({"score": s.score, "rule": s.name, "reference_hit_rate": rs,
                      "current_hit_rate": cs,
                      "change": None if rs is None or cs is None else cs - rs})
    columns = []
    for c in ref.inputs:
        rs = _share(ref.col_nulls.get(c, 0), ref.n)
        cs = _share(cur.col_nulls.get(c, 0), cur.n)
        change = None if rs is None or cs is None else cs - rs
        flagged = change is not None and change >= NULL_SHIFT
        columns.append({"column": c, "reference_null_rate": rs, "current_null_rate": cs,
                        "change": change, "flagged": flagged})
        if flagged:
            warnings.append(f"column {c!r}: NULL for {cs:.0%} of current leads against "
                            f"{rs:.0%} of the reference (stopped arriving?)")
    return Drift(reference_leads=ref.n, current_leads=cur.n, scores=scores, segments=segments,
                 rules=rules, columns=columns, warnings=warnings)
