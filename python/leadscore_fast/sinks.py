"""The one way data goes out to files: a file (Parquet, CSV/CSV.gz, Arrow IPC) or a
directory of Parquet files, always written atomically.

A file is written to a temporary name beside the target and renamed over it once complete; a
directory is built beside the target and exchanged with it in one step (Linux
``renameat2(RENAME_EXCHANGE)``; elsewhere two renames), so a failure, a kill or a bad batch
part-way leaves either no output or the complete previous one. Parquet row groups are about
``ROW_GROUP_ROWS`` rows whatever the batch size, and dictionary columns (segments) stay
dictionary-encoded. Database tables are written by ``rescore``.
"""
from __future__ import annotations

import ctypes
import os
import shutil

import pyarrow as pa

from leadscore_fast.atomic import temp_name
from leadscore_fast.sources.files import describe, file_format

__all__ = ["write_output", "write_parts", "COMPRESSIONS", "ROW_GROUP_ROWS"]

ROW_GROUP_ROWS = 1 << 20
COMPRESSIONS = ("snappy", "zstd", "lz4", "gzip", "brotli", "none")


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
    """Batches gathered into row groups of ``row_group_rows`` (the last one smaller)."""
    import pyarrow.parquet as pq

    rows, held, held_rows = 0, [], 0
    # Dictionary pages only where values repeat by design (segments, strings): trying them
    # on float scores costs a third of the write before Parquet gives up on them.
    dictionary = [f.name for f in schema
                  if pa.types.is_dictionary(f.type) or pa.types.is_string(f.type)
                  or pa.types.is_large_string(f.type)]
    with pq.ParquetWriter(tmp, schema, compression=compression or "none",
                          use_dictionary=dictionary) as w:
        for b in batches:
            held.append(b)
            held_rows += b.num_rows
            rows += b.num_rows
            if held_rows >= row_group_rows:
                w.write_table(pa.Table.from_batches(held, schema), row_group_size=row_group_rows)
                held, held_rows = [], 0
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
