"""Where a batch runs. Three executors run the same bytecode to the same bits:

- ``native``: the Rust interpreter in the engine (``engine/src/exec/``, ``_engine.run_native``):
  nothing to compile at run time, the GIL released, threads for big batches;
- ``fused``: a fused kernel (vm/fused.py), machine code per program, compiled by LLVM once the
  program is hot (or loaded from the disk cache);
- ``interpreter``: the numba bytecode interpreter (vm/kernel.py), imported only when a batch
  runs on it: a process whose batches run native or fused never loads numba.

``auto`` (see :func:`choose`) runs small batches native, and bulk batches fused when a kernel
is at hand, else native while the interpreter is not loaded (no JIT warm-up), else interpreted.

``start(...)`` starts a batch and returns a :class:`pool.Pending`; ``run(...)`` waits for it.
"""
from __future__ import annotations

import os
import sys

import numpy as np

from leadscore_fast.vm import fused as _fused
from leadscore_fast.vm import pool
from leadscore_fast.vm.pool import Pending

_NO_TOPK = np.zeros((0, 3), np.int64)

EXECUTORS = ("auto", "native", "interpreter", "fused")
# auto: batches below this many rows run native whatever else is at hand: about where a fused
# kernel (its call, the pool hand-off, then a faster loop) overtakes it on the reference model.
NATIVE_MAX_ROWS = 1 << 15


def check_executor(executor) -> str:
    """``executor`` as one of EXECUTORS; None is ``$LEADSCORE_EXECUTOR``, else "auto".
    ValueError for anything else."""
    if executor is None:
        executor = os.environ.get("LEADSCORE_EXECUTOR") or "auto"
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(map(repr, EXECUTORS))}, "
                         f"got {executor!r}")
    return executor


def _engine():
    try:
        from leadscore_fast import _engine
    except ImportError:  # the VM also runs without the Rust extension (tests)
        return None
    return _engine if hasattr(_engine, "run_native") else None


def native_unsupported(code) -> str | None:
    """Why the native executor cannot run ``code`` (int64[n, INSN_WIDTH]), or None."""
    eng = _engine()
    if eng is None:
        return "the Rust extension has no native executor"
    return eng.native_unsupported(np.ascontiguousarray(code, np.int64))


def start(code, consts_f, consts_i, n_regs, datas, valids, meta, lut_f, lut_b, lut_off, as_of,
          n, out_f, out_seg, *, chunk_rows=8192, threads=1, materialize=True, row_base=0,
          n_slots=0, masks=None, tk_meta=None, tk_val=None, tk_row=None, nulls=None, full=None,
          fused=None, executor=None) -> Pending:
    """Pick the executor and the block count, allocate per-block query state, start the
    batch; ``.result()`` on the returned Pending waits for it (see :func:`run`). Batches
    started before the previous one's result run back to back on the worker threads (a
    native batch runs within this call, on threads of its own, and its Pending is done).

    ``datas``/``valids``: :class:`pool.Buffers` from :func:`pool.buffer_list`; ``meta``:
    int64[n_cols, 3] (ptype, offset, has_validity); ``lut_*``: flat lookup tables, table t at
    ``lut_off[t]:lut_off[t+1]``; ``out_f`` float64[n_scores, n] / ``out_seg`` int32[n_segs, n]
    (the kernel fills the codes), or [n_scores, 0] / [n_segs, 0] with ``materialize=False``.
    Queries: ``n_slots`` accumulators, ``masks`` uint8[n_masks, n] (written), ``tk_meta``
    int64[n_topk, 3] (first group row, groups, k); ``row_base`` = global row of row 0;
    ``tk_val``/``tk_row``: top-k heaps from :func:`pool.topk_state` (updated in place; default
    fresh ones; batches sharing them must not be in flight together). ``result()`` returns
    ``(acc int64[nb, n_slots], tk_val, tk_row)`` with nb worker blocks; top-k entries are
    unordered, empty ones are (NaN, -1). ``nulls`` (int64[n_scores + n_segs], optional)
    receives the number of NULL values written per score, then per segmentation (segments
    only counted with ``materialize``; scores stored with NULL-to-zero count 0). ``full``:
    interpret with run_block_full even when the program is core-only (default: only when it
    needs it, see kernel.CORE_OPCODES). ``fused``: None (default) runs a fused kernel when the
    program and batch allow one and fused kernels are enabled; False always interprets;
    ``full`` forces the interpreter too. ``executor``: one of EXECUTORS (default "auto",
    or "interpreter" when ``full`` or ``fused=False`` is given); "fused" runs a fused kernel
    wherever the program and batch allow one, compiling it now if need be, and interprets the
    rest; "native" raises ProgramError for a program the native executor cannot run.
    """
    executor = check_executor(executor)
    if full is not None or fused is False:
        executor = "interpreter"
    if full is not None:
        fused = False
    chunk = max(1, int(chunk_rows))
    n_workers = pool.workers(threads)
    tk_meta = _NO_TOPK if tk_meta is None else np.ascontiguousarray(tk_meta, np.int64)
    nblocks = min(pool.max_blocks(threads, pool.topk_entries(tk_meta)), (n + chunk - 1) // chunk)
    if tk_val is None or tk_row is None:
        tk_val, tk_row = pool.topk_state(tk_meta, max(nblocks, 1))
    if tk_val.shape[0] < nblocks:
        raise ValueError(f"top-k state for {tk_val.shape[0]} blocks, need {nblocks}")
    # Each block's accumulator row: the query slots, then NULL counts per score and segment.
    n_slots = int(n_slots)
    acc = np.zeros((nblocks, n_slots + out_f.shape[0] + out_seg.shape[0]), np.int64)
    if masks is None:
        masks = np.zeros((0, n), np.uint8)
    batch = None

    def fused_kernel(force, native):
        if tk_meta.shape[0]:
            return None
        outs = _fused.Outputs(int(out_f.shape[0]), int(out_seg.shape[0]), n_slots,
                              int(masks.shape[0]), bool(materialize))
        return fused_kernel_for(code, consts_f, consts_i, outs, meta, lut_off, n, force=force,
                                native=native)

    ran, fk = choose(executor, code, n, fused_kernel) if n > 0 else ("native", None)
    _fused.ROWS_RUN[ran] += int(n)
    if ran == "native":
        if n > 0:
            _run_native(code, consts_f, consts_i, n_regs, datas, valids, meta, lut_f, lut_b,
                        lut_off, as_of, n, chunk, nblocks, out_f, out_seg, materialize,
                        row_base, acc, masks, tk_meta, tk_val, tk_row, n_workers)
    elif fk is not None:
        fchunk = min(chunk, _fused.CHUNK)
        args = fk.args(datas.where, valids.where, meta, lut_b, lut_f, lut_off, as_of, n,
                       out_f, out_seg, fchunk, masks)
        # the kernel reads these through raw addresses: the batch holds them alive
        keep = (lut_f, lut_b, out_f, out_seg, masks, datas, valids)
        batch = FusedBatch(fk, args, keep, n, fchunk, nblocks, acc)
        pool.launch(batch, n_workers)
    elif n > 0:
        from leadscore_fast.vm import kernel

        n_f, n_i, n_b = (int(x) for x in n_regs)
        batch = kernel.start_batch(
            code, consts_f, consts_i, n_f, n_i, n_b, datas.where, valids.where, meta, lut_f,
            lut_b, lut_off, np.int64(as_of), np.int64(n), np.int64(chunk), np.int64(nblocks),
            out_f, out_seg, bool(materialize), np.int64(row_base), acc, masks, tk_meta, tk_val,
            tk_row, workers=n_workers,
            full=kernel.needs_full(code, meta) if full is None else bool(full))
    # datas/valids (the column buffers) stay referenced, alive, until the result is taken
    return Pending(batch, (datas, valids), acc, n_slots, tk_val, tk_row, nulls)


def run(*args, **kwargs):
    """Run the program over n rows and wait: ``start(...).result()``, same arguments."""
    return start(*args, **kwargs).result()


def choose(executor, code, n, fused_kernel):
    """Which executor runs an ``n``-row batch of ``code``: ("native" | "fused" |
    "interpreted", the fused kernel or None). ``fused_kernel(force, native)`` gives the
    program's kernel for this batch if it has one at hand (or compiles it, with ``force``)."""
    if executor == "native":
        return "native", None
    native = executor == "auto" and _engine() is not None and native_unsupported(code) is None
    # LEADSCORE_FUSE_AFTER_ROWS=0 asks for fused kernels from the first row, small batches too
    if native and n < NATIVE_MAX_ROWS and not (_fused.enabled() and _fused.fuse_after_rows() == 0):
        return "native", None
    if executor != "interpreter":
        # with the native executor at hand no first batch waits for a compile
        fk = fused_kernel(executor == "fused", native)
        if fk is not None:
            return "fused", fk
    if native and not interpreter_loaded():  # no JIT warm-up while native can run it
        return "native", None
    return "interpreted", None


def interpreter_loaded() -> bool:
    """Whether this process has the interpreter compiled or loaded from numba's cache (then
    a fresh program need not compile a fused kernel before its first batch)."""
    kernel = sys.modules.get("leadscore_fast.vm.kernel")
    return kernel is not None and bool(kernel.run_block_core.signatures
                                       or kernel.run_block_full.signatures)


def fused_kernel_for(code, consts_f, consts_i, outs, meta, lut_off, rows, *, force=False,
                     native=False):
    """The fused kernel writing ``outs`` for this program and batch layout, or None: fused
    kernels off, a program or batch they do not cover (see vm/fused.py), or not hot yet.
    ``force`` and ``native``: as :func:`_fused_kernel`'s."""
    if not (force or _fused.enabled()) or not _fused.fusable(code) \
            or _fused.table_bytes(code, lut_off) > _fused.TABLE_BYTES_MAX:
        return None
    return _fused_kernel(code, consts_f, consts_i, outs, _fused.layout(code, meta, lut_off),
                         len(lut_off) - 1, rows, force=force, native=native)


def _fused_kernel(code, consts_f, consts_i, outs, lay, n_tabs, rows, force=False, native=False):
    """The fused kernel for this program and layout, or None: not hot yet, or outside what
    the generator covers (the program is interpreted then). ``force``: compile it now if
    need be. ``native``: the native executor runs the batches before it is ready, so a first
    program need not wait for its compile."""
    try:
        return _fused.kernel(code, consts_f, consts_i, outs, lay, n_tabs, rows,
                             interpreter_loaded=interpreter_loaded() or native, force=force)
    except _fused.NotFusable:
        return None


def _run_native(code, consts_f, consts_i, n_regs, datas, valids, meta, lut_f, lut_b, lut_off,
                as_of, n, chunk, nblocks, out_f, out_seg, materialize, row_base, acc, masks,
                tk_meta, tk_val, tk_row, workers):
    """Run the batch on the native executor, here: its blocks on ``workers`` threads of its
    own, the GIL released. The arguments are kernel.start_batch's."""
    eng = _engine()
    if eng is None:
        from leadscore_fast.errors import ProgramError

        raise ProgramError("executor='native': the Rust extension has no native executor")
    n_f, n_i, n_b = (int(x) for x in n_regs)
    eng.run_native(code, consts_f, consts_i, n_f, n_i, n_b, datas.where, valids.where, meta,
                   lut_f, lut_b, lut_off, int(as_of), int(n), int(chunk), int(nblocks), out_f,
                   out_seg, bool(materialize), int(row_base), acc, masks, tk_meta, tk_val,
                   tk_row, int(workers))


class FusedBatch(pool.Blocks):
    """A batch a fused kernel runs: block b is a run of whole fused chunks, as in run_block."""

    def __init__(self, fk, args, keep, n, chunk, nblocks, acc):
        super().__init__(nblocks)
        self.fk, self.args, self.keep, self.n, self.acc = fk, args, keep, n, acc
        self.chunk = chunk

    def run_block_at(self, blk, scratch_cache):
        size = self.fk.scratch_bytes(self.chunk)
        scratch = scratch_cache.get(("fused", size))
        if scratch is None:
            scratch = scratch_cache[("fused", size)] = np.empty(size, np.uint8)
        chunks = (self.n + self.chunk - 1) // self.chunk
        r0 = min(blk * chunks // self.nblocks * self.chunk, self.n)
        r1 = min((blk + 1) * chunks // self.nblocks * self.chunk, self.n)
        if r1 > r0:
            self.fk.run(self.args, scratch, self.acc[blk], r0, r1)

    def finished(self):
        self.keep = None  # the buffers the kernel read through raw addresses
