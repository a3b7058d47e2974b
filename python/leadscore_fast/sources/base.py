"""What every input is turned into: a :class:`Source`, a schema plus batches of rows.

The runner asks a source for the columns a model reads (and the ones a caller keeps), so that
file and database readers decode only those. A source is either re-readable (a file, a
dataset, a database table, an in-memory table: ``batches()`` may be called again and reads
the same rows in the same order) or one-shot (a RecordBatchReader, a C stream): the queries
that make two passes read a re-readable source twice and hold only their answer in memory,
and materialise a one-shot source once.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import pyarrow as pa

from leadscore_fast.suggest import did_you_mean

__all__ = ["Source", "project", "take_rows"]


class Source:
    """A schema plus a stream of RecordBatches. Subclasses set ``name`` (how messages name
    the input: a path, a table, ``a pyarrow Table``), ``schema`` and ``reopenable``, and
    implement ``_batches``."""

    name: str = "input"
    schema: pa.Schema
    reopenable: bool = True
    # Reading decodes (a file, a database): worth a reader thread ahead of the kernels.
    decodes: bool = False

    def num_rows(self) -> int | None:
        """Rows, when known without reading the data (a progress bar's total); else None."""
        return None

    def batches(self, columns: list[str] | None = None, *,
                as_dictionary=()) -> Iterator[pa.RecordBatch]:
        """The rows as RecordBatches holding ``columns`` in that order (None: every column).
        Raises SchemaError for a column the input lacks or holds twice. ``as_dictionary``:
        string columns the caller reads only by value (the engine binds strings as dictionary
        codes): a reader may hand them dictionary-encoded, as a Parquet reader can without
        building every string, and their field type then differs from ``schema``'s."""
        if columns is not None:
            columns = list(dict.fromkeys(columns))
            for c in columns:
                check_column(self.schema, c, self.name)
        wanted = [c for c in as_dictionary if columns is None or c in columns]
        if wanted:
            return self._dictionary_batches(columns, wanted)
        return self._batches(columns)

    def _batches(self, columns: list[str] | None) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError

    def _dictionary_batches(self, columns: list[str] | None,
                            names: list[str]) -> Iterator[pa.RecordBatch]:
        """:meth:`_batches` where the string columns ``names`` may come dictionary-encoded;
        a source whose reader cannot do that reads them as they are."""
        return self._batches(columns)

    def projected_schema(self, columns: list[str] | None) -> pa.Schema:
        if columns is None:
            return self.schema
        return pa.schema([self.schema.field(c) for c in dict.fromkeys(columns)])

    def reader(self, columns: list[str] | None = None) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.projected_schema(columns),
                                                 self.batches(columns))

    def read_all(self, columns: list[str] | None = None) -> pa.Table:
        return self.reader(columns).read_all()

    def take(self, rows, columns: list[str] | None = None) -> pa.Table:
        """The given global row numbers (in the order given) as a Table, reading the source
        once more and keeping only those rows of each batch."""
        rows = np.asarray(rows, np.int64)
        order = np.argsort(rows, kind="stable")
        wanted = rows[order]
        parts, base = [], 0
        for batch in self.batches(columns):
            lo, hi = np.searchsorted(wanted, [base, base + batch.num_rows])
            if hi > lo:
                parts.append(take_rows(batch, wanted[lo:hi] - base))
            base += batch.num_rows
        schema = self.projected_schema(columns)
        picked = pa.Table.from_batches(parts, schema=_viewless(schema)) if parts \
            else _viewless(schema).empty_table()
        if picked.num_rows != len(rows):
            raise IndexError(f"{self.name}: row numbers past the end of the input")
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        return picked.take(pa.array(inverse)) if len(rows) else picked

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


def check_column(schema: pa.Schema, name: str, where: str = "input") -> int:
    """The index of column ``name``; SchemaError naming it (with a suggestion) otherwise."""
    from leadscore_fast.errors import SchemaError

    i = schema.get_field_index(name)
    if i < 0:
        if name in schema.names:
            raise SchemaError(f"{where}: column {name!r} appears more than once")
        raise SchemaError(f"{where}: unknown column {name!r}{did_you_mean(name, schema.names)}")
    return i


def project(batch: pa.RecordBatch, columns: list[str] | None) -> pa.RecordBatch:
    """``batch`` with ``columns`` in that order (None: as it is)."""
    if columns is None or list(batch.schema.names) == columns:
        return batch
    return batch.select(columns)


def _viewless(schema: pa.Schema) -> pa.Schema:
    return pa.schema([f.with_type(_unview(f.type)) for f in schema])


def _unview(t: pa.DataType) -> pa.DataType:
    """``t`` with string_view/binary_view (also inside lists and structs) as large types."""
    if pa.types.is_string_view(t):
        return pa.large_string()
    if pa.types.is_binary_view(t):
        return pa.large_binary()
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_list_view(t) \
            or pa.types.is_large_list_view(t):
        return pa.large_list(t.value_field.with_type(_unview(t.value_type)))
    if pa.types.is_struct(t):
        return pa.struct([f.with_type(_unview(f.type)) for f in t])
    return t


def take_rows(batch: pa.RecordBatch, idx) -> pa.RecordBatch:
    """Rows ``idx`` of ``batch``. Arrow has no take kernel for string_view (Polars' strings):
    such columns are cast to large_string first."""
    schema = _viewless(batch.schema)
    if not schema.equals(batch.schema):
        batch = batch.cast(schema)
    return batch.take(pa.array(np.asarray(idx, np.int64)))


class WithColumn(Source):
    """``source``'s rows with one more column ``column`` whose values are given whole, row
    for row (previous scores beside the input, for instance)."""

    def __init__(self, source: Source, column: str, values):
        if isinstance(values, pa.ChunkedArray):
            values = values.combine_chunks()
        self.source, self.column, self.values = source, column, values
        self.name, self.reopenable, self.decodes = source.name, source.reopenable, source.decodes
        self.schema = source.schema.append(pa.field(column, values.type))

    def num_rows(self) -> int | None:
        return len(self.values)

    def _batches(self, columns):
        inner = None if columns is None else [c for c in columns if c != self.column]
        base = 0
        for batch in self.source.batches(inner):
            extra = self.values.slice(base, batch.num_rows)
            base += batch.num_rows
            yield project(batch.append_column(self.column, extra), columns)
