"""Threshold queries answered in the same pass as scoring (docs/ARCHITECTURE.md §6).

Each function compiles the model together with its query into one Program and runs it with
``runner.run(..., materialize=False)`` where only the answer is wanted, so counting or ranking
millions of leads never builds full-length score columns. Rows that are returned (select,
top_k, crossings) are scored again on their own: scoring is row by row, so a subset scores
exactly as it did in the full pass (``as_of`` is fixed once so "now" cannot move between).

Query expressions are SQL text (or ``col()`` expressions) handed to the Rust compiler, which
reports unknown scores, columns and labels with suggestions; they may name scores, input
columns and segmentations (``total >= 80 AND tier != 'cold'``).
"""
from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.as_of import pinned as _fix_as_of
from leadscore_fast.compiler import as_model
from leadscore_fast.errors import ModelError
from leadscore_fast.expr import col, lit, to_expr_text
from leadscore_fast.sources import open_source
from leadscore_fast.sources.base import WithColumn
from leadscore_fast.suggest import did_you_mean_or_known as _suggest

__all__ = ["count", "select", "top_k", "histogram", "quantiles", "crossings", "migration",
           "Crossings", "QueryError"]


class QueryError(ModelError):
    """A query that cannot be answered as asked: k <= 0, bad bins or quantiles, an unknown
    score or segmentation, previous scores that cannot be matched to the input."""


# -- plumbing ------------------------------------------------------------------------------

def rereadable(data):
    """A Source that can be read more than once: a one-shot stream is read into memory."""
    source = open_source(data)
    if source.reopenable:
        return source
    return open_source(source.read_all())


def query_program(model, schema, queries: list[dict]):
    """Compile ``model`` with ``queries`` added to its engine JSON (ARCHITECTURE §6)."""
    from leadscore_fast import _engine
    from leadscore_fast.schema import schema_kinds

    d = json.loads(model.to_engine_json())
    d["queries"] = queries
    return _engine.compile(json.dumps(d), json.dumps(schema_kinds(schema)))


def query_spec(kind: str, name: str, expr, **extra) -> dict:
    try:
        text = to_expr_text(expr)
    except (TypeError, ValueError) as e:
        raise QueryError(f"query {name!r}: expected an expression, {e}") from None
    return {"kind": kind, "name": name, "expr": {"text": text, "line": 0, "col": 0},
            "edges": [], "per": None, "k": 0, **extra}


def run_queries(model, data, queries, *, as_of, threads, materialize=False):
    from leadscore_fast.runner import run

    source = open_source(data)
    program = query_program(model, source.schema, queries)
    return run(program, source, as_of=as_of, threads=threads, materialize=materialize)


def score_rows(model, source, rows: np.ndarray, columns, *, as_of, threads):
    """Scores and segments of the given input rows (read again from ``source``), then the
    requested input columns."""
    from leadscore_fast.scoring import score

    outputs = set(model.score_names) | set(model.segment_names)
    if columns is None:  # every input column the model's outputs do not replace
        columns = [c for c in source.schema.names if c not in outputs]
    elif isinstance(columns, str):
        columns = [columns]
    from leadscore_fast.runner import compile_cached

    program = compile_cached(model, source.schema)
    needed = [spec["name"] for spec in program.columns] + list(columns)
    subset = source.take(np.asarray(rows, np.int64), needed)
    return score(model, subset, keep=list(columns), as_of=as_of, threads=threads)


def check_score_name(model, score: str, what: str) -> str:
    if not isinstance(score, str) or score not in model.score_names:
        raise QueryError(f"{what}: unknown score {score!r}"
                         f"{_suggest(str(score), model.score_names)}")
    return score


def _materialized_score(model, data, score: str, *, as_of, threads) -> np.ndarray:
    """The one score column, float64 with NaN for NULL (quantiles and int bins need it)."""
    res = run_queries(model, data, [], as_of=as_of, threads=threads, materialize=True)
    return np.asarray(res.scores[score], np.float64)


# -- count / select ------------------------------------------------------------------------

def count(model, data, where, *, as_of=None, threads=None) -> int:
    """How many leads satisfy ``where`` (a NULL condition does not count), e.g.
    ``count(model, leads, "total >= 80 AND tier != 'cold'")``."""
    m = as_model(model)
    res = run_queries(m, data, [query_spec("count", "count", where)], as_of=_fix_as_of(as_of, m),
               threads=threads)
    return int(res.counts["count"])


def select(model, data, where, columns=None, *, as_of=None, threads=None) -> pa.Table:
    """The leads satisfying ``where``, in input order: their scores and segments, then the
    input ``columns`` (default: all of them)."""
    m = as_model(model)
    source = rereadable(data)
    as_of = _fix_as_of(as_of, m)
    res = run_queries(m, source, [query_spec("mask", "select", where)], as_of=as_of,
                      threads=threads)
    rows = np.flatnonzero(np.asarray(res.masks["select"], bool))
    return score_rows(m, source, rows, columns, as_of=as_of, threads=threads)


# -- top k ---------------------------------------------------------------------------------

def top_k_model(model, k, per):
    """The model of a top-k query, after checking ``k`` and ``per`` (QueryError otherwise)."""
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k <= 0:
        raise QueryError(f"top_k: k must be a positive integer, got {k!r}")
    m = as_model(model)
    if per is not None and per not in m.segment_names:
        raise QueryError(f"top_k: per unknown segmentation {per!r}"
                         f"{_suggest(str(per), m.segment_names)}")
    return m


def top_k(model, data, k, by, per=None, columns=None, *, as_of=None,
          threads=None) -> pa.Table:
    """The ``k`` leads with the largest ``by`` (a score name or expression) overall, or within
    each segment of segmentation ``per``; NULL values are never ranked and equal values keep
    input order. Columns: ``rank`` (1-based, per segment), scores and segments, then the
    input ``columns`` (default: all). Rows come segment by segment in label order."""
    m = top_k_model(model, k, per)
    source = rereadable(data)
    as_of = _fix_as_of(as_of, m)
    q = query_spec("topk", "top", by, k=int(k), per=per)
    res = run_queries(m, source, [q], as_of=as_of, threads=threads)
    groups = [np.asarray(g, np.int64) for g in res.topk["top"]]
    rows = np.concatenate(groups) if groups else np.zeros(0, np.int64)
    ranks = np.concatenate([np.arange(1, len(g) + 1) for g in groups]) if groups \
        else np.zeros(0, np.int64)
    out = score_rows(m, source, rows, columns, as_of=as_of, threads=threads)
    return out.add_column(0, "rank", pa.array(ranks, pa.int64()))


# -- distributions -------------------------------------------------------------------------

def histogram_edges(bins, what: str) -> list[float]:
    try:
        edges = [float(e) for e in bins]
    except (TypeError, ValueError):
        raise QueryError(f"{what}: bins must be a positive integer or a list of edges, "
                         f"got {bins!r}") from None
    if not edges or not all(math.isfinite(e) for e in edges):
        raise QueryError(f"{what}: edges must be a non-empty list of finite numbers, "
                         f"got {bins!r}")
    for a, b in zip(edges, edges[1:]):
        if not a < b:
            raise QueryError(f"{what}: edges must be strictly increasing, but {b:g} "
                             f"follows {a:g}")
    return edges


def _fmt(x: float) -> str:
    return f"{x:g}"


def histogram_table(edges, counts, below, above, nulls, closed_last=False) -> pa.Table:
    labels = [f"< {_fmt(edges[0])}"]
    lo, hi = [None], [edges[0]]
    for i, (a, b) in enumerate(zip(edges, edges[1:])):
        last = closed_last and i == len(edges) - 2
        labels.append(f"[{_fmt(a)}, {_fmt(b)}{']' if last else ')'}")
        lo.append(a)
        hi.append(b)
    labels += [f">= {_fmt(edges[-1])}", "NULL"]
    lo += [edges[-1], None]
    hi += [None, None]
    return pa.table({"bin": pa.array(labels, pa.string()),
                     "lo": pa.array(lo, pa.float64()), "hi": pa.array(hi, pa.float64()),
                     "count": pa.array([int(below), *map(int, counts), int(above), int(nulls)],
                                       pa.int64())})


def histogram(model, data, score, bins, *, as_of=None, threads=None) -> pa.Table:
    """Counts of ``score`` per bin: rows ``< e0``, ``[e_i, e_i+1)`` ..., ``>= e_last``, ``NULL``
    (columns bin, lo, hi, count).

    ``bins`` as a list of edges is counted inside the scoring pass (any float expression may
    be binned). ``bins`` as an int takes ``bins`` equal-width bins from the score's min to max
    (a score name only; the column is materialised), numpy's rule: the last bin includes
    the maximum, so the ``>=`` row is always 0."""
    m = as_model(model)
    as_of = _fix_as_of(as_of, m)
    if isinstance(bins, numbers.Integral) and not isinstance(bins, bool):
        if bins <= 0:
            raise QueryError(f"histogram: bins must be >= 1, got {bins}")
        values = _materialized_score(m, data, check_score_name(m, score, "histogram"),
                                     as_of=as_of, threads=threads)
        present = values[~np.isnan(values)]
        if present.size:
            counts, edges = np.histogram(present, bins=int(bins))
        else:
            counts, edges = np.zeros(int(bins), np.int64), np.linspace(0.0, 1.0, int(bins) + 1)
        return histogram_table([float(e) for e in edges], counts, 0, 0, values.size - present.size,
                           closed_last=True)
    edges = histogram_edges(bins, "histogram")
    res = run_queries(m, data, [query_spec("hist", "hist", score, edges=edges)], as_of=as_of,
               threads=threads)
    acc = np.asarray(res.hists["hist"], np.int64)  # [null, below, bins..., above]
    return histogram_table(edges, acc[2:-1], acc[1], acc[-1], acc[0])


def quantiles(model, data, score, qs, *, as_of=None, threads=None) -> pa.Table:
    """Exact quantiles of ``score`` over leads where it is not NULL (linear interpolation,
    as numpy's default and DuckDB's ``quantile_cont``); columns q, value (NULL when no lead
    has a score)."""
    m = as_model(model)
    single = isinstance(qs, numbers.Real)
    qs = [qs] if single else list(qs)
    if not qs:
        raise QueryError("quantiles: qs must not be empty")
    for q in qs:
        if isinstance(q, bool) or not isinstance(q, numbers.Real) or not 0 <= q <= 1:
            raise QueryError(f"quantiles: each q must be a number in [0, 1], got {q!r}")
    values = _materialized_score(m, data, check_score_name(m, score, "quantiles"),
                                 as_of=_fix_as_of(as_of, m), threads=threads)
    present = values[~np.isnan(values)]
    out = np.quantile(present, qs).tolist() if present.size else [None] * len(qs)
    return pa.table({"q": pa.array([float(q) for q in qs], pa.float64()),
                     "value": pa.array(out, pa.float64())})


# -- two runs: crossings and migration -----------------------------------------------------

@dataclass
class Crossings:
    """Leads whose ``score`` crossed ``threshold`` between two runs: ``up`` (previous below,
    now at or above) and ``down`` (previously at or above, now below). Each table has the id
    column (or ``row``, the input position), ``previous`` and ``current``. Leads without a
    previous score are neither."""
    score: str
    threshold: float
    up: pa.Table
    down: pa.Table

    @property
    def n_up(self) -> int:
        return self.up.num_rows

    @property
    def n_down(self) -> int:
        return self.down.num_rows


_PREV = "__leadscore_previous"


def _previous_column(source, previous, score: str, id_column) -> pa.ChunkedArray:
    """Previous scores aligned with the input rows (NULL where a lead has none)."""
    names = source.schema.names
    if isinstance(previous, str) and previous in names:
        return source.read_all([previous]).column(0)
    if isinstance(previous, (str, os.PathLike)):
        if not os.path.exists(previous):
            raise QueryError(f"crossings: previous {str(previous)!r} is neither a column of the "
                             f"input{_suggest(str(previous), names)} nor a file")
        previous = open_source(previous).read_all()
    if isinstance(previous, pa.RecordBatch):
        previous = pa.Table.from_batches([previous])
    if not isinstance(previous, pa.Table):
        raise QueryError(f"crossings: previous must be a column name, a file or a pyarrow "
                         f"Table of id + score, got {type(previous).__name__}")
    if id_column is None:
        raise QueryError("crossings: previous scores from a table need id_column to match "
                         "them to the input's leads")
    for t_names, what in ((names, "the input"), (previous.column_names, "the previous scores")):
        if id_column not in t_names:
            raise QueryError(f"crossings: id column {id_column!r} is not in {what}"
                             f"{_suggest(id_column, t_names)}")
    others = [c for c in previous.column_names if c != id_column]
    value = score if score in others else (others[0] if len(others) == 1 else None)
    if value is None:
        raise QueryError(f"crossings: the previous scores need a column {score!r} (or exactly "
                         f"one column besides {id_column!r}), found {others}")
    ids = previous.column(id_column)
    if pc.count_distinct(ids).as_py() + ids.null_count != len(ids) \
            or ids.null_count > 1:
        raise QueryError(f"crossings: the previous scores repeat ids in {id_column!r}; "
                         "each lead needs one previous score")
    want = source.schema.field(id_column).type
    try:
        ids = ids.cast(want) if ids.type != want else ids
        at = pc.index_in(source.read_all([id_column]).column(0), value_set=ids)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as e:
        got = previous.schema.field(id_column).type
        raise QueryError(f"crossings: cannot match ids of type {got} to the input's {want}: "
                         f"{e}") from None
    return previous.column(value).combine_chunks().take(at)


def crossings(old, new, data, *, score, threshold, previous=None, id_column=None,
              as_of=None, threads=None) -> Crossings:
    """Which leads newly crossed ``threshold`` on ``score`` (up) and which fell below (down).

    The previous scores are ``previous`` when given (a column of ``data``, or a Table/file of
    ``id_column`` + score matched by id; ``old`` may then be None), else the ``old`` model's
    ``score`` on the same data. The current scores are the ``new`` model's, and the crossing
    tests run as fused mask queries in its scoring pass."""
    if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real) \
            or not math.isfinite(threshold):
        raise QueryError(f"crossings: threshold must be a finite number, got {threshold!r}")
    new_m = as_model(new)
    check_score_name(new_m, score, "crossings")
    models = [new_m]
    source = rereadable(data)
    if previous is None:
        if old is None:
            raise QueryError("crossings: give an old model or previous scores")
        old_m = as_model(old)
        check_score_name(old_m, score, "crossings (old model)")
        models.append(old_m)
        as_of = _fix_as_of(as_of, *models)
        prev = pa.array(_materialized_score(old_m, source, score, as_of=as_of, threads=threads),
                        from_pandas=True)  # NaN → NULL
    else:
        as_of = _fix_as_of(as_of, new_m)
        prev = _previous_column(source, previous, score, id_column)
    if not (pa.types.is_integer(prev.type) or pa.types.is_floating(prev.type)):
        raise QueryError(f"crossings: previous scores must be numbers, got {prev.type}")
    # A private name: the previous column may share its name with the score itself.
    work = WithColumn(source, _PREV, prev)
    p, s, t = col(_PREV).text, col(score).text, lit(threshold).text
    res = run_queries(new_m, work, [query_spec("mask", "up", f"{p} < {t} AND {s} >= {t}"),
                             query_spec("mask", "down", f"{p} >= {t} AND {s} < {t}")],
               as_of=as_of, threads=threads)
    key = id_column if id_column is not None else "row"

    def side(name):
        rows = np.flatnonzero(np.asarray(res.masks[name], bool))
        current = score_rows(new_m, source, rows, [], as_of=as_of, threads=threads)
        ident = source.take(rows, [id_column]).column(0) if id_column is not None \
            else pa.array(rows, pa.int64())
        return pa.table({key: ident, "previous": work.values.take(rows).cast(pa.float64()),
                         "current": current.column(score)})

    return Crossings(score, float(threshold), side("up"), side("down"))


def migration(old_model, new_model, data, segmentation, *, as_of=None,
              threads=None) -> pa.Table:
    """Counts of leads moving from each ``old`` segment to each ``new`` one when the same
    data is scored by both models (replay a draft model before publishing it).

    ``segmentation``: its name in both models, or ``(old_name, new_name)``. Returns columns
    old, new, count: every label pair in label order, plus a NULL (unassigned) row/column
    where some lead is unassigned."""
    old_name, new_name = (segmentation, segmentation) if isinstance(segmentation, str) \
        else tuple(segmentation)
    old_m, new_m = as_model(old_model), as_model(new_model)
    for m, name, which in ((old_m, old_name, "old"), (new_m, new_name, "new")):
        if name not in m.segment_names:
            raise QueryError(f"migration: unknown segmentation {name!r} in the {which} model "
                             f"{m.name!r}{_suggest(name, m.segment_names)}")
    source = rereadable(data)
    as_of = _fix_as_of(as_of, old_m, new_m)
    a_codes, a_labels = run_queries(old_m, source, [], as_of=as_of, threads=threads,
                             materialize=True).segments[old_name]
    b_codes, b_labels = run_queries(new_m, source, [], as_of=as_of, threads=threads,
                             materialize=True).segments[new_name]
    return _pair_counts(np.asarray(a_codes), list(a_labels), np.asarray(b_codes), list(b_labels))


def _pair_counts(a: np.ndarray, a_labels, b: np.ndarray, b_labels) -> pa.Table:
    """Long-form contingency table of two code arrays (-1 = NULL, listed last)."""
    na, nb = len(a_labels) + 1, len(b_labels) + 1
    # Shift so NULL (-1) lands in the last slot of each axis.
    ia = np.where(a < 0, na - 1, a).astype(np.int64)
    ib = np.where(b < 0, nb - 1, b).astype(np.int64)
    grid = np.bincount(ia * nb + ib, minlength=na * nb).reshape(na, nb)
    rows_a = [i for i in range(na) if i < na - 1 or grid[i].sum()]
    cols_b = [j for j in range(nb) if j < nb - 1 or grid[:, j].sum()]
    label = lambda labels, i: labels[i] if i < len(labels) else None  # noqa: E731
    old, new, n = [], [], []
    for i in rows_a:
        for j in cols_b:
            old.append(label(a_labels, i))
            new.append(label(b_labels, j))
            n.append(int(grid[i, j]))
    return pa.table({"old": pa.array(old, pa.string()), "new": pa.array(new, pa.string()),
                     "count": pa.array(n, pa.int64())})
