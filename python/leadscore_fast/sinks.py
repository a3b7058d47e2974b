"""The one way data goes out to files: a file (Parquet, CSV/CSV.gz, Arrow IPC) or a
directory of Parquet files, always written atomically.

A file is written to a temporary name beside the target and renamed over it once complete; a
directory is built beside the target and exchanged with it in one step (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames), so a failure, a kill or a bad batch
part-way leaves either no output or the complete previous one. Parquet row groups are
``ROW_GROUP_ROWS`` rows whatever the batch size (the last one fewer), and dictionary columns
(segments) stay dictionary-encoded. Parquet is encoded by the extension's writer
(``_engine.ParquetWriter``: arrow-rs, a row group's columns on parallel threads), or by
pyarrow's where the extension has none. Database tables are written by ``rescore``.
"""
from __future__ import annotations

import ctypes
import os
import shutil

import pyarrow as pa

from leadscore_fast.atomic import temp_name
from leadscore_fast.sources.files import describe, file_format

__all__ = ["write_output", "write_parts", "COMPRESSIONS", "ROW_GROUP_ROWS", "PARQUET_WRITERS"]

ROW_GROUP_ROWS = 1 << 20
COMPRESSIONS = ("snappy", "zstd", "lz4", "gzip", "brotli", "none")
# Who encodes Parquet: auto (the extension's writer where it takes the schema, else pyarrow's),
# native (the extension's, or an error), pyarrow. $LEADSCORE_PARQUET_WRITER, read per file.
PARQUET_WRITERS = ("auto", "native", "pyarrow")


def _data_error(message: str):
    from leadscore_fast.errors import DataError

    return DataError(message)


def _as_stream(data) -> tuple[pa.Schema, object]:
    """(schema, batches) of anything the input layer reads: outputs are data like inputs."""
    from leadscore_fast.sources import open_source

    source = open_source(data)
    return source.schema, source.batches()


def _check_compression(compression: str | None) -> str | None:
    if compression is None or compression == "none":
        return None
    if compression not in COMPRESSIONS:
        raise _data_error(f"unknown compression {compression!r} (expected one of "
                          f"{', '.join(COMPRESSIONS)})")
    return compression


def write_output(data, path, *, format: str | None = None, compression: str | None = "snappy",
                 row_group_rows: int = ROW_GROUP_ROWS) -> int:
    """Write a Table / RecordBatch / RecordBatchReader to ``path`` (format from its extension
    unless given) atomically; returns the number of rows written. ``compression`` applies to
    Parquet (and zstd/lz4 to Arrow IPC)."""
    fmt = file_format(path, format)
    compression = _check_compression(compression)
    schema, batches = _as_stream(data)
    if fmt.startswith("csv"):
        nested = [f.name for f in schema if pa.types.is_nested(f.type)]
        if nested:
            raise _data_error(f"{path}: CSV cannot hold list/struct columns "
                              f"({', '.join(nested)}); write .parquet or .arrow instead")
    path = os.fspath(path)
    tmp = temp_name(path)
    try:
        # O_EXCL reserves the name; 0o666 lets the umask decide permissions, as for any new file.
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as e:
        raise _data_error(f"{path}: cannot write: {describe(e)}") from None
    try:
        rows = _WRITERS[fmt](tmp, schema, batches, compression, row_group_rows)
        os.replace(tmp, path)
        return rows
    except (pa.ArrowException, OSError) as e:
        _remove(tmp)
        raise _data_error(f"{path}: cannot write: {describe(e)}") from None
    except BaseException:  # scoring errors mid-stream, KeyboardInterrupt: no partial output
        _remove(tmp)
        raise


def write_parts(parts, path, *, compression: str | None = "snappy",
                row_group_rows: int = ROW_GROUP_ROWS) -> int:
    """Write a directory of Parquet files atomically: ``parts`` yields (relative path, data)
    pairs. The directory replaces ``path`` (and any previous output there) only once every
    part is written; returns the rows written."""
    compression = _check_compression(compression)
    path = os.fspath(path).rstrip(os.sep) or os.sep
    if os.path.exists(path) and not os.path.isdir(path):
        raise _data_error(f"{path}: exists and is not a directory (a directory input writes "
                          "a directory output)")
    tmp = temp_name(path)
    try:
        os.mkdir(tmp)
    except OSError as e:
        raise _data_error(f"{path}: cannot write: {describe(e)}") from None
    rows = 0
    try:
        for rel, data in parts:
            target = os.path.join(tmp, rel)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            schema, batches = _as_stream(data)
            rows += _write_parquet(target, schema, batches, compression, row_group_rows)
        _swap_in(tmp, path)
        return rows
    except (pa.ArrowException, OSError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _data_error(f"{path}: cannot write: {describe(e)}") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap_in(tmp: str, path: str) -> None:
    """Put directory ``tmp`` at ``path``; the previous ``path`` (if any) is removed after."""
    if not os.path.exists(path):
        os.rename(tmp, path)
        return
    if not _exchange(tmp, path):
        old = temp_name(path, "old")
        os.rename(path, old)
        os.rename(tmp, path)
        tmp = old
    shutil.rmtree(tmp, ignore_errors=True)  # now the previous output


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False if unavailable."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _write_parquet(tmp, schema, batches, compression, row_group_rows) -> int:
    """Batches gathered into row groups of exactly ``row_group_rows`` rows (the last one
    smaller): by ``_engine.ParquetWriter`` (columns encoded in parallel) where the extension
    has it and takes the schema, else by pyarrow's writer (one encoding thread).
    ``LEADSCORE_PARQUET_WRITER`` (one of ``PARQUET_WRITERS``) picks one instead of auto."""
    # Dictionary pages only where values repeat by design (segments, strings): trying them
    # on float scores costs a third of the write before Parquet gives up on them.
    dictionary = [f.name for f in schema
                  if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
                  or pa.types.is_large_string(f.type)]
    choice = os.environ.get("LEADSCORE_PARQUET_WRITER", "auto") or "auto"
    if choice not in PARQUET_WRITERS:
        raise _data_error(f"LEADSCORE_PARQUET_WRITER={choice!r}: expected one of "
                          f"{', '.join(PARQUET_WRITERS)}")
    target = None if choice == "pyarrow" else _native_schema(schema)
    if target is None and choice == "native":
        raise pa.ArrowInvalid("a nested column holds timestamp[s] values, which only "
                              "pyarrow's writer stores as milliseconds")
    writer = None if target is None else _native_writer(tmp, target, compression,
                                                        row_group_rows, dictionary,
                                                        required=choice == "native")
    if writer is None:
        return _write_parquet_pyarrow(tmp, schema, batches, compression, row_group_rows,
                                      dictionary)
    cast = not target.equals(schema)
    try:
        for b in batches:
            _native_call(writer.write, b.cast(target) if cast else b)
        return _native_call(writer.close)
    finally:
        writer.discard()  # after close, nothing; after a failure, no footer


def _native_schema(schema: pa.Schema) -> pa.Schema | None:
    """The schema the extension's writer is given for ``schema``: timestamp[s] columns as
    timestamp[ms], as pyarrow's writer stores them (Parquet has no seconds unit, and arrow-rs
    would write plain integers); None where a nested column holds timestamp[s]."""
    def seconds(t) -> bool:
        if pa.types.is_timestamp(t):
            return t.unit == "s"
        if pa.types.is_dictionary(t):
            return seconds(t.value_type)
        return any(seconds(t.field(i).type) for i in range(t.num_fields))

    fields = []
    for f in schema:
        if pa.types.is_timestamp(f.type) and f.type.unit == "s":
            f = f.with_type(pa.timestamp("ms", f.type.tz))
        elif seconds(f.type):
            return None
        fields.append(f)
    return pa.schema(fields, metadata=schema.metadata)


def _native_writer(tmp, schema, compression, row_group_rows, dictionary, required):
    """An ``_engine.ParquetWriter`` on ``tmp``, or None where there is none or it cannot
    write ``schema`` (a type arrow-rs does not take) and pyarrow's writer is allowed."""
    from leadscore_fast import _engine

    cls = getattr(_engine, "ParquetWriter", None)
    if cls is None:
        if required:
            raise _data_error("LEADSCORE_PARQUET_WRITER=native: this build of the extension "
                              "has no ParquetWriter")
        return None
    try:
        return cls(tmp, schema, compression or "none", row_group_rows, dictionary,
                   _threads())
    except ValueError as e:
        if required:
            raise pa.ArrowInvalid(str(e)) from None
        return None


def _native_call(f, *args):
    """The writer's ValueErrors (bad data) as pyarrow's, which write_output reports."""
    try:
        return f(*args)
    except ValueError as e:
        raise pa.ArrowInvalid(str(e)) from None


def _threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _write_parquet_pyarrow(tmp, schema, batches, compression, row_group_rows,
                           dictionary) -> int:
    import pyarrow.parquet as pq

    rows, held, held_rows = 0, [], 0
    with pq.ParquetWriter(tmp, schema, compression=compression or "none",
                          use_dictionary=dictionary) as w:
        for b in batches:
            held.append(b)
            held_rows += b.num_rows
            rows += b.num_rows
            if held_rows >= row_group_rows:
                table = pa.Table.from_batches(held, schema)
                whole = held_rows - held_rows % row_group_rows
                w.write_table(table.slice(0, whole), row_group_size=row_group_rows)
                held = table.slice(whole).to_batches()
                held_rows -= whole
        if held or not rows:
            w.write_table(pa.Table.from_batches(held, schema), row_group_size=row_group_rows)
    return rows


def _write_csv(tmp, schema, batches, compression=None, _rg=None, gzip=False) -> int:
    import pyarrow.csv as csv

    rows = 0
    with pa.OSFile(tmp, "wb") as raw:
        sink = pa.CompressedOutputStream(raw, "gzip") if gzip else raw
        with csv.CSVWriter(sink, schema) as w:
            for b in batches:
                w.write_batch(b)
                rows += b.num_rows
        if gzip:
            sink.close()
    return rows


def _write_ipc(tmp, schema, batches, compression=None, _rg=None) -> int:
    import pyarrow.ipc as ipc

    options = ipc.IpcWriteOptions(compression=compression if compression in ("zstd", "lz4")
                                  else None)
    rows = 0
    with pa.OSFile(tmp, "wb") as sink, ipc.new_file(sink, schema, options=options) as w:
        for b in batches:
            w.write_batch(b)
            rows += b.num_rows
    return rows


_WRITERS = {"parquet": _write_parquet, "csv": _write_csv, "ipc": _write_ipc,
            "csv.gz": lambda tmp, schema, batches, c, rg: _write_csv(tmp, schema, batches,
                                                                     gzip=True)}
