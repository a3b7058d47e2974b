"""Reading inputs as streams of record batches, and writing outputs atomically.

Inputs are never loaded whole: Parquet is read batch by batch, CSV with Arrow's streaming
reader, Arrow IPC files through a memory map. Outputs are written to a temporary file beside
the target and renamed over it only once complete, so a failure (bad data, a scoring error
mid-stream, Ctrl-C) never leaves a half-written file.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pyarrow as pa

__all__ = ["read_input", "write_output", "count_rows", "file_format", "DEFAULT_BATCH_SIZE"]

DEFAULT_BATCH_SIZE = 65_536
_CSV_BLOCK = 16 << 20  # CSV types are inferred from the first block: make it a generous one

_FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".csv.gz": "csv.gz",
            ".arrow": "ipc", ".ipc": "ipc", ".feather": "ipc"}


def _data_error(message: str):
    from leadscore_fast.errors import DataError

    return DataError(message)


def file_format(path) -> str:
    """'parquet', 'csv', 'csv.gz' or 'ipc' from the file name; DataError otherwise."""
    name = Path(path).name.lower()
    for ext in sorted(_FORMATS, key=len, reverse=True):  # .csv.gz before .gz-less matches
        if name.endswith(ext):
            return _FORMATS[ext]
    raise _data_error(f"{path}: unsupported file type (expected one of "
                      f"{', '.join(_FORMATS)})")


def _describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


# -- reading -------------------------------------------------------------------------------

def read_input(path, batch_size: int = DEFAULT_BATCH_SIZE) -> pa.RecordBatchReader:
    """Open ``path`` (.parquet/.pq, .csv/.csv.gz, .arrow/.ipc/.feather) as a batch stream.

    A missing, corrupt or unsupported file raises DataError naming the file, when opened or
    (for damage found later in the file) while the stream is read.
    """
    fmt = file_format(path)
    if not os.path.exists(path):
        raise _data_error(f"{path}: no such file")
    if os.path.isdir(path):
        raise _data_error(f"{path}: is a directory, expected a data file")
    try:
        schema, batches = _OPENERS[fmt](str(path), batch_size)
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _data_error(f"{path}: cannot read as {fmt}: {_describe(e)}") from None
    return pa.RecordBatchReader.from_batches(schema, _guarded(batches, path, fmt))


def _guarded(batches, path, fmt):
    # Errors surface while iterating (a corrupt page, a CSV value of the wrong type).
    try:
        yield from batches
    except (pa.ArrowException, OSError, ValueError) as e:
        raise _data_error(f"{path}: cannot read as {fmt}: {_describe(e)}") from None


def _open_parquet(path: str, batch_size: int):
    import pyarrow.parquet as pq

    f = pq.ParquetFile(path, memory_map=True)
    return f.schema_arrow, f.iter_batches(batch_size=batch_size)


def _open_csv(path: str, batch_size: int):
    import pyarrow.csv as csv

    # open_csv decompresses .gz by the file name. An empty field is NULL (as written by
    # write_output), a quoted "" an empty string.
    convert = csv.ConvertOptions(strings_can_be_null=True, quoted_strings_can_be_null=False)
    reader = csv.open_csv(path, read_options=csv.ReadOptions(block_size=_CSV_BLOCK),
                          convert_options=convert)
    return reader.schema, reader


def _open_ipc(path: str, batch_size: int):
    import pyarrow.ipc as ipc

    source = pa.memory_map(path)
    try:  # the random-access file format (also Feather v2) ...
        f = ipc.open_file(source)
        return f.schema, (f.get_batch(i) for i in range(f.num_record_batches))
    except pa.ArrowInvalid:
        source.seek(0)  # ... or the streaming format
        s = ipc.open_stream(source)
        return s.schema, s


_OPENERS = {"parquet": _open_parquet, "csv": _open_csv, "csv.gz": _open_csv, "ipc": _open_ipc}


def count_rows(path) -> int | None:
    """Row count when the file says it cheaply (Parquet metadata, Arrow IPC file), else None."""
    try:
        fmt = file_format(path)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return pq.ParquetFile(path).metadata.num_rows
        if fmt == "ipc":
            import pyarrow.ipc as ipc

            return ipc.open_file(pa.memory_map(str(path))).count_rows()
    except Exception:  # only a progress-bar hint: never fail over it
        return None
    return None


# -- writing -------------------------------------------------------------------------------

def _as_stream(data) -> tuple[pa.Schema, object]:
    if isinstance(data, pa.Table):
        return data.schema, data.to_batches()
    if isinstance(data, pa.RecordBatch):
        return data.schema, [data]
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, data
    if hasattr(data, "__arrow_c_stream__"):
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, reader
    raise TypeError(f"cannot write {type(data).__name__}: expected a Table, RecordBatch or "
                    "RecordBatchReader")


def write_output(data, path) -> int:
    """Write a Table / RecordBatch / RecordBatchReader to ``path`` (format from its extension)
    atomically; returns the number of rows written."""
    fmt = file_format(path)
    schema, batches = _as_stream(data)
    if fmt.startswith("csv"):
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise _data_error(f"{path}: CSV cannot hold list/struct columns "
                              f"({', '.join(nested)}); write .parquet or .arrow instead")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(4)}.tmp")
    try:
        # O_EXCL reserves the name; 0o666 lets the umask decide permissions, as for any new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise _data_error(f"{path}: cannot write: {_describe(e)}") from None
    try:
        rows = _WRITERS[fmt](tmp, schema, batches)
        os.replace(tmp, path)
        return rows
    except (pa.ArrowException, OSError) as e:
        _remove(tmp)
        raise _data_error(f"{path}: cannot write: {_describe(e)}") from None
    except BaseException:  # scoring errors mid-stream, KeyboardInterrupt: no partial output
        _remove(tmp)
        raise


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_parquet(tmp, schema, batches) -> int:
    import pyarrow.parquet as pq

    rows = 0
    with pq.ParquetWriter(tmp, schema) as w:
        for b in batches:
            w.write_batch(b)
            rows += b.num_rows
    return rows


def _write_csv(tmp, schema, batches, compression=None) -> int:
    import pyarrow.csv as csv

    rows = 0
    with pa.OSFile(tmp, "wb") as raw:
        sink = pa.CompressedOutputStream(raw, compression) if compression else raw
        with csv.CSVWriter(sink, schema) as w:
            for b in batches:
                w.write_batch(b)
                rows += b.num_rows
        if compression:
            sink.close()
    return rows


def _write_ipc(tmp, schema, batches) -> int:
    import pyarrow.ipc as ipc

    rows = 0
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, schema) as w:
        for b in batches:
            w.write_batch(b)
            rows += b.num_rows
    return rows


_WRITERS = {"parquet": _write_parquet, "csv": _write_csv, "ipc": _write_ipc,
            "csv.gz": lambda tmp, schema, batches: _write_csv(tmp, schema, batches, "gzip")}
