"""Data files as sources: Parquet, CSV (optionally gzip-compressed) and Arrow IPC / Feather.

Each reader decodes only the columns asked for. Parquet is read a row group at a time with
its buffers freed after each (pyarrow's ``iter_batches`` with ``pre_buffer`` kept the whole
file's buffers alive, so memory grew with the input); row groups too big to hold at once are
streamed in slices. CSV is read with Arrow's streaming reader, its delimiter sniffed from the
header unless given, its types inferred from the first block and then pinned so that every
batch has the same schema. Errors name the file.
"""
from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Iterator

import pyarrow as pa

from leadscore_fast.sources.base import Source, project

__all__ = ["FileSource", "file_format", "FORMATS", "sniff_delimiter"]

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv.gz",
           ".tsv": "csv", ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc"}
FORMAT_NAMES = ("parquet", "csv", "csv.gz", "ipc")
_CSV_BLOCK = 16 << 20  # CSV types are inferred from the first block: make it a generous one
# Row groups up to this many rows are decoded whole (fastest); bigger ones in slices.
ROW_GROUP_WHOLE_MAX = 4 << 20
SLICE_ROWS = 1 << 20
_DELIMITERS = ",;\t|"


def _data_error(message: str):
    from leadscore_fast.errors import DataError

    return DataError(message)


def file_format(path, override: str | None = None) -> str:
    """'parquet', 'csv', 'csv.gz' or 'ipc': ``override`` when given, else from the file name;
    DataError otherwise."""
    if override is not None:
        fmt = {"arrow": "ipc", "feather": "ipc", "pq": "parquet", "tsv": "csv"}.get(
            override.lower(), override.lower())
        if fmt not in FORMAT_NAMES:
            raise _data_error(f"unknown format {override!r} (expected one of "
                              f"{', '.join(FORMAT_NAMES)})")
        return fmt
    name = Path(path).name.lower()
    for ext in sorted(FORMATS, key=len, reverse=True):  # .csv.gz before .gz-less matches
        if name.endswith(ext):
            return FORMATS[ext]
    raise _data_error(f"{path}: unsupported file type (expected one of {', '.join(FORMATS)}, "
                      "or give the format)")


def describe(e: BaseException) -> str:
    """The first line of an exception's message (an OSError's strerror)."""
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


_READ_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)


class FileSource(Source):
    """One data file. ``options``: delimiter and null_values (CSV)."""

    def __init__(self, path, *, format: str | None = None, delimiter: str | None = None,
                 null_values=None):
        self.path = os.fspath(path)
        self.name = self.path
        self.format = file_format(self.path, format)
        if not os.path.exists(self.path):
            raise _data_error(f"{self.path}: no such file")
        if os.path.isdir(self.path):
            raise _data_error(f"{self.path}: is a directory, expected a data file")
        self.delimiter, self.null_values = delimiter, null_values
        try:
            self.schema = _SCHEMA[self.format](self)
        except _READ_ERRORS as e:
            raise _data_error(f"{self.path}: cannot read as {self.format}: {describe(e)}") \
                from None

    decodes = True

    def num_rows(self) -> int | None:
        try:
            if self.format == "parquet":
                import pyarrow.parquet as pq

                return pq.ParquetFile(self.path).metadata.num_rows
            if self.format == "ipc":
                import pyarrow.ipc as ipc

                return ipc.open_file(pa.memory_map(self.path)).count_rows()
        except Exception:  # only a progress bar's total: never fail over it
            return None
        return None

    def _batches(self, columns, dictionary=()) -> Iterator[pa.RecordBatch]:
        try:
            if self.format == "parquet":
                batches = _parquet_batches(self, columns, dictionary)
            else:
                batches = _READ[self.format](self, columns)
            for batch in batches:
                yield project(batch, columns)
        except _READ_ERRORS as e:
            raise _data_error(f"{self.path}: cannot read as {self.format}: {describe(e)}") \
                from None

    def _dictionary_batches(self, columns, names) -> Iterator[pa.RecordBatch]:
        return self._batches(columns, names)


# -- Parquet -------------------------------------------------------------------------------

def _parquet_schema(src: FileSource) -> pa.Schema:
    import pyarrow.parquet as pq

    return pq.read_schema(src.path)


def _parquet_batches(src: FileSource, columns, dictionary=()) -> Iterator[pa.RecordBatch]:
    """Row groups (or slices of big ones); the plain string columns among ``dictionary`` are
    read as dictionary arrays, straight from their dictionary pages: about 2x less decoding
    for a file whose strings are stored plain (pyarrow's default, an export's usual case)."""
    import pyarrow.parquet as pq

    plain = [c for c in dictionary if pa.types.is_string(src.schema.field(c).type)
             or pa.types.is_large_string(src.schema.field(c).type)]
    f = pq.ParquetFile(src.path, pre_buffer=False, read_dictionary=plain or None)
    meta = f.metadata
    for i in range(meta.num_row_groups):
        if meta.row_group(i).num_rows <= ROW_GROUP_WHOLE_MAX:
            yield from f.read_row_group(i, columns=columns).to_batches()
        else:
            yield from f.iter_batches(batch_size=SLICE_ROWS, row_groups=[i], columns=columns)


# -- CSV -----------------------------------------------------------------------------------

def _open_text(path: str):
    return gzip.open(path, "rb") if path.lower().endswith(".gz") else open(path, "rb")


def sniff_delimiter(path: str) -> str:
    """The delimiter of a CSV file: of , ; tab |, the one its header line holds most often
    outside quotes (a comma when it holds none)."""
    with _open_text(path) as f:
        head = f.read(1 << 16).decode("utf-8", errors="replace")
    line = head.split("\n", 1)[0]
    counts, quoted = dict.fromkeys(_DELIMITERS, 0), False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def _csv_options(src: FileSource, columns=None, column_types=None):
    import pyarrow.csv as csv

    if src.delimiter is None:
        src.delimiter = sniff_delimiter(src.path)
    if len(src.delimiter) != 1:
        raise _data_error(f"{src.path}: the delimiter must be one character, "
                          f"got {src.delimiter!r}")
    nulls = list(csv.ConvertOptions().null_values)
    nulls += [str(v) for v in (src.null_values or ()) if str(v) not in nulls]
    # An empty field is NULL (as the writers here write it), a quoted "" an empty string.
    convert = csv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False,
                                 null_values=nulls, include_columns=columns or [],
                                 column_types=column_types)
    return dict(read_options=csv.ReadOptions(block_size=_CSV_BLOCK),
                parse_options=csv.ParseOptions(delimiter=src.delimiter),
                convert_options=convert)


def _csv_schema(src: FileSource) -> pa.Schema:
    import pyarrow.csv as csv

    with csv.open_csv(src.path, **_csv_options(src)) as reader:
        return reader.schema


def _csv_batches(src: FileSource, columns) -> Iterator[pa.RecordBatch]:
    import pyarrow.csv as csv

    # Pin the types inferred when the source was opened: every batch has the same schema.
    types = {f.name: f.type for f in src.schema}
    with csv.open_csv(src.path, **_csv_options(src, columns, types)) as reader:
        yield from reader


# -- Arrow IPC -----------------------------------------------------------------------------

def _ipc_open(path: str):
    import pyarrow.ipc as ipc

    source = pa.memory_map(path)
    try:  # the random-access file format (also Feather v2) ...
        return ipc.open_file(source)
    except pa.ArrowInvalid:
        source.seek(0)  # ... or the streaming format
        return ipc.open_stream(source)


def _ipc_schema(src: FileSource) -> pa.Schema:
    return _ipc_open(src.path).schema


def _ipc_batches(src: FileSource, columns) -> Iterator[pa.RecordBatch]:
    f = _ipc_open(src.path)
    if hasattr(f, "num_record_batches"):
        return (f.get_batch(i) for i in range(f.num_record_batches))
    return iter(f)


_SCHEMA = {"parquet": _parquet_schema, "csv": _csv_schema, "csv.gz": _csv_schema,
           "ipc": _ipc_schema}
_READ = {"parquet": _parquet_batches, "csv": _csv_batches, "csv.gz": _csv_batches,
         "ipc": _ipc_batches}
