"""The query front-ends every distributed engine shares (``spark.py``, ``dask.py``): compile
the model on the driver against the DataFrame's Arrow schema, fix ``as_of`` there, and compute
``count``/``histogram``/``top_k``/``summarize`` as parts per partition (merge.py) that the
engine's ``parts`` runs on its workers and merges. An engine supplies its name (how messages
name the DataFrame), its schema, how it runs the parts, and the engine threads one task uses.
"""
from __future__ import annotations

from typing import Callable, Protocol

import pyarrow as pa

from leadscore_fast.compiled import CompiledModel

__all__ = ["Engine", "compiled", "pinned", "count", "histogram", "top_k", "summarize"]


class Engine(Protocol):
    name: str  # "Spark DataFrame", "Dask DataFrame"

    def schema(self, df) -> pa.Schema: ...

    def parts(self, df, columns: list, make: Callable, schema: pa.Schema): ...

    def task_threads(self) -> int: ...


def compiled(engine: Engine, df, model, extra=()) -> tuple[CompiledModel, pa.Schema]:
    """The model compiled against ``df``'s schema, and that schema; SchemaError naming a
    column the model or ``extra`` needs that ``df`` lacks (with a suggestion)."""
    from leadscore_fast.errors import SchemaError
    from leadscore_fast.sources import check_column

    schema = engine.schema(df)
    for name in extra:
        check_column(schema, name, engine.name)
    m = model.model if isinstance(model, CompiledModel) else model
    try:
        return CompiledModel(m, schema), schema
    except SchemaError as e:
        raise SchemaError(f"{engine.name}: {e}") from None


def pinned(as_of, cm: CompiledModel):
    """``as_of`` fixed once on the driver, so every task scores at the same "now"."""
    from leadscore_fast.as_of import pinned as pin

    return pin(as_of, cm.model)


def count(engine: Engine, df, model, where, *, as_of=None) -> int:
    """``lf.count`` over the DataFrame's rows."""
    from leadscore_fast import merge

    cm, schema = compiled(engine, df, model)
    m, as_of = cm.model, pinned(as_of, cm)
    return engine.parts(df, cm.inputs, lambda t, part: merge.count(
        m, t, where, as_of=as_of, threads=engine.task_threads()), schema)


def histogram(engine: Engine, df, model, score, edges, *, as_of=None) -> pa.Table:
    """``lf.histogram`` with a list of edges over the DataFrame's rows."""
    from leadscore_fast import merge

    cm, schema = compiled(engine, df, model)
    m, as_of = cm.model, pinned(as_of, cm)
    return engine.parts(df, cm.inputs, lambda t, part: merge.histogram(
        m, t, score, edges, as_of=as_of, threads=engine.task_threads()), schema)


def top_k(engine: Engine, df, model, k, by, per=None, columns=None, *, as_of=None) -> pa.Table:
    """``lf.top_k`` over the DataFrame's rows; equal values rank in the engine's partition
    order, then row order."""
    from leadscore_fast import merge

    cm, schema = compiled(engine, df, model, [] if columns is None else
                          [columns] if isinstance(columns, str) else columns)
    m, as_of = cm.model, pinned(as_of, cm)
    outputs = set(cm.score_names) | set(cm.segment_names)
    if columns is None:
        columns = [c for c in schema.names if c not in outputs]
    columns = [columns] if isinstance(columns, str) else list(columns)
    return engine.parts(df, list(dict.fromkeys(cm.inputs + columns)), lambda t, part: merge.top_k(
        m, t, k, by, per=per, columns=columns, part=part, as_of=as_of,
        threads=engine.task_threads()), schema)


def summarize(engine: Engine, df, model, *, segmentation=None, label=None, positive=None,
              as_of=None) -> pa.Table:
    """``lf.summarize`` over the DataFrame's rows (exact: the same table, bit for bit)."""
    from leadscore_fast import merge

    cm, schema = compiled(engine, df, model, [label] if label is not None else [])
    m, as_of = cm.model, pinned(as_of, cm)
    columns = list(dict.fromkeys(cm.inputs + ([label] if label is not None else [])))
    return engine.parts(df, columns, lambda t, part: merge.summarize(
        m, t, segmentation=segmentation, label=label, positive=positive, as_of=as_of,
        threads=engine.task_threads()), schema)
