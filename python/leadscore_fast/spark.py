"""Scoring Spark DataFrames: ``score`` through ``DataFrame.mapInArrow`` (Arrow batches to and
from the Python workers), and ``count``/``histogram``/``top_k``/``summarize`` computing a part
per partition on the workers and merging the parts on the driver (merge.py).

The model is compiled on the driver against the DataFrame's schema (converted to Arrow as
Spark sends it), so a model reading a missing column fails before any Spark job starts,
naming it. Workers get the CompiledModel pickled (a small blob of plain data, compiled again
there); ``as_of`` is fixed once on the driver, so every task scores at the same "now". Each
task scores with as many engine threads as Spark gives it cores (``spark.task.cpus``).
"""
from __future__ import annotations

import pickle

import pyarrow as pa

from leadscore_fast import distributed

__all__ = ["score", "count", "histogram", "top_k", "summarize"]


def _arrow_schema(spark_schema, timezone: str = "UTC") -> pa.Schema:
    """The Arrow schema of the batches mapInArrow hands the workers (timestamps in the
    session's ``timezone``, which PySpark 4.3 requires for them). A Spark type Arrow has no
    conversion for becomes binary: a model reading it gets a type error naming it."""
    import inspect

    from pyspark.sql.pandas.types import to_arrow_type

    takes_tz = "timezone" in inspect.signature(to_arrow_type).parameters
    fields = []
    for f in spark_schema.fields:
        try:
            t = to_arrow_type(f.dataType, timezone=timezone) if takes_tz \
                else to_arrow_type(f.dataType)
        except Exception:  # noqa: BLE001  (pyspark raises its own error classes here)
            t = pa.binary()
        fields.append(pa.field(f.name, t))
    return pa.schema(fields)


def _task_threads() -> int:
    from pyspark import TaskContext

    ctx = TaskContext.get()
    try:
        return max(1, int(ctx.cpus())) if ctx is not None else 1
    except (AttributeError, TypeError, ValueError):
        return 1


def score(df, model, *, keep=None, as_of=None):
    """A DataFrame with the model's scores (double), segments (string) and the ``keep``
    columns (as they were), row for row: ``lf.score`` on each partition's Arrow batches.
    ``model``: a Model, a YAML path, a dict or a CompiledModel."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    from leadscore_fast.errors import SchemaError

    keep = [keep] if isinstance(keep, str) else list(keep or [])
    cm, _schema = distributed.compiled(ENGINE, df, model, keep)
    outputs = cm.score_names + cm.segment_names
    for k in keep:
        if k in outputs:
            raise SchemaError(f"keep: column {k!r} has the name of one of the model's outputs")
    out_type = StructType(
        [StructField(s, DoubleType()) for s in cm.score_names]
        + [StructField(g, StringType()) for g in cm.segment_names]
        + [df.schema[k] for k in keep])
    as_of = distributed.pinned(as_of, cm)
    n_scores, n_segs = len(cm.score_names), len(cm.segment_names)

    def run(batches):
        threads = _task_threads()
        for batch in batches:
            out = cm.score_batch(batch, keep=keep, as_of=as_of, threads=threads)
            cols = list(out.columns)
            for g in range(n_scores, n_scores + n_segs):  # Spark strings, not dictionaries
                cols[g] = cols[g].cast(pa.string())
            yield pa.RecordBatch.from_arrays(cols, names=out.schema.names)

    return df.select(*dict.fromkeys(cm.inputs + keep)).mapInArrow(run, out_type)


class _Spark:
    """The distributed.Engine of Spark DataFrames: mapInArrow tasks per partition, parts
    merged on the driver; each task scores with the cores Spark gives it."""

    name = "Spark DataFrame"

    def schema(self, df) -> pa.Schema:
        return _arrow_schema(df.schema, df.sparkSession.conf.get("spark.sql.session.timeZone"))

    def task_threads(self) -> int:
        return _task_threads()

    def parts(self, df, columns, make, schema: pa.Schema):
        """``make(table, part)`` on each partition's rows (its batches one at a time, parts
        merged in the task), the parts merged on the driver. Parts travel pickled between this
        job's own processes, as Spark's Python functions do."""
        from leadscore_fast import merge

        fields = pa.schema([schema.field(c) for c in columns])
        # The part of no rows, here: a bad query, label or segmentation fails before any job.
        empty = make(fields.empty_table(), 0)

        def run(batches):
            from pyspark import TaskContext

            ctx = TaskContext.get()
            partition = ctx.partitionId() if ctx is not None else 0
            acc = None
            for i, batch in enumerate(batches):
                # (partition, batch) orders the rows as Spark's partition order does
                part = make(pa.Table.from_batches([batch]), (partition << 32) + i)
                acc = part if acc is None else acc.merge(part)
            if acc is None:
                acc = make(fields.empty_table(), partition << 32)
            yield pa.RecordBatch.from_arrays([pa.array([pickle.dumps(acc)], pa.binary())],
                                             names=["part"])

        rows = df.select(*columns).mapInArrow(run, "part binary").collect()
        parts = [pickle.loads(r["part"]) for r in rows]
        return merge.combine(parts or [empty]).result()


ENGINE = _Spark()


def count(df, model, where, *, as_of=None) -> int:
    """``lf.count`` over the DataFrame's rows."""
    return distributed.count(ENGINE, df, model, where, as_of=as_of)


def histogram(df, model, score, edges, *, as_of=None) -> pa.Table:
    """``lf.histogram`` with a list of edges over the DataFrame's rows."""
    return distributed.histogram(ENGINE, df, model, score, edges, as_of=as_of)


def top_k(df, model, k, by, per=None, columns=None, *, as_of=None) -> pa.Table:
    """``lf.top_k`` over the DataFrame's rows; equal values rank in Spark's partition order
    (partition, then row), which is input order for a DataFrame read from files."""
    return distributed.top_k(ENGINE, df, model, k, by, per=per, columns=columns, as_of=as_of)


def summarize(df, model, *, segmentation=None, label=None, positive=None,
              as_of=None) -> pa.Table:
    """``lf.summarize`` over the DataFrame's rows (exact: the same table, bit for bit)."""
    return distributed.summarize(ENGINE, df, model, segmentation=segmentation, label=label,
                                 positive=positive, as_of=as_of)
