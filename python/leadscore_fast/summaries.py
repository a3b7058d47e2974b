"""Segment-level summaries in one streaming pass: per segment, the lead count and share, the
mean/min/max of every score and, given a label column such as ``converted``, the conversion
rate and its lift over the whole population.

Scoring streams batch by batch and each batch is folded into small per-segment accumulators
(numpy bincount / fmin.at / fmax.at), so memory stays bounded by one batch whatever the
input size.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leadscore_fast.compiler import as_model, as_schema
from leadscore_fast.exactsum import ExactSums
from leadscore_fast.labels import check_label, floats, label_values
from leadscore_fast.queries import QueryError
from leadscore_fast.suggest import did_you_mean_or_known as _suggest

__all__ = ["summarize", "summary_part", "SummaryPart"]


class _Acc:
    """Running totals for one segmentation; slot ``len(labels)`` holds unassigned leads. Sums
    are exact (exactsum.py), so accumulators of partitions merge into the one-pass totals."""

    def __init__(self, labels: list[str], scores: list[str], labelled: bool):
        n = len(labels) + 1
        self.labels, self.scores = labels, scores
        self.count = np.zeros(n, np.int64)
        self.n = {s: np.zeros(n, np.int64) for s in scores}  # non-NULL values
        self.sum = {s: ExactSums(n) for s in scores}
        self.min = {s: np.full(n, np.nan) for s in scores}  # fmin/fmax skip NaN (= NULL)
        self.max = {s: np.full(n, np.nan) for s in scores}
        self.conv = ExactSums(n) if labelled else None
        self.conv_n = np.zeros(n, np.int64) if labelled else None

    def add(self, codes: np.ndarray, values: dict, label: np.ndarray | None) -> None:
        n = len(self.count)
        codes = np.where(codes < 0, n - 1, codes)
        self.count += np.bincount(codes, minlength=n)
        for s in self.scores:
            v = values[s]
            ok = ~np.isnan(v)
            self.n[s] += np.bincount(codes[ok], minlength=n)
            self.sum[s].add(codes[ok], v[ok])
            np.fmin.at(self.min[s], codes, v)
            np.fmax.at(self.max[s], codes, v)
        if label is not None:
            ok = ~np.isnan(label)
            self.conv.add(codes[ok], label[ok])
            self.conv_n += np.bincount(codes[ok], minlength=n)

    def merge(self, other: _Acc) -> _Acc:
        """The totals of both (same segmentation, scores and labelling)."""
        if (other.labels, other.scores, other.conv is None) != \
                (self.labels, self.scores, self.conv is None):
            raise QueryError("merge: summaries of different segmentations, scores or labels")
        out = _Acc(self.labels, self.scores, self.conv is not None)
        out.count = self.count + other.count
        for s in self.scores:
            out.n[s] = self.n[s] + other.n[s]
            out.sum[s] = self.sum[s].merge(other.sum[s])
            out.min[s] = np.fmin(self.min[s], other.min[s])
            out.max[s] = np.fmax(self.max[s], other.max[s])
        if self.conv is not None:
            out.conv = self.conv.merge(other.conv)
            out.conv_n = self.conv_n + other.conv_n
        return out


@dataclass
class SummaryPart:
    """The mergeable state of a summary (one per partition): ``merge`` adds another's,
    ``result()`` is the table ``summarize`` gives for all the rows merged in."""
    accs: dict        # segmentation name → _Acc
    scores: list
    labelled: bool

    def merge(self, other: SummaryPart) -> SummaryPart:
        if list(other.accs) != list(self.accs):
            raise QueryError(f"merge: summaries of segmentations {list(self.accs)} and "
                             f"{list(other.accs)}")
        return SummaryPart({k: a.merge(other.accs[k]) for k, a in self.accs.items()},
                           self.scores, self.labelled)

    def result(self) -> pa.Table:
        return _table(self.accs, self.scores, self.labelled)


def _codes(arr) -> np.ndarray:
    return np.asarray(arr.indices.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


def summarize(model, data, *, segmentation=None, label=None, positive=None, as_of=None,
              threads=None) -> pa.Table:
    """One row per segment (label order, then unassigned leads as a NULL segment if any) of
    ``segmentation`` (default: every segmentation, stacked): columns segmentation, segment,
    count, share, then ``<score>_mean/_min/_max`` per score and, with ``label`` (a bool or
    numeric column, or text: ``positive`` is the value meaning a conversion, default
    yes/y/true/1 against no/n/false/0, any case; NULL labels are left out of the rate),
    conversions, conversion_rate and lift (rate / overall rate). Means are of exact sums."""
    return summary_part(model, data, segmentation=segmentation, label=label,
                        positive=positive, as_of=as_of, threads=threads).result()


def summary_part(model, data, *, segmentation=None, label=None, positive=None, as_of=None,
                 threads=None) -> SummaryPart:
    """The mergeable state of ``summarize`` over ``data`` (arguments as summarize's):
    partitions' parts merged (``SummaryPart.merge``, ``lf.merge.combine``) give the
    summary of all their rows, bit for bit."""
    from leadscore_fast.compiler import compile_program as compile_model
    from leadscore_fast.scoring import score
    from leadscore_fast.sources import open_source

    m = as_model(model)
    if not m.segmentations:
        raise QueryError(f"summarize: model {m.name!r} defines no segmentations")
    names = m.segment_names if segmentation is None else \
        [segmentation] if isinstance(segmentation, str) else list(segmentation)
    for name in names:
        if name not in m.segment_names:
            raise QueryError(f"summarize: unknown segmentation {name!r}"
                             f"{_suggest(name, m.segment_names)}")
    source = open_source(data)
    schema = source.schema
    text = False if label is None else check_label(as_schema(schema), label, positive, "summarize")
    program = compile_model(m, schema)
    labels = {g["name"]: list(g["labels"]) for g in program.segments}
    accs = {name: _Acc(labels[name], m.score_names, label is not None) for name in names}
    stream = score(program, source, keep=[label] if label is not None else None, as_of=as_of, threads=threads,
                   stream=True)
    n_scores = len(m.score_names)
    label_at = n_scores + len(m.segment_names)  # kept columns follow scores and segments
    for batch in stream:
        values = {s: floats(batch.column(i)) for i, s in enumerate(m.score_names)}
        lab = None if label is None else \
            label_values(batch.column(label_at), label, positive, text, "summarize")
        for name, acc in accs.items():
            acc.add(_codes(batch.column(n_scores + m.segment_names.index(name))), values, lab)
    return SummaryPart(accs, list(m.score_names), label is not None)


def _table(accs: dict, scores: list[str], labelled: bool) -> pa.Table:
    cols: dict[str, list] = {"segmentation": [], "segment": [], "count": [], "share": []}
    for s in scores:
        cols.update({f"{s}_mean": [], f"{s}_min": [], f"{s}_max": []})
    if labelled:
        cols.update({"conversions": [], "conversion_rate": [], "lift": []})

    def num(x):
        return None if x is None or np.isnan(x) else float(x)

    for name, a in accs.items():
        total = int(a.count.sum())
        conv = a.conv.totals() if labelled else None
        sums = {s: a.sum[s].totals() for s in scores}
        overall = (a.conv.grand_total() / a.conv_n.sum()
                   if labelled and a.conv_n.sum() else None)
        for i in range(len(a.count)):
            if i == len(a.labels) and not a.count[i]:
                continue  # no unassigned leads: no NULL row
            cols["segmentation"].append(name)
            cols["segment"].append(a.labels[i] if i < len(a.labels) else None)
            cols["count"].append(int(a.count[i]))
            cols["share"].append(a.count[i] / total if total else None)
            for s in scores:
                n = a.n[s][i]
                cols[f"{s}_mean"].append(sums[s][i] / n if n else None)
                cols[f"{s}_min"].append(num(a.min[s][i]))
                cols[f"{s}_max"].append(num(a.max[s][i]))
            if labelled:
                rate = conv[i] / a.conv_n[i] if a.conv_n[i] else None
                cols["conversions"].append(float(conv[i]))
                cols["conversion_rate"].append(rate)
                cols["lift"].append(rate / overall if rate is not None and overall else None)
    types = {"segmentation": pa.string(), "segment": pa.string(), "count": pa.int64()}
    return pa.table({k: pa.array(v, types.get(k, pa.float64())) for k, v in cols.items()})
