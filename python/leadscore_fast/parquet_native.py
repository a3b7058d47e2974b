"""A Parquet file scored into a Parquet file by the engine alone: ``_engine.score_parquet``
(the ``leadscore-bulk`` crate) decodes the model's and the kept columns on a reader thread,
scores each batch on the native executor and encodes the output on a writer thread, with no
Python between them and the GIL released throughout.

This is the bulk rescoring job's fast path, taken by ``leadscore score`` and
``lf.score_file``: its process imports neither pyarrow, numpy nor numba (their imports alone
cost more than decoding a million rows), and its stages overlap on every core. It gives the
same file as the Python path (the same columns, types and bits; the native executor is one of
the engine's executors), and hands a file back (``score_file`` returns None, nothing written)
where that path must decide: a column type the native binding does not take, a model it does
not run, an executor other than "auto"/"native" asked for. ``LEADSCORE_BULK_NATIVE=0`` turns
it off.
"""
from __future__ import annotations

import json
import os

__all__ = ["takes", "score_file", "BATCH_ROWS", "CHUNK_ROWS"]

BATCH_ROWS = 1 << 17  # rows per decoded batch (a row group is read in slices); a few in flight
CHUNK_ROWS = 8192  # rows per executor chunk: runner.DEFAULT_CHUNK_ROWS (kept equal by a test)
_PARQUET = (".parquet", ".pq")


def _is_parquet(path, fmt) -> bool:
    if fmt is not None:
        return fmt.lower() in ("parquet", "pq")
    return str(path).lower().endswith(_PARQUET)


def takes(input_path, output, *, input_format=None, output_format=None, executor=None,
          delimiter=None, null_values=None) -> bool:
    """Whether this job can take the Rust path: one Parquet file (not a directory or a glob)
    into a Parquet file, no CSV options, the executor left to "auto" or "native" (by the
    argument and $LEADSCORE_EXECUTOR), and an extension that has the pipeline."""
    env = os.environ
    if env.get("LEADSCORE_BULK_NATIVE", "1") == "0" or delimiter or null_values:
        return False
    if (executor or env.get("LEADSCORE_EXECUTOR") or "auto") not in ("auto", "native"):
        return False
    if env.get("LEADSCORE_FUSE_AFTER_ROWS") == "0" and env.get("LEADSCORE_FUSED") != "0":
        return False  # the test suite's all-fused mode: the Python path's choice stands
    if not (_is_parquet(input_path, input_format) and _is_parquet(output, output_format)):
        return False
    if not os.path.isfile(input_path):
        return False  # a directory, a glob or a missing file: the Python path says which
    try:
        from leadscore_fast import _engine
    except ImportError:
        return False
    return hasattr(_engine, "score_parquet")


def score_file(model, input_path, output, *, keep=(), as_of=None, threads=None,
               compression="snappy", row_group_rows=1 << 20, on_batch=None):
    """Score the Parquet file ``input_path`` into ``output`` (atomically: a temporary file
    renamed over it) and return the run's summary: ``{"rows", "scores": [[min, max, sum,
    count]] per score, "segments": [[count per label..., NULLs]] per segmentation,
    "program"}``; or None, with nothing written, where the Python path must score it.
    ``on_batch(rows)`` is called after each batch (what it raises stops the run)."""
    from leadscore_fast import _engine
    from leadscore_fast.as_of import resolve_as_of
    from leadscore_fast.atomic import reserve
    from leadscore_fast.errors import DataError
    from leadscore_fast.model import as_model
    from leadscore_fast.vm.threads import default_threads, max_blocks, workers

    input_path, output = os.fspath(input_path), os.fspath(output)
    try:
        schema = _engine.parquet_file_info(input_path)[0]
    except ValueError:
        return None  # unreadable: the Python path's reader words the error
    names = [f["name"] for f in json.loads(schema)]
    if len(set(names)) != len(names) or any(k not in names for k in keep):
        return None  # the Python path names the column at fault
    m = as_model(model)
    program = _engine.compile(m.to_engine_json(), schema)
    threads = default_threads() if threads is None else max(1, int(threads))
    try:
        tmp = reserve(output)
    except OSError as e:
        raise DataError(f"{output}: cannot write: {e.strerror or e}") from None
    done = False
    try:
        got = _engine.score_parquet(
            program, input_path, tmp, list(keep), resolve_as_of(as_of, program), CHUNK_ROWS,
            max_blocks(threads), workers(threads), compression or "none", int(row_group_rows),
            BATCH_ROWS, min(2, workers(threads)), on_batch or (lambda rows: None))
        if isinstance(got, str):
            return None
        os.replace(tmp, output)
        done = True
    except ValueError as e:
        raise DataError(f"{input_path}: cannot read as parquet: {e}") from None
    except OSError as e:
        raise DataError(f"{output}: cannot write: {e}") from None
    finally:
        if not done:
            try:
                os.unlink(tmp)
            except OSError:
                pass
    got["program"] = program
    return got
