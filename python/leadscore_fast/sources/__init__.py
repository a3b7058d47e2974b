"""The one way data comes in: anything a user hands to ``score``, a query, ``summarize`` or
the CLI becomes a :class:`~leadscore_fast.sources.base.Source` here.

    open_source(data, format=None, delimiter=None, null_values=None) -> Source

``data`` may be a Source (returned as it is), a path to a file (Parquet, CSV/CSV.gz, Arrow
IPC/Feather), a directory of Parquet files or a glob (hive partitions read as columns), a
pyarrow Table/RecordBatch/RecordBatchReader, a pandas DataFrame, or any object with
``__arrow_c_stream__``/``__arrow_c_array__`` (Polars, DuckDB, ...). Database tables are
``sources.database.DatabaseSource``.
"""
from __future__ import annotations

import os

from leadscore_fast.sources.base import Source, check_column, take_rows
from leadscore_fast.sources.dataset import DatasetSource, is_glob
from leadscore_fast.sources.files import FileSource, file_format
from leadscore_fast.sources.memory import from_memory

__all__ = ["open_source", "source", "Source", "FileSource", "DatasetSource", "check_column",
           "take_rows", "file_format", "READER_OPTIONS"]

# The keyword options open_source takes (the CLI and the Python API pass them through).
READER_OPTIONS = ("format", "delimiter", "null_values")


def open_source(data, *, format: str | None = None, delimiter: str | None = None,
                null_values=None) -> Source:
    """The Source for ``data`` (see the module docstring); DataError when it is none."""
    if isinstance(data, Source):
        return data
    if isinstance(data, (str, os.PathLike)):
        path = os.fspath(data)
        if os.path.isdir(path) or (is_glob(path) and not os.path.exists(path)):
            return DatasetSource(path, format=format)
        return FileSource(path, format=format, delimiter=delimiter, null_values=null_values)
    source = from_memory(data)
    if source is None:
        from leadscore_fast.errors import DataError

        raise DataError(
            f"cannot read a {type(data).__name__}: expected a file path, a directory or glob "
            "of Parquet files, a pyarrow Table, RecordBatch or RecordBatchReader, a pandas "
            "DataFrame, or an object with __arrow_c_stream__")
    return source


source = open_source  # the public name: lf.source(path, delimiter=";", null_values=["Select"])
