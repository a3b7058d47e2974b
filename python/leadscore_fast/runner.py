"""``run()``: execute a compiled Program over Arrow data and collect scores, segments and the
answers of its threshold queries (ARCHITECTURE §6). ``score()`` is built on it.

Data of any accepted shape becomes a Source once (sources/), read with only the columns the
program needs; each batch is bound column by column (vm/columns.py), lookup tables are built
from the batch's dictionaries (cached while the dictionary stays equal), and the kernel writes
the scores, segment codes and masks into preallocated arrays (or, with ``materialize=False``,
scores and codes into per-worker chunk scratch) and the per-block query state (accumulators,
top-k heaps) that this module sums and merges.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from leadscore_fast.arrays import strings
from leadscore_fast.as_of import resolve_as_of
from leadscore_fast.pipeline import prefetch
from leadscore_fast.schema import is_string
from leadscore_fast.sources import check_column, open_source
from leadscore_fast.vm import opcodes as _op
from leadscore_fast.vm.columns import (
    EMPTY, INT_PTYPES, NUMERIC_PTYPES, PT_I32, PT_NULL, PT_U64, PTYPE_NAMES, TIME_PTYPES, bind_array,
    check_int64,
    encode_strings,
)
from leadscore_fast.vm.keys import KeyCodes, key_codes

__all__ = ["run", "RunResult"]

# Which physical types each column-reading opcode accepts (anything else is a SchemaError,
# raised here because the kernel does no type checks).
_ACCEPTS = {
    _op.LOAD_F: NUMERIC_PTYPES | {PT_NULL},
    _op.LOAD_I: INT_PTYPES | {PT_NULL},
    _op.LOAD_B: NUMERIC_PTYPES | {PT_NULL},
    _op.LOAD_DAYS: TIME_PTYPES | {PT_NULL},
    _op.LOAD_US: TIME_PTYPES | {PT_NULL},
}


# Rows per chunk: every instruction loops over this many rows. 8192 measured 3-6 % faster than
# 4096 on the reference model (2 cores, 10M rows); the registers (~0.6 MB) still fit in L2.
DEFAULT_CHUNK_ROWS = 8192
# Batches started ahead of the one whose output is being taken (see Session.batches).
BATCHES_AHEAD = 1
# Dictionaries up to this size give LOOKUP_RULE_K a float points table (64 KiB, cache
# resident); over bigger ones a gather into it missed the cache: 2x slower than the uint8
# tri-state table on ~100k distinct values.
POINTS_TABLE_MAX = 8192


def _errors():
    from leadscore_fast import errors  # lazy: needs the Rust extension

    return errors


_COMPILED: OrderedDict = OrderedDict()  # (model JSON, schema JSON) -> Program, most recent last


def compile_cached(model, schema):
    """The Program for ``model`` over ``schema``. Programs are kept by the model's and the
    schema's content (the last 16), so scoring one model batch after batch, or call after call,
    compiles it once and keeps its prepared state (lookup tables over unchanged dictionaries)."""
    from leadscore_fast.compiled import CompiledModel

    if isinstance(model, CompiledModel):
        return model.program
    if hasattr(model, "code"):  # already a Program
        return model
    from leadscore_fast.compiler import schema_json, as_model
    from leadscore_fast.compiler import compile_program as compile_model

    key = (as_model(model).to_engine_json(), schema_json(schema))
    program = _COMPILED.get(key)
    if program is None:
        program = _COMPILED[key] = compile_model(model, schema)
        while len(_COMPILED) > 16:
            _COMPILED.popitem(last=False)
    _COMPILED.move_to_end(key)
    return program


def default_threads() -> int:
    from leadscore_fast.vm import pool

    return pool.default_threads()


# -- per-Program state -----------------------------------------------------------------------
class Prepared:
    """What one Program needs across batches: decoded+checked code, the lookup cache and the
    layout of its query outputs."""

    def __init__(self, program):
        from leadscore_fast.vm.check import check_program

        self.program = program
        self.code = np.array(check_program(program), dtype=np.int64, order="C")  # a copy
        self.consts_f = np.asarray(program.consts_f, dtype=np.float64).reshape(-1)
        self.consts_i = np.asarray(program.consts_i, dtype=np.int64).reshape(-1)
        self.n_regs = tuple(int(x) for x in program.n_regs)
        self.columns = list(program.columns)
        self.lookups = list(program.lookups)
        # Multi-column lookup keys (vm/keys.py): key k is column len(columns) + k.
        self.keys = [list(k) for k in getattr(program, "keys", None) or []]
        self.scores = list(program.scores)
        self.segments = list(program.segments)
        self.label_arrays = [strings(list(s["labels"])) for s in self.segments]
        self.uses: dict[int, set[int]] = {}  # column → opcodes that read it
        for insn in self.code:
            kinds = _op.OPCODES[int(insn[0])][1]
            if "col" in kinds:
                self.uses.setdefault(int(insn[1 + kinds.index("col")]), set()).add(int(insn[0]))
        self.lut_cache: list = [None] * len(self.lookups)  # per table: (dictionary, values)
        # Each LOOKUP_RULE_K gets a float table of its points (k where its tri-state table is
        # TRUE, else 0.0; the NULL entry 0.0), laid out per batch after the lookup tables, for
        # the kernel to add points[code] (see kernel.lookup_rule_k). Its unused last operand
        # becomes 1 + that table's index; the table is empty for big dictionaries.
        self.points: list = []  # per such instruction: [tri-state table, kF, cache]
        for pc in np.flatnonzero(self.code[:, 0] == _op.LOOKUP_RULE_K):
            self.points.append([int(self.code[pc, 3]), int(self.code[pc, 4]), None])
            self.code[pc, 5] = len(self.lookups) + len(self.points)
        # queries (validated by check_program): accumulator slots, mask rows, top-k tables
        self.queries = [dict(q) for q in getattr(program, "queries", None) or []]
        by = {kind: [q for q in self.queries if q["kind"] == kind]
              for kind in ("count", "hist", "mask", "topk")}
        self.n_slots = max((int(q["slot"]) + int(q["size"]) for q in by["count"] + by["hist"]),
                           default=0)
        self.n_masks = max((int(q["index"]) + 1 for q in by["mask"]), default=0)
        topks = sorted(by["topk"], key=lambda q: int(q["index"]))
        self.tk_meta = np.zeros((len(topks), 3), np.int64)  # first group row, groups, k
        g0 = 0
        for t, q in enumerate(topks):
            self.tk_meta[t] = (g0, int(q["groups"]), int(q["k"]))
            g0 += int(q["groups"])

    def table(self, t: int, dictionary: pa.Array | None) -> np.ndarray:
        """Table t over ``dictionary`` (+ the NULL entry): float64 values, or for a "B" lookup
        the uint8 tri-state the kernel reads (0 FALSE, 1 NULL, 2 TRUE)."""
        if isinstance(dictionary, KeyCodes):
            return self.key_table(t, dictionary)
        if dictionary is None:  # column not dictionary-coded: no instruction can use table t
            return np.ones(1, np.uint8) if self.lookups[t]["result"] == "B" else np.full(1, np.nan)
        cached = self.lut_cache[t]
        if cached is not None and (cached[0] is dictionary or cached[0].equals(dictionary)):
            return cached[1]
        # Every table over this column is filled from one conversion of the dictionary.
        column = self.lookups[t]["column"]
        tables = [u for u, lk in enumerate(self.lookups) if lk["column"] == column]
        if hasattr(self.program, "eval_lookups_arrow") and is_string(dictionary.type):
            values_arr = dictionary
            if pa.types.is_string_view(values_arr.type):
                values_arr = values_arr.cast(pa.string())
            # Read in place through the Arrow C data interface: no Python strings.
            raw = self.program.eval_lookups_arrow(tables, values_arr)
        elif hasattr(self.program, "eval_lookups"):
            raw = self.program.eval_lookups(tables, dictionary.to_pylist())
        else:  # duck-typed programs (tests) may only have the one-table form
            values_list = dictionary.to_pylist()
            raw = [np.asarray(self.program.eval_lookup(u, values_list), np.float64) for u in tables]
        for u, buf in zip(tables, raw):
            values = np.frombuffer(buf, np.float64)
            if values.shape != (len(dictionary) + 1,):
                raise _errors().ProgramError(
                    f"eval_lookups({u}) returned {values.size} values for a dictionary of "
                    f"{len(dictionary)} (expected {len(dictionary) + 1})")
            if self.lookups[u]["result"] == "B":  # anything but 0.0 / 2.0 reads as NULL
                values = np.where((values == 0) | (values == 2), values, 1).astype(np.uint8)
            self.lut_cache[u] = (dictionary, values)
            if u == t:  # this batch's table, whatever another thread puts in the cache
                mine = values
        return mine


    def key_table(self, t: int, key: KeyCodes) -> np.ndarray:
        """Table t over a key bound for this batch (vm/keys.py). Dense tables depend only on
        the parts' dictionaries and are cached while those stay equal; a distinct-tuples
        table is the batch's own."""
        # cached[0]: ("dense", the parts' dictionaries) or ("distinct", the batch's KeyCodes)
        cached = self.lut_cache[t]
        if cached is not None and cached[0][0] == "distinct" and cached[0][1] is key:
            return cached[1]  # filled with another table over this key, this batch
        if (key.combos is None and cached is not None and cached[0][0] == "dense"
                and len(cached[0][1]) == len(key.parts)
                and all((a is None) == (b is None) and (a is None or a is b or a.equals(b))
                        for a, b in zip(cached[0][1], key.parts))):
            return cached[1]
        column = self.lookups[t]["column"]
        k = column - len(self.columns)
        tables = [u for u, lk in enumerate(self.lookups) if lk["column"] == column]
        parts = [None if d is None else d.to_pylist() for d in key.parts]
        combos = None if key.combos is None else key.combos.astype("<i8").tobytes()
        raw = self.program.eval_key_lookups(k, tables, parts, combos)
        for u, buf in zip(tables, raw):
            values = np.frombuffer(buf, np.float64)
            if self.lookups[u]["result"] == "B":  # anything but 0.0 / 2.0 reads as NULL
                values = np.where((values == 0) | (values == 2), values, 1).astype(np.uint8)
            self.lut_cache[u] = (("dense", key.parts) if key.combos is None else ("distinct", key),
                                 values)
            if u == t:
                mine = values
        return mine

    def points_table(self, j: int, tri: np.ndarray) -> np.ndarray:
        """Points table j (see ``points``) over tri-state table ``tri``; empty past
        POINTS_TABLE_MAX entries."""
        entry = self.points[j]
        cached = entry[2]  # read once: another thread may replace it
        if cached is not None and cached[0] is tri:
            return cached[1]
        points = (np.where(tri == 2, self.consts_f[entry[1]], 0.0)
                  if tri.size <= POINTS_TABLE_MAX else np.empty(0))
        entry[2] = (tri, points)
        return points


_PREPARED: OrderedDict = OrderedDict()  # id(program) → Prepared (holds the program alive)


def _prepare(program) -> Prepared:
    key = id(program)
    prep = _PREPARED.get(key)
    if prep is None or prep.program is not program:
        prep = Prepared(program)
        _PREPARED[key] = prep
        while len(_PREPARED) > 16:
            _PREPARED.popitem(last=False)
    _PREPARED.move_to_end(key)
    return prep


# -- one batch -------------------------------------------------------------------------------
@dataclass
class _BatchOut:
    """The kernel's raw output for one batch."""
    batch: pa.RecordBatch
    out_f: np.ndarray   # float64[n_scores, n] (0 wide when not materialised)
    out_seg: np.ndarray  # int32[n_segs, n], -1 = NULL
    acc: np.ndarray     # int64[n_slots], summed over blocks
    masks: np.ndarray   # uint8[n_masks, n]
    tk_val: np.ndarray  # float64[blocks, total_groups, kmax], NaN = empty: the pass's heaps,
    tk_row: np.ndarray  # int64[...], global rows, -1 = empty     carried over all batches so far
    nulls: np.ndarray   # int64[n_scores + n_segs]: NULLs written per score, then per segment


def arrow_empty(shape, dtype) -> np.ndarray:
    """An uninitialised array in Arrow's memory pool (64-byte aligned). Its allocator keeps
    freed pages mapped, so scoring again does not pay the kernel's page faults and zeroing
    for every output byte, as fresh numpy memory does (measured 2x on 240 MB)."""
    count = int(np.prod(shape))
    buf = pa.allocate_buffer(max(count * np.dtype(dtype).itemsize, 1))
    return np.frombuffer(buf, dtype, count=count).reshape(shape)


class _Bound(NamedTuple):
    """One batch's columns as the kernels read them (see executor.start)."""
    datas: list
    valids: list
    meta: np.ndarray
    lut_f: np.ndarray
    lut_b: np.ndarray
    lut_off: np.ndarray


def bind_batch(prep: Prepared, batch: pa.RecordBatch, col_idx) -> _Bound:
    """Bind the batch's columns (plain strings dictionary-encoded) and fill the lookup tables."""
    datas, valids, dicts, bound = [], [], [], []
    meta = np.zeros((len(prep.columns) + len(prep.keys), 3), np.int64)
    arrays = [batch.column(col_idx[c]) for c in range(len(prep.columns))]
    # Plain string columns are dictionary-encoded per batch, all at once (big ones on threads).
    plain = [c for c, spec in enumerate(prep.columns)
             if spec.get("kind") != "has_any" and is_string(arrays[c].type)]
    for c, enc in zip(plain, encode_strings([arrays[c] for c in plain])):
        arrays[c] = enc
    for c, spec in enumerate(prep.columns):
        has_any = spec.get("has_any") if spec.get("kind") == "has_any" else None
        try:
            b = bind_array(arrays[c], has_any)
            if b.ptype == PT_U64 and _op.LOAD_I in prep.uses.get(c, ()):
                check_int64(arrays[c])
        except TypeError as e:
            raise _errors().SchemaError(f"column {spec['name']!r}: {e}") from None
        except ValueError as e:
            raise _errors().DataError(f"column {spec['name']!r} {e}") from None
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
        bound.append(b)
        meta[c] = (b.ptype, b.offset, b.valid.size > 0)
    for k, cols in enumerate(prep.keys):  # multi-column keys: int32 codes, no NULL rows
        specs = [prep.columns[c] for c in cols]
        try:
            key = key_codes([bound[c] for c in cols], [s.get("kind") == "bool" for s in specs],
                            [s["name"] for s in specs], batch.num_rows)
        except TypeError as e:
            raise _errors().SchemaError(str(e)) from None
        data = key.codes.view(np.uint8)
        data.setflags(write=False)
        datas.append(data)
        valids.append(EMPTY)
        dicts.append(key)
        meta[len(prep.columns) + k] = (PT_I32, 0, False)
    tables = [prep.table(t, dicts[int(lk["column"])]) for t, lk in enumerate(prep.lookups)]
    tables += [prep.points_table(j, tables[t]) for j, (t, _k, _c) in enumerate(prep.points)]
    lut_off = np.zeros(len(tables) + 1, np.int64)
    lut_off[1:] = np.cumsum([len(t) for t in tables]) if tables else []
    # One layout (lut_off) for both flat arrays: "B" tables fill lut_b, the others lut_f.
    lut_f = np.empty(int(lut_off[-1]), np.float64)
    lut_b = np.empty(int(lut_off[-1]), np.uint8)
    for t, values in enumerate(tables):
        (lut_b if values.dtype == np.uint8 else lut_f)[lut_off[t]:lut_off[t + 1]] = values
    return _Bound(datas, valids, meta, lut_f, lut_b, lut_off)


def start_batch(prep: Prepared, batch: pa.RecordBatch, col_idx, as_of, threads, chunk_rows,
                 materialize, row_base, tk_state, executor="auto"):
    """Bind the batch's columns and start the kernel on it; returns a function that waits for
    the kernel and gives the :class:`_BatchOut`."""
    from leadscore_fast.vm import executor as executors, pool

    n = batch.num_rows
    datas, valids, meta, lut_f, lut_b, lut_off = bind_batch(prep, batch, col_idx)
    width = n if materialize else 0
    out_f = arrow_empty((len(prep.scores), width), np.float64)
    out_seg = arrow_empty((len(prep.segments), width), np.int32)  # the kernel fills -1 first
    masks = arrow_empty((prep.n_masks, n), np.uint8)
    nulls = np.zeros(len(prep.scores) + len(prep.segments), np.int64)
    pending = executors.start(
        prep.code, prep.consts_f, prep.consts_i, prep.n_regs, pool.buffer_list(datas),
        pool.buffer_list(valids), meta, lut_f, lut_b, lut_off, as_of, n, out_f, out_seg,
        chunk_rows=chunk_rows, threads=threads, materialize=materialize, row_base=row_base,
        n_slots=prep.n_slots, masks=masks, tk_meta=prep.tk_meta, tk_val=tk_state[0],
        tk_row=tk_state[1], nulls=nulls, executor=executor)

    def finish() -> _BatchOut:
        acc, tk_val, tk_row = pending.result()
        return _BatchOut(batch, out_f, out_seg, acc.sum(axis=0), masks, tk_val, tk_row, nulls)
    return finish


class Session:
    """One pass over ``data``: its Source (sources/), the Program and the run settings, shared
    by ``run()`` and ``score()``. The source is asked for the columns the program reads and
    the ``keep`` columns only, in that order. ``bind_only``: the caller reads the program's
    columns only through the engine (not from the batches), so a reader may hand their
    strings dictionary-encoded (Source.batches' ``as_dictionary``); ``keep`` columns stay as
    they are."""

    def __init__(self, model, data, *, as_of, threads, chunk_rows, keep=(), executor=None,
                 bind_only=False):
        from leadscore_fast.vm.executor import check_executor

        self.executor = check_executor(executor)
        chunk_rows = DEFAULT_CHUNK_ROWS if chunk_rows is None else chunk_rows
        if int(chunk_rows) < 1:
            raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
        self.source = open_source(data)
        self.schema = self.source.schema
        self.program = compile_cached(model, self.schema)
        self.prep = _prepare(self.program)
        self.as_of_us = resolve_as_of(as_of, self.program)
        self.threads = default_threads() if threads is None else max(1, int(threads))
        self.chunk_rows = int(chunk_rows)
        names = [spec["name"] for spec in self.prep.columns]
        for name in list(names) + list(keep):
            check_column(self.schema, name, self.source.name)
        self.columns = list(dict.fromkeys(names + list(keep)))
        self.col_idx = [self.columns.index(n) for n in names]
        self.keep_idx = [self.columns.index(n) for n in keep]
        self.as_dictionary = [n for n in names if n not in keep] if bind_only else []

    def batches(self, materialize=True):
        """Yield a :class:`_BatchOut` per input batch (lazily: readers are streamed; a source
        that decodes, such as a file, is read on its own thread a batch ahead)."""
        from leadscore_fast.vm import pool

        # One set of top-k heaps for the whole pass: restarting them per batch would re-insert
        # the first k rows of every group in every batch.
        blocks = pool.max_blocks(self.threads, pool.topk_entries(self.prep.tk_meta))
        tk_state = pool.topk_state(self.prep.tk_meta, blocks)
        # The next batch is bound and started before this one's result is taken: the worker
        # threads go straight on to its blocks (no idle tail per batch) while this thread
        # prepares batches and the caller consumes outputs. Not with top-k queries, whose
        # heaps are shared by all batches of the pass.
        ahead = 0 if len(self.prep.tk_meta) else BATCHES_AHEAD
        pending: deque = deque()
        row_base = 0
        inputs = self.source.batches(self.columns, as_dictionary=self.as_dictionary)
        if self.source.decodes:
            inputs = prefetch(inputs, depth=1, name="leadscore-reader")
        for batch in inputs:
            pending.append(start_batch(self.prep, batch, self.col_idx, self.as_of_us,
                                        self.threads, self.chunk_rows, materialize, row_base,
                                        tk_state, self.executor))
            row_base += batch.num_rows
            while len(pending) > ahead:
                yield pending.popleft()()
        while pending:
            yield pending.popleft()()


# -- top-k merging ---------------------------------------------------------------------------
def _best(vals: np.ndarray, rows: np.ndarray, k: int):
    """The k best of the candidates (value desc, row asc), best first; drops empty entries."""
    keep = rows >= 0
    vals, rows = vals[keep], rows[keep]
    order = np.lexsort((rows, -vals))[:k]  # last key is primary
    return vals[order], rows[order]


def _cat(parts, empty_shape, dtype):
    """Concatenate per-batch [rows, n] arrays along n (no copy for a single batch)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate(parts, axis=1) if parts else np.zeros(empty_shape, dtype)


# -- the public runner -----------------------------------------------------------------------
@dataclass
class RunResult:
    """What :func:`run` returns (ARCHITECTURE §6)."""
    n_rows: int = 0
    scores: dict = field(default_factory=dict)    # name → float64 array (materialize=True)
    segments: dict = field(default_factory=dict)  # name → (int32 codes, -1 = NULL; labels)
    counts: dict = field(default_factory=dict)    # count query → int
    hists: dict = field(default_factory=dict)     # hist query → int64 [null, below, bins.., above]
    masks: dict = field(default_factory=dict)     # mask query → bool array
    topk: dict = field(default_factory=dict)      # topk query → per group: int64 rows, best first
    topk_values: dict = field(default_factory=dict)  # topk query → per group: float64 values


def run(program, data, *, as_of=None, threads=None, chunk_rows=None, materialize=True,
        executor=None) -> RunResult:
    """Run ``program`` over ``data`` and answer its queries in the same pass.

    program: a compiled Program (or anything ``score()`` accepts as a model). data: anything
    ``score()`` accepts; multi-batch input is concatenated and row numbers are global.
    materialize=False skips the full-length score/segment outputs (``scores``/``segments``
    stay empty); query answers are the same. executor: "auto" (default), "native",
    "interpreter" or "fused" (see vm/executor.py).
    """
    ses = Session(program, data, as_of=as_of, threads=threads, chunk_rows=chunk_rows,
                   executor=executor, bind_only=True)
    prep = ses.prep
    out_f, out_seg, masks = [], [], []
    acc = np.zeros(prep.n_slots, np.int64)
    n_rows = 0
    b = None
    for b in ses.batches(materialize):
        n_rows += b.batch.num_rows
        if materialize:
            out_f.append(b.out_f)
            out_seg.append(b.out_seg)
        masks.append(b.masks)
        acc += b.acc

    res = RunResult(n_rows=n_rows)
    if materialize:
        f = _cat(out_f, (len(prep.scores), 0), np.float64)
        s = _cat(out_seg, (len(prep.segments), 0), np.int32)
        res.scores = {name: f[i] for i, name in enumerate(prep.scores)}
        res.segments = {seg["name"]: (s[i], list(seg["labels"]))
                        for i, seg in enumerate(prep.segments)}
    mk = _cat(masks, (prep.n_masks, 0), np.uint8)
    for q in prep.queries:
        name, kind = q["name"], q["kind"]
        if kind == "count":
            res.counts[name] = int(acc[int(q["slot"])])
        elif kind == "hist":
            res.hists[name] = acc[int(q["slot"]):int(q["slot"]) + int(q["size"])].copy()
        elif kind == "mask":
            res.masks[name] = mk[int(q["index"])].view(np.bool_)
        elif kind == "topk":  # merge the blocks' heaps
            g0, ng, k = (int(x) for x in prep.tk_meta[int(q["index"])])
            best = [_best(b.tk_val[:, g].ravel(), b.tk_row[:, g].ravel(), k) if b is not None
                    else (np.empty(0), np.empty(0, np.int64)) for g in range(g0, g0 + ng)]
            res.topk_values[name] = [v for v, _ in best]
            res.topk[name] = [r for _, r in best]
    return res


def fused_ir(model, batch: pa.RecordBatch) -> str:
    """The LLVM IR of the fused kernel ``model`` gets for ``batch``'s layout (what
    ``leadscore compile --llvm`` prints); raises ProgramError when the program is not fused
    (it is then interpreted: see README "How it works")."""
    from leadscore_fast.vm import fused

    program = compile_cached(model, batch.schema)
    prep = _prepare(program)
    bound = bind_batch(prep, batch, [check_column(batch.schema, spec["name"])
                                for spec in prep.columns])
    why = None
    if len(prep.tk_meta):
        why = "it has a top-k query"
    elif not fused.fusable(prep.code):
        why = f"it has {len(prep.code)} instructions (at most {fused.MAX_INSTRUCTIONS} fuse)"
    elif fused.table_bytes(prep.code, bound.lut_off) > fused.TABLE_BYTES_MAX:
        why = (f"its lookup tables take {fused.table_bytes(prep.code, bound.lut_off):,} bytes"
               f" (at most {fused.TABLE_BYTES_MAX:,})")
    if why:
        raise _errors().ProgramError(f"model {getattr(model, 'name', '')!r} is interpreted, "
                                     f"not fused: {why}")
    outs = fused.Outputs(len(prep.scores), len(prep.segments), prep.n_slots, prep.n_masks, True)
    lay = fused.layout(prep.code, bound.meta, bound.lut_off)
    try:
        return fused.ir_text(prep.code, prep.consts_f, prep.consts_i, outs, lay)
    except fused.NotFusable as e:
        raise _errors().ProgramError(f"not fused: {e}") from None

