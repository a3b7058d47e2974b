"""Mergeable query results: the state of a count, histogram, top-k or segment summary over one
partition of the leads, and ``combine`` to merge partitions' states into the answer the
single-process query gives over all their rows, exactly (``leadscore_fast.spark`` and
``leadscore_fast.dask`` run the parts on workers and combine on the driver).

    parts = [lf.merge.count(model, p, "total >= 80", as_of=t) for p in partitions]
    lf.merge.combine(parts).result()          # == lf.count(model, all_rows, ...)

Each part function takes the arguments of its query (``lf.count``, ``lf.histogram`` with a
list of edges, ``lf.top_k``, ``lf.summarize``). Give every part the same ``as_of`` when the
model has none (``as_of.pinned``): otherwise each partition scores at its own "now". Top-k
parts also take ``part``, the partition's position: equal values rank by (part, row), which
is input order when the partitions are concatenated in that order.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leadscore_fast.compiler import as_model
from leadscore_fast.summaries import SummaryPart, summary_part
from leadscore_fast.summaries import QueryError

__all__ = ["count", "histogram", "top_k", "summarize", "combine", "CountPart",
           "HistogramPart", "TopKPart", "SummaryPart"]


@dataclass
class CountPart:
    """Leads of a partition satisfying the condition."""
    n: int

    def merge(self, other: CountPart) -> CountPart:
        return CountPart(self.n + other.n)

    def result(self) -> int:
        return int(self.n)


@dataclass
class HistogramPart:
    """Per-bin counts ``[NULL, below edges[0], one per bin, at or above the last edge]``."""
    edges: list
    counts: np.ndarray

    def merge(self, other: HistogramPart) -> HistogramPart:
        if list(other.edges) != list(self.edges):
            raise QueryError(f"merge: histograms over other edges ({other.edges} and "
                             f"{self.edges})")
        return HistogramPart(list(self.edges), self.counts + other.counts)

    def result(self) -> pa.Table:
        from leadscore_fast.queries import histogram_table

        acc = self.counts
        return histogram_table(self.edges, acc[2:-1], acc[1], acc[-1], acc[0])


_HIDDEN = ["__group", "__value", "__part", "__row"]


@dataclass
class TopKPart:
    """Up to k candidate rows per group of a partition: the rows as ``lf.top_k`` returns them
    (without ``rank``) plus their group, ranking value, partition and row in it."""
    k: int
    per: str | None
    table: pa.Table

    def merge(self, other: TopKPart) -> TopKPart:
        if (other.k, other.per) != (self.k, self.per):
            raise QueryError(f"merge: top-k parts of k={other.k}, per={other.per!r} and "
                             f"k={self.k}, per={self.per!r}")
        if not other.table.schema.equals(self.table.schema):
            raise QueryError("merge: top-k parts with other columns")
        both = pa.concat_tables([self.table, other.table])
        return TopKPart(self.k, self.per, _best(both, self.k))

    def result(self) -> pa.Table:
        t = _best(self.table, self.k)
        group = t.column("__group").to_numpy()
        starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]]) if len(group) else []
        rank = np.ones(len(group), np.int64)
        for a, b in zip(starts, list(starts[1:]) + [len(group)]):
            rank[a:b] = np.arange(1, b - a + 1)
        return t.drop_columns(_HIDDEN).add_column(0, "rank", pa.array(rank, pa.int64()))


def _best(t: pa.Table, k: int) -> pa.Table:
    """The k best rows of each group (value desc, then partition, then row), groups in order."""
    if not len(t):
        return t
    g, v = t.column("__group").to_numpy(), t.column("__value").to_numpy()
    p, r = t.column("__part").to_numpy(), t.column("__row").to_numpy()
    order = np.lexsort((r, p, -v, g))  # the last key is the primary one
    g = g[order]
    first = np.r_[0, np.flatnonzero(g[1:] != g[:-1]) + 1]
    pos = np.arange(len(g)) - np.repeat(first, np.diff(np.r_[first, len(g)]))
    return t.take(pa.array(order[pos < k]))


# -- parts -----------------------------------------------------------------------------------

def count(model, data, where, *, as_of=None, threads=None) -> CountPart:
    """The part of ``lf.count(model, data, where)``."""
    from leadscore_fast.queries import count as count_query

    return CountPart(count_query(model, data, where, as_of=as_of, threads=threads))


def histogram(model, data, score, edges, *, as_of=None, threads=None) -> HistogramPart:
    """The part of ``lf.histogram(model, data, score, edges)`` for a list of edges (equal-width
    bins from the data's own min and max would differ between partitions)."""
    from leadscore_fast.queries import histogram_edges, query_spec, run_queries

    if isinstance(edges, numbers.Integral):
        raise QueryError("merge.histogram: bins from each partition's min and max do not "
                         "merge: give the edges (a list of numbers)")
    edges = histogram_edges(edges, "histogram")
    res = run_queries(as_model(model), data, [query_spec("hist", "hist", score, edges=edges)],
                      as_of=as_of, threads=threads)
    return HistogramPart(edges, np.asarray(res.hists["hist"], np.int64).copy())


def top_k(model, data, k, by, per=None, columns=None, *, part=0, as_of=None,
          threads=None) -> TopKPart:
    """The part of ``lf.top_k(model, data, k, by, per, columns)`` for the partition at position
    ``part``."""
    from leadscore_fast.as_of import pinned
    from leadscore_fast.queries import query_spec, rereadable, run_queries, score_rows, top_k_model

    m = top_k_model(model, k, per)
    source = rereadable(data)
    as_of = pinned(as_of, m)
    res = run_queries(m, source, [query_spec("topk", "top", by, k=int(k), per=per)], as_of=as_of,
                      threads=threads)
    groups = [np.asarray(g, np.int64) for g in res.topk["top"]]
    values = [np.asarray(v, np.float64) for v in res.topk_values["top"]]
    rows = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    out = score_rows(m, source, rows, columns, as_of=as_of, threads=threads)
    hidden = {
        "__group": np.concatenate([np.full(len(g), i, np.int64) for i, g in enumerate(groups)])
        if groups else np.zeros(0, np.int64),
        "__value": np.concatenate(values) if values else np.zeros(0),
        "__part": np.full(len(rows), int(part), np.int64),
        "__row": rows,
    }
    for name in _HIDDEN:
        out = out.append_column(name, pa.array(hidden[name]))
    return TopKPart(int(k), per, out)


def summarize(model, data, *, segmentation=None, label=None, positive=None, as_of=None,
              threads=None) -> SummaryPart:
    """The part of ``lf.summarize(model, data, ...)``."""
    return summary_part(model, data, segmentation=segmentation, label=label,
                        positive=positive, as_of=as_of, threads=threads)


def combine(parts):
    """Merge parts of one query (all of one kind, from the same arguments) into one part;
    ``.result()`` is the query's answer over all their rows."""
    parts = list(parts)
    if not parts:
        raise QueryError("merge.combine: no parts to merge")
    kinds = {type(p) for p in parts}
    if len(kinds) > 1:
        raise QueryError(f"merge.combine: parts of different queries "
                         f"({', '.join(sorted(t.__name__ for t in kinds))})")
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p)
    return out
