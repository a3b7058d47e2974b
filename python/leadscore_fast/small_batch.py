"""``CompiledModel.score_batch``'s path for small batches: one call into the engine
(``_engine.BatchScorer``) that reads the RecordBatch through the Arrow C data interface,
binds its columns as the runner does, fills the lookup tables (kept while a dictionary stays
equal), runs the native executor and hands back the output columns' buffers.

The runner's general path (sources, per-batch binding in Python, executor choice, the worker
pool) costs several hundred microseconds per call; a webhook or a stream scoring a thousand
leads at a time pays that on every call. Everything here that depends only on the program or
on the batch's schema is prepared once. The path gives the runner's bits, and declines
(``score`` returns None) where the runner must decide: a batch the engine's binding does not
take, or an executor other than "auto"/"native" asked for by the environment.
"""
from __future__ import annotations

import os

import pyarrow as pa

from leadscore_fast.vm import pool

__all__ = ["SmallBatches", "MAX_ROWS"]

# Batches up to this many rows take this path: those the "auto" executor runs native anyway
# (vm/executor.NATIVE_MAX_ROWS).
MAX_ROWS = 1 << 15
# Rows per executor chunk, as the runner's (runner.DEFAULT_CHUNK_ROWS).
CHUNK_ROWS = 8192

_F64 = pa.float64()
_SEG = pa.dictionary(pa.int32(), pa.string())


class SmallBatches:
    """A program prepared for scoring small RecordBatches (thread-safe: the engine's table
    caches are behind locks). ``label_arrays``: per segmentation, its labels as a string
    array (the output dictionaries)."""

    def __init__(self, program, label_arrays):
        from leadscore_fast import _engine
        from leadscore_fast.errors import ProgramError

        try:
            self._scorer = _engine.BatchScorer(program)
        except ProgramError:  # queries or multi-column keys: the runner's path
            self._scorer = None
        self._names = [c["name"] for c in program.columns]
        self._n_scores = len(program.scores)
        self._labels = list(label_arrays)
        self._layouts: list = []  # (schema, batch column of each program column), recent last

    def _layout(self, schema: pa.Schema) -> list:
        for seen, layout in reversed(self._layouts):
            if seen is schema or seen.equals(schema):
                return layout
        layout = [schema.get_field_index(name) for name in self._names]
        self._layouts = (self._layouts + [(schema, layout)])[-8:]
        return layout

    def score(self, batch: pa.RecordBatch, as_of_us: int, threads: int | None):
        """The output columns of ``batch`` (scores, then segmentations), or None where the
        runner's path must score it."""
        if self._scorer is None or batch.num_rows > MAX_ROWS or not _allowed():
            return None
        if threads is None:
            threads = pool.default_threads()
        layout = self._layout(batch.schema)
        if -1 in layout:
            return None
        outs = self._scorer.score(batch, layout, as_of_us, CHUNK_ROWS, pool.max_blocks(threads),
                                  pool.workers(threads))
        if outs is None:
            return None
        n = batch.num_rows
        cols = []
        for k, (data, valid, nulls) in enumerate(outs):
            buffers = [None if valid is None else pa.py_buffer(valid), pa.py_buffer(data)]
            if k < self._n_scores:
                cols.append(pa.Array.from_buffers(_F64, n, buffers, null_count=nulls))
            else:
                cols.append(pa.DictionaryArray.from_buffers(
                    _SEG, n, buffers, self._labels[k - self._n_scores], null_count=nulls))
        return cols


def _allowed() -> bool:
    """Whether the environment leaves the executor to "auto" (or asks for "native") and does
    not ask for fused kernels from the first row (``LEADSCORE_FUSE_AFTER_ROWS=0``, the
    test suite's all-fused mode): elsewhere the runner's choice stands."""
    env = os.environ
    if env.get("LEADSCORE_EXECUTOR", "auto") not in ("auto", "native", ""):
        return False
    return env.get("LEADSCORE_FUSE_AFTER_ROWS") != "0" or env.get("LEADSCORE_FUSED") == "0"
