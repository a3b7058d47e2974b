"""``score()``: run a compiled Program over Arrow data with the numba VM.

Data of any accepted shape is normalised once (``_as_batches``) into a schema plus an iterator
of RecordBatches; each batch is bound column by column (vm/columns.py), lookup tables are built
from the batch's dictionaries (cached while the dictionary stays equal), and the kernel writes
the scores and segment codes into preallocated arrays that become the output columns.
"""
from __future__ import annotations

import datetime as _dt
import difflib
import os
import sys
from collections import OrderedDict

import numpy as np
import pyarrow as pa

from leadscore_fast.vm import opcodes as _op
from leadscore_fast.vm.columns import (
    INT_PTYPES, NUMERIC_PTYPES, PT_NULL, PTYPE_NAMES, TIME_PTYPES, bind_array,
)

__all__ = ["score", "resolve_as_of"]

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
# Which physical types each column-reading opcode accepts (anything else is a SchemaError,
# raised here because the kernel does no type checks).
_ACCEPTS = {
    _op.LOAD_F: NUMERIC_PTYPES | {PT_NULL},
    _op.LOAD_I: INT_PTYPES | {PT_NULL},
    _op.LOAD_B: NUMERIC_PTYPES | {PT_NULL},
    _op.LOAD_DAYS: TIME_PTYPES | {PT_NULL},
}


def _errors():
    from leadscore_fast import errors  # lazy: needs the Rust extension

    return errors


# -- inputs ----------------------------------------------------------------------------------
def _as_batches(data):
    """(schema, iterable of RecordBatch) for every accepted input shape."""
    if isinstance(data, pa.Table):
        return data.schema, data.to_batches()  # batches with aligned chunk boundaries
    if isinstance(data, pa.RecordBatch):
        return data.schema, [data]
    if isinstance(data, pa.RecordBatchReader):
        return data.schema, data
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(data, pd.DataFrame):
        t = pa.Table.from_pandas(data, preserve_index=False)
        return t.schema, t.to_batches()
    if hasattr(data, "__arrow_c_stream__"):  # polars, duckdb, nanoarrow, ...
        reader = pa.RecordBatchReader.from_stream(data)
        return reader.schema, reader
    if hasattr(data, "__arrow_c_array__"):
        batch = pa.record_batch(data)
        return batch.schema, [batch]
    raise _errors().DataError(
        f"cannot score a {type(data).__name__}: expected a pyarrow Table, RecordBatch or "
        "RecordBatchReader, a pandas DataFrame, or an object with __arrow_c_stream__")


def resolve_as_of(as_of, program=None) -> int:
    """Epoch microseconds (UTC) from: explicit as_of > Program.as_of > now. Naive = UTC."""
    value = as_of if as_of is not None else getattr(program, "as_of", None)
    if value is None:
        value = _dt.datetime.now(_dt.timezone.utc)
    if isinstance(value, str):
        try:
            value = _dt.datetime.fromisoformat(value.strip().replace("z", "Z"))
        except ValueError:
            raise _errors().ModelError(
                f"as_of {value!r} is not an ISO-8601 date or timestamp "
                "(e.g. 2026-11-01T00:00:00Z)") from None
    if isinstance(value, _dt.date) and not isinstance(value, _dt.datetime):
        value = _dt.datetime(value.year, value.month, value.day)
    if not isinstance(value, _dt.datetime):
        raise TypeError(f"as_of must be a datetime, date or ISO string, got {value!r}")
    if value.tzinfo is None:
        value = value.replace(tzinfo=_dt.timezone.utc)
    delta = value - _EPOCH  # exact integer arithmetic, no float rounding
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _compile(model, schema):
    if hasattr(model, "code"):  # already a Program
        return model
    from leadscore_fast.compiler import compile as compile_model

    return compile_model(model, schema)


# -- per-Program state -----------------------------------------------------------------------
class _Prepared:
    """What one Program needs across batches: decoded+checked code and the lookup cache."""

    def __init__(self, program):
        from leadscore_fast.vm.check import check_program

        self.program = program
        self.code = np.ascontiguousarray(check_program(program))
        self.consts_f = np.asarray(program.consts_f, dtype=np.float64).reshape(-1)
        self.consts_i = np.asarray(program.consts_i, dtype=np.int64).reshape(-1)
        self.n_regs = tuple(int(x) for x in program.n_regs)
        self.columns = list(program.columns)
        self.lookups = list(program.lookups)
        self.scores = list(program.scores)
        self.segments = list(program.segments)
        self.label_arrays = [pa.array(list(s["labels"]), pa.string()) for s in self.segments]
        self.uses: dict[int, set[int]] = {}  # column → opcodes that read it
        for insn in self.code:
            kinds = _op.OPCODES[int(insn[0])][1]
            if "col" in kinds:
                self.uses.setdefault(int(insn[1 + kinds.index("col")]), set()).add(int(insn[0]))
        self.lut_cache: list = [None] * len(self.lookups)  # per table: (dictionary, values)

    def table(self, t: int, dictionary: pa.Array | None) -> np.ndarray:
        if dictionary is None:  # column not dictionary-coded: no instruction can use table t
            return np.full(1, np.nan)
        cached = self.lut_cache[t]
        if cached is not None and (cached[0] is dictionary or cached[0].equals(dictionary)):
            return cached[1]
        values = np.asarray(self.program.eval_lookup(t, dictionary.to_pylist()), np.float64)
        if values.shape != (len(dictionary) + 1,):
            raise _errors().ProgramError(
                f"eval_lookup({t}) returned {values.size} values for a dictionary of "
                f"{len(dictionary)} (expected {len(dictionary) + 1})")
        self.lut_cache[t] = (dictionary, values)
        return values


_PREPARED: OrderedDict = OrderedDict()  # id(program) → _Prepared (holds the program alive)


def _prepare(program) -> _Prepared:
    key = id(program)
    prep = _PREPARED.get(key)
    if prep is None or prep.program is not program:
        prep = _Prepared(program)
        _PREPARED[key] = prep
        while len(_PREPARED) > 16:
            _PREPARED.popitem(last=False)
    _PREPARED.move_to_end(key)
    return prep


def _suggest(name: str, names) -> str:
    close = difflib.get_close_matches(name, list(names), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _column_index(schema: pa.Schema, name: str) -> int:
    i = schema.get_field_index(name)
    if i < 0:
        if name in schema.names:
            raise _errors().SchemaError(f"column {name!r} appears more than once in the input")
        raise _errors().SchemaError(f"unknown column {name!r}{_suggest(name, schema.names)}")
    return i


# -- one batch -------------------------------------------------------------------------------
def _run_batch(prep: _Prepared, batch: pa.RecordBatch, col_idx, keep_idx, out_schema, as_of,
               threads, chunk_rows) -> pa.RecordBatch:
    from leadscore_fast.vm import kernel

    n = batch.num_rows
    datas, valids, dicts = [], [], []
    meta = np.zeros((len(prep.columns), 3), np.int64)
    for c, spec in enumerate(prep.columns):
        has_any = spec.get("has_any") if spec.get("kind") == "has_any" else None
        try:
            b = bind_array(batch.column(col_idx[c]), has_any)
        except TypeError as e:
            raise _errors().SchemaError(f"column {spec['name']!r}: {e}") from None
        for op in prep.uses.get(c, ()):
            ok = _ACCEPTS.get(op)
            if ok is None and "tab" in _op.OPCODES[op][1]:
                ok = INT_PTYPES if b.dictionary is not None else frozenset()
            if ok is not None and b.ptype not in ok:
                raise _errors().SchemaError(
                    f"column {spec['name']!r} of type {batch.schema.field(col_idx[c]).type} "
                    f"({PTYPE_NAMES[b.ptype]}) cannot be read by {_op.OPCODES[op][0]}")
        datas.append(b.data)
        valids.append(b.valid)
        dicts.append(b.dictionary)
        meta[c] = (b.ptype, b.offset, b.valid.size > 0)
    tables = [prep.table(t, dicts[int(lk["column"])]) for t, lk in enumerate(prep.lookups)]
    lut_off = np.zeros(len(tables) + 1, np.int64)
    lut_off[1:] = np.cumsum([len(t) for t in tables]) if tables else []
    lut_f = np.concatenate(tables) if tables else np.zeros(0, np.float64)
    lut_b = np.ones(lut_f.size, np.uint8)  # tri-state copies of the "B" tables (NaN → NULL)
    for t, lk in enumerate(prep.lookups):
        if lk["result"] == "B":
            v = lut_f[lut_off[t]:lut_off[t + 1]]
            lut_b[lut_off[t]:lut_off[t + 1]] = np.where((v == 0) | (v == 2), v, 1)
    out_f = np.empty((len(prep.scores), n), np.float64)
    out_seg = np.full((len(prep.segments), n), -1, np.int32)
    kernel.run(prep.code, prep.consts_f, prep.consts_i, prep.n_regs, kernel.buffer_list(datas),
               kernel.buffer_list(valids), meta, lut_f, lut_b, lut_off, as_of, n, out_f,
               out_seg, chunk_rows=chunk_rows, threads=threads)
    cols = []
    for row in out_f:
        nulls = np.isnan(row)
        cols.append(pa.array(row, mask=nulls) if nulls.any() else pa.array(row))
    for row, labels in zip(out_seg, prep.label_arrays):
        nulls = row < 0
        idx = pa.array(row, mask=nulls) if nulls.any() else pa.array(row)
        cols.append(pa.DictionaryArray.from_arrays(idx, labels))
    cols.extend(batch.column(i) for i in keep_idx)
    return pa.RecordBatch.from_arrays(cols, schema=out_schema)


def _default_threads() -> int:
    from leadscore_fast.vm import kernel  # noqa: F401  (sets up numba's cache dir first)
    import numba

    return int(numba.config.NUMBA_NUM_THREADS)


def score(model, data, *, keep=None, as_of=None, threads=None, chunk_rows=4096, stream=False):
    """Score ``data`` with ``model``.

    model: a Model, a path to a YAML model, a dict in the YAML layout, or a compiled Program.
    data: pyarrow Table / RecordBatch / RecordBatchReader, pandas DataFrame, or any object with
    ``__arrow_c_stream__`` (polars, duckdb relations, ...).
    keep: input column name(s) to carry into the output after the scores and segments.
    as_of: datetime/date/ISO string for days_since; default the model's as_of, else now (UTC).
    Returns a pyarrow Table (a RecordBatchReader with ``stream=True``): one float64 column per
    score, one dictionary<int32, string> column per segmentation, then the ``keep`` columns.
    """
    if chunk_rows is None or int(chunk_rows) < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    schema, batches = _as_batches(data)
    program = _compile(model, schema)
    prep = _prepare(program)
    as_of_us = resolve_as_of(as_of, program)
    threads = _default_threads() if threads is None else max(1, int(threads))
    chunk_rows = int(chunk_rows)

    col_idx = [_column_index(schema, spec["name"]) for spec in prep.columns]
    if keep is None:
        keep = []
    elif isinstance(keep, (str, os.PathLike)):
        keep = [str(keep)]
    keep = list(keep)
    keep_idx = []
    for name in keep:
        i = schema.get_field_index(name)
        if i < 0:
            raise _errors().SchemaError(
                f"keep: unknown column {name!r}{_suggest(name, schema.names)}")
        keep_idx.append(i)
    fields = [pa.field(s, pa.float64()) for s in prep.scores]
    fields += [pa.field(s["name"], pa.dictionary(pa.int32(), pa.string())) for s in prep.segments]
    fields += [schema.field(i) for i in keep_idx]
    out_schema = pa.schema(fields)

    def run():
        for batch in batches:
            yield _run_batch(prep, batch, col_idx, keep_idx, out_schema, as_of_us, threads,
                             chunk_rows)

    if stream:
        return pa.RecordBatchReader.from_batches(out_schema, run())
    return pa.Table.from_batches(list(run()), schema=out_schema)
