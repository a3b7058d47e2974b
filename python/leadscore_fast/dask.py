"""Scoring Dask DataFrames: ``score`` through ``map_partitions`` (each pandas partition to Arrow,
scored, back with Arrow dtypes), and ``count``/``histogram``/``top_k``/``summarize`` computing
a part per partition on the workers and merging the parts on the client (merge.py).

The model is compiled on the client against the DataFrame's schema (its ``_meta`` as Arrow),
so a model reading a missing column fails before any task runs, naming it. Tasks get the
CompiledModel pickled (plain data, compiled again there) and ``as_of`` fixed on the client.
Each task scores on one engine thread (``threads=1``): a Dask worker runs as many tasks at
once as it has threads. Whatever scheduler is active runs the tasks (a
``distributed.Client``, else Dask's default).
"""
from __future__ import annotations

import pyarrow as pa

from leadscore_fast import distributed

__all__ = ["score", "count", "histogram", "top_k", "summarize", "arrow_schema"]


def arrow_schema(ddf) -> pa.Schema:
    """The Arrow schema of the DataFrame's partitions. Columns of object dtype (no Arrow type
    in an empty frame) are taken as strings, as Dask's string conversion makes them."""
    meta = ddf._meta
    schema = pa.Schema.from_pandas(meta, preserve_index=False)
    fields = []
    for f in schema:
        if pa.types.is_null(f.type) and str(meta[f.name].dtype) == "object":
            f = f.with_type(pa.string())
        fields.append(f)
    return pa.schema(fields)


def _table(pdf, columns) -> pa.Table:
    return pa.Table.from_pandas(pdf[columns], preserve_index=False)


def score(ddf, model, *, keep=None, as_of=None, threads=1):
    """A Dask DataFrame of the model's scores (``double[pyarrow]``), segments
    (``string[pyarrow]``) and the ``keep`` columns (as they were), with the input's index
    and partitions: ``lf.score`` on each partition. ``model``: a Model, a YAML path, a dict
    or a CompiledModel."""
    import pandas as pd

    from leadscore_fast.errors import SchemaError

    keep = [keep] if isinstance(keep, str) else list(keep or [])
    cm, _schema = distributed.compiled(ENGINE, ddf, model, keep)
    for k in keep:
        if k in cm.score_names or k in cm.segment_names:
            raise SchemaError(f"keep: column {k!r} has the name of one of the model's outputs")
    columns = list(dict.fromkeys(cm.inputs + keep))
    as_of = distributed.pinned(as_of, cm)
    n_scores, n_segs = len(cm.score_names), len(cm.segment_names)
    meta = pd.DataFrame({
        **{s: pd.Series([], dtype=pd.ArrowDtype(pa.float64())) for s in cm.score_names},
        **{g: pd.Series([], dtype=pd.ArrowDtype(pa.string())) for g in cm.segment_names},
        **{k: ddf._meta[k] for k in keep}})

    def run(pdf):
        out = cm.score_batch(_table(pdf, columns), keep=keep, as_of=as_of, threads=threads)
        cols = list(out.columns)
        for g in range(n_scores, n_scores + n_segs):
            cols[g] = cols[g].cast(pa.string())
        frame = {name: pd.Series(pd.arrays.ArrowExtensionArray(c), index=pdf.index)
                 for name, c in zip(out.schema.names[:n_scores + n_segs], cols)}
        for k in keep:  # as they came in (dtype and values)
            frame[k] = pdf[k]
        return pd.DataFrame(frame, index=pdf.index)

    return ddf.map_partitions(run, meta=meta, align_dataframes=False)


class _Dask:
    """The distributed.Engine of Dask DataFrames: tasks per partition, parts merged on the
    client; each task scores on one engine thread (a worker runs as many tasks as threads)."""

    name = "Dask DataFrame"

    def schema(self, ddf) -> pa.Schema:
        return arrow_schema(ddf)

    def task_threads(self) -> int:
        return 1

    def parts(self, ddf, columns, make, schema: pa.Schema):
        """``make(table, part)`` on each partition, merged on the client."""
        import dask

        from leadscore_fast import merge

        fields = pa.schema([schema.field(c) for c in columns])
        empty = make(fields.empty_table(), 0)  # a bad query or label fails here, before any task

        def one(pdf, part):
            return make(_table(pdf, columns), part)

        tasks = [dask.delayed(one)(d, i) for i, d in enumerate(ddf[columns].to_delayed())]
        parts = dask.compute(*tasks)
        return merge.combine(list(parts) or [empty]).result()


ENGINE = _Dask()


def count(ddf, model, where, *, as_of=None) -> int:
    """``lf.count`` over the DataFrame's rows."""
    return distributed.count(ENGINE, ddf, model, where, as_of=as_of)


def histogram(ddf, model, score, edges, *, as_of=None) -> pa.Table:
    """``lf.histogram`` with a list of edges over the DataFrame's rows."""
    return distributed.histogram(ENGINE, ddf, model, score, edges, as_of=as_of)


def top_k(ddf, model, k, by, per=None, columns=None, *, as_of=None) -> pa.Table:
    """``lf.top_k`` over the DataFrame's rows; equal values rank in partition order, then row
    order (the order of ``ddf.compute()``)."""
    return distributed.top_k(ENGINE, ddf, model, k, by, per=per, columns=columns, as_of=as_of)


def summarize(ddf, model, *, segmentation=None, label=None, positive=None,
              as_of=None) -> pa.Table:
    """``lf.summarize`` over the DataFrame's rows (exact: the same table, bit for bit)."""
    return distributed.summarize(ENGINE, ddf, model, segmentation=segmentation, label=label,
                                 positive=positive, as_of=as_of)
