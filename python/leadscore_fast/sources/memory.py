"""In-memory inputs: pyarrow Tables and RecordBatches, pandas DataFrames, objects with
``__arrow_c_array__`` (re-readable), and streams: RecordBatchReaders and objects with
``__arrow_c_stream__`` (one-shot, except DataFrame-like objects that export a fresh stream
each time they are asked, such as Polars and DuckDB relations)."""
from __future__ import annotations

import sys
from typing import Iterator

import pyarrow as pa

from leadscore_fast.sources.base import Source, project

__all__ = ["TableSource", "StreamSource", "from_memory"]

# Objects whose __arrow_c_stream__ reads the same data again on every call.
_REEXPORTING = ("polars.", "duckdb.")


class TableSource(Source):
    """A pyarrow Table (or a RecordBatch, wrapped): re-readable, projected without a copy."""

    def __init__(self, table: pa.Table, name: str = "a pyarrow Table"):
        self.table, self.name, self.schema = table, name, table.schema

    def num_rows(self) -> int:
        return self.table.num_rows

    def _batches(self, columns) -> Iterator[pa.RecordBatch]:
        t = self.table if columns is None else self.table.select(columns)
        return iter(t.to_batches())  # batches with aligned chunk boundaries

    def read_all(self, columns=None) -> pa.Table:
        return self.table if columns is None else self.table.select(list(dict.fromkeys(columns)))


class StreamSource(Source):
    """A stream of batches. One-shot unless ``reopen`` gives a fresh stream each time."""

    def __init__(self, reader: pa.RecordBatchReader, name: str, reopen=None):
        self._reader, self._reopen, self.name = reader, reopen, name
        self.schema = reader.schema
        self.reopenable = reopen is not None

    def _batches(self, columns) -> Iterator[pa.RecordBatch]:
        from leadscore_fast.errors import DataError

        reader, self._reader = self._reader, None
        if reader is None:
            if self._reopen is None:
                raise DataError(f"{self.name} is a one-shot stream and has been read already")
            reader = self._reopen()
        for batch in reader:
            yield project(batch, columns)


def from_memory(data) -> Source | None:
    """The Source for an in-memory object, or None when ``data`` is not one."""
    if isinstance(data, pa.Table):
        return TableSource(data)
    if isinstance(data, pa.RecordBatch):
        return TableSource(pa.Table.from_batches([data]), "a pyarrow RecordBatch")
    if isinstance(data, pa.RecordBatchReader):
        return StreamSource(data, "a RecordBatchReader")
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        return TableSource(pa.Table.from_pandas(data, preserve_index=False),
                           "a pandas DataFrame")
    kind = type(data).__module__ + "." + type(data).__name__
    if hasattr(data, "__arrow_c_stream__"):
        reopen = None
        if kind.startswith(_REEXPORTING):
            reopen = lambda: pa.RecordBatchReader.from_stream(data)  # noqa: E731
        return StreamSource(pa.RecordBatchReader.from_stream(data), f"a {type(data).__name__}",
                            reopen)
    if hasattr(data, "__arrow_c_array__"):
        return TableSource(pa.Table.from_batches([pa.record_batch(data)]),
                           f"a {type(data).__name__}")
    return None
