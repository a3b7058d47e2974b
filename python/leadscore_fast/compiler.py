"""Thin wrapper over the Rust engine: model + Arrow schema → Program, or → DuckDB SQL."""
from __future__ import annotations

import json
import os
import re

import pyarrow as pa

from leadscore_fast.model import Model, as_model  # noqa: F401  (as_model: compiler's name too)
from leadscore_fast.as_of import epoch_us

__all__ = ["compile", "compile_program", "to_sql", "as_model", "as_schema", "check_expressions"]


def as_schema(schema) -> pa.Schema:
    """A pa.Schema, or the schema of anything that has one (Table, RecordBatch, reader, ...)."""
    if isinstance(schema, pa.Schema):
        return schema
    inner = getattr(schema, "schema", None)
    if isinstance(inner, pa.Schema):
        return inner
    if hasattr(schema, "__arrow_c_schema__"):
        return pa.schema(schema)
    raise TypeError(f"expected a pyarrow Schema or an object with a .schema, "
                    f"got {type(schema).__name__}")


def schema_json(schema) -> str:
    from leadscore_fast.schema import schema_kinds

    return json.dumps(schema_kinds(as_schema(schema)))


def compile(model, schema):  # noqa: A001  (the public name is `leadscore_fast.compile`)
    """Compile a model against a schema into a :class:`~leadscore_fast.compiled.CompiledModel`
    (``score_batch``, ``score_one``, picklable); its ``.program`` is the engine's Program."""
    from leadscore_fast.compiled import CompiledModel

    return CompiledModel(model, schema)


def compile_program(model, schema):
    """Compile a model against a schema into the engine's Program (ARCHITECTURE.md §3)."""
    from leadscore_fast import _engine

    m = as_model(model)
    return _engine.compile(m.to_engine_json(), schema_json(schema))


def to_sql(model, schema, relation: str = "leads", as_of=None, *,
           include_input: bool = False, dialect: str = "duckdb") -> str:
    """A SELECT over ``relation`` producing the same score and segment columns.

    ``dialect`` is "duckdb" (the default), "postgres" or "sqlite": each query gives the
    engine's numbers; what a dialect cannot express raises ModelError (README lists both).
    ``as_of`` (datetime/date/ISO string) overrides the model's; with neither, now (UTC) is
    baked into the SQL, as score() would use it. ``include_input=True`` selects every input
    column before the scores and segments (for queries joining scores back to leads).
    """
    from leadscore_fast import _engine

    if not isinstance(dialect, str):
        raise TypeError(f"dialect must be a string, got {type(dialect).__name__}")
    m = as_model(model)
    return _engine.to_sql(m.to_engine_json(), schema_json(schema), relation,
                          epoch_us(as_of if as_of is not None else m.as_of),
                          include_input=bool(include_input), dialect=dialect)


def check_expressions(model) -> Model:
    """Parse every expression of the model without a schema (syntax errors only), re-raising
    parse errors located at the expression in the model source."""
    from leadscore_fast import _engine

    m = as_model(model).validate()
    srcs = []
    for s in m.scores:
        srcs += [s.expr] if s.expr is not None else []
        for r in s.rules or ():
            srcs += [x for x in (r.when, r.points) if x is not None]
    for g in m.segmentations:
        srcs += [c.when for c in g.cases if c.when is not None]
    for src in srcs:
        try:
            _engine.parse_expr(src.text)
        except Exception as e:
            from leadscore_fast.errors import LeadscoreError

            if not isinstance(e, LeadscoreError):
                raise
            raise type(e)(_relocate(str(e), m.source, src)) from None
    return m


_ENGINE_LOC = re.compile(r"<model>(?::(\d+))?(?::(\d+))?: (.*)", re.DOTALL)


def _relocate(message: str, source: str, src) -> str:
    """Turn an error located inside the expression text ("<model>:1:5: msg") into one located
    in the model file, quoting the expression."""
    line, col, text = src.line, src.col, message
    found = _ENGINE_LOC.fullmatch(message)
    if found:
        text = found.group(3)
        el, ec = int(found.group(1) or 0), int(found.group(2) or 0)
        if line and el:
            # On the first line columns are offsets from the text's start; later lines of a
            # block scalar lose their indentation, so the column there is approximate.
            line, col = line + el - 1, (col + ec - 1 if el == 1 else ec) if ec else col
    where = f"{source}:{line}:{col}" if line else source
    if src.text not in text:
        text += f": {src.text}"
    return f"{where}: {text}"
