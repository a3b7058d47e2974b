"""``score()``: run a compiled Program over Arrow data with the numba VM.

Built on the runner (runner.py), which reads the input through its Source, binds each batch and runs the
kernel; this module turns each batch's score and segment-code arrays into the output columns
(float64 scores, dictionary<int32, string> segmentations, then the ``keep`` columns).
"""
from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from leadscore_fast.arrays import primitive
from leadscore_fast.as_of import resolve_as_of
from leadscore_fast.runner import Session

__all__ = ["score", "resolve_as_of"]


def record_batch(prep, out, keep_idx, out_schema) -> pa.RecordBatch:
    # The kernel counted the NULLs it wrote: rows without any are wrapped as they are (no
    # extra pass over the output to find there is nothing to mask).
    n_scores = len(out.out_f)
    cols = []
    for s, row in enumerate(out.out_f):
        cols.append(primitive(row, np.isnan(row) if out.nulls[s] else None))
    for g, (row, labels) in enumerate(zip(out.out_seg, prep.label_arrays)):
        idx = primitive(row, row < 0 if out.nulls[n_scores + g] else None)
        # safe=False: the kernel only writes label codes (or -1 under the mask); skip the
        # bounds pass over every index
        cols.append(pa.DictionaryArray.from_arrays(idx, labels, safe=False))
    cols.extend(out.batch.column(i) for i in keep_idx)
    return pa.RecordBatch.from_arrays(cols, schema=out_schema)


def score(model, data, *, keep=None, as_of=None, threads=None, chunk_rows=None, stream=False,
          executor=None):
    """Score ``data`` with ``model``.

    model: a Model, a path to a YAML model, a dict in the YAML layout, or a compiled Program.
    data: anything ``sources.open_source`` reads: a file path (Parquet, CSV, Arrow IPC), a
    directory or glob of Parquet files, a pyarrow Table / RecordBatch / RecordBatchReader, a
    pandas DataFrame, any object with ``__arrow_c_stream__`` (Polars, DuckDB, ...), or a
    Source (``lf.source(path, delimiter=";")``, a database table). Only the columns the model
    reads and ``keep`` are decoded.
    keep: input column name(s) to carry into the output after the scores and segments.
    as_of: datetime/date/ISO string for days_since; default the model's as_of, else now (UTC).
    chunk_rows: rows per VM chunk (default ``runner.DEFAULT_CHUNK_ROWS``); threads: default all cores.
    executor: what runs the bytecode: "auto" (default: native for small batches and until a
    fused kernel is at hand, fused kernels for hot bulk work), or one forced: "native" (the
    Rust interpreter, no warm-up), "interpreter" (numba), "fused" (LLVM kernels where the
    program allows, the interpreter elsewhere). Every executor gives the same bits.
    Returns a pyarrow Table (a RecordBatchReader with ``stream=True``): one float64 column per
    score, one dictionary<int32, string> column per segmentation, then the ``keep`` columns.
    """
    if keep is None:
        keep = []
    elif isinstance(keep, (str, os.PathLike)):
        keep = [str(keep)]
    ses = Session(model, data, as_of=as_of, threads=threads, chunk_rows=chunk_rows,
                   keep=list(keep), executor=executor, bind_only=True)
    schema, prep = ses.schema, ses.prep
    fields = [pa.field(s, pa.float64()) for s in prep.scores]
    fields += [pa.field(s["name"], pa.dictionary(pa.int32(), pa.string())) for s in prep.segments]
    fields += [schema.field(name) for name in keep]
    out_schema = pa.schema(fields)

    def run():
        for out in ses.batches(materialize=True):
            yield record_batch(prep, out, ses.keep_idx, out_schema)

    if stream:
        return pa.RecordBatchReader.from_batches(out_schema, run())
    return pa.Table.from_batches(list(run()), schema=out_schema)
