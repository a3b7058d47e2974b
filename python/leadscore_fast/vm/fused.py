"""Fused kernels: when a program runs as one native loop over rows, and running it.

The interpreter (kernel.py) runs each instruction over a chunk of rows, so every value passes
through a chunk-wide register in memory: about 35 passes over 64 KB rows for the reference
model. A fused kernel keeps each row's values in CPU registers from the column loads to the
output stores, and LLVM vectorises the row loop as a whole.

- What fuses: every opcode but TOPK, every column type, programs of up to MAX_INSTRUCTIONS
  whose lookup tables fit TABLE_BYTES_MAX (see there why). Everything else runs in the
  interpreter, which stays the always-available path and the reference a fused kernel must
  match bit for bit (tests/test_vm_fused.py, and the fused cases of tests/test_vm_opcodes.py).
- When: ``kernel()`` (hot programs, the disk cache, a fresh process's first program).
- vm/fused_ir.py generates the IR from the bytecode; vm/native.py compiles it (LLVM -O3, in a
  child process when in the background) and caches the machine code on disk; ``Kernel`` runs
  it over a block of rows (ctypes: the GIL is released).
"""
from __future__ import annotations

import ctypes
import hashlib
import os
import threading
import time
import warnings

import numpy as np

from leadscore_fast.vm import fused_ir
from leadscore_fast.vm import opcodes as O
from leadscore_fast.vm.columns import PT_NULL
from leadscore_fast.vm.fused_ir import (  # noqa: F401  (re-exported: the fused-kernel API)
    HEAD, PER_COL, PER_TAB, SYMBOL, Gen, Layout, NotFusable, Outputs, ir_text,
)

CHUNK = 2048  # rows per chunk at most: the expanded bitmaps (one byte per row) stay in L1
MAX_INSTRUCTIONS = 2500  # bigger programs stay interpreted (LLVM takes ~5 ms per instruction)
UNFUSED_OPCODES = O.UNFUSED_OPCODES  # from the opcode table (its `interp` rows)


class FusedKernelWarning(RuntimeWarning):
    """A fused kernel could not be built; results are unaffected (the interpreter runs the
    program). Tests turn it into an error (pyproject.toml): it means a generator bug."""


def fusable(code) -> bool:
    """Whether the program can fuse: no top-k, and not so big that LLVM takes long."""
    # a set, not np.unique: the first np.unique of a process took ~12 ms, a set ~0.01 ms
    return 0 < len(code) <= MAX_INSTRUCTIONS and not any(
        op in UNFUSED_OPCODES or op not in O.OPCODES for op in set(code[:, 0].tolist()))


# A fused row reads every lookup table of the program; the interpreter reads one table per
# instruction over a whole chunk. Past about half an L2 of tables in all, the fused row's
# lookups miss the cache (string-heavy model, 20 lookups into 100k-value dictionaries:
# 2 MB of tables, 74 ms fused against 61 ms interpreted per 1M rows): interpret those.
TABLE_BYTES_MAX = 512 * 1024


def table_bytes(code, lut_off) -> int:
    """Bytes of the lookup tables a fused row would read (tri-state tables 1 byte per entry,
    points and float tables 8)."""
    sizes = np.diff(np.asarray(lut_off, np.int64))
    total = 0
    for insn in code:
        op = int(insn[0])
        if op == O.LOOKUP_RULE_K and insn[5] > 0 and sizes[insn[5] - 1] > 0:
            total += 8 * int(sizes[insn[5] - 1])
        elif op in (O.LOOKUP_B, O.LOOKUP_RULE_K):
            total += int(sizes[insn[3]])
        elif op in (O.LOOKUP_F, O.LOOKUP_I):
            total += 8 * int(sizes[insn[3]])
    return total


def layout(code, meta, lut_off) -> Layout:
    """The batch's layout: each read column's (ptype, has_valid), and per LOOKUP_RULE_K
    whether its points table is non-empty."""
    read = {int(insn[2]) for insn in code if int(insn[0]) in O.COLUMN_OPCODES}
    columns = tuple((int(meta[c, 0]), bool(meta[c, 2])) if c in read else (PT_NULL, False)
                    for c in range(len(meta)))
    points = tuple(bool(insn[5] > 0 and lut_off[insn[5]] > lut_off[insn[5] - 1])
                   for insn in code if int(insn[0]) == O.LOOKUP_RULE_K)
    return Layout(columns, points)


# --- compiled kernels ----------------------------------------------------------------------
_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64,
                       ctypes.c_int64)


class Kernel:
    """One compiled fused kernel: ``run(args, scratch, nulls, r0, r1)`` computes rows
    [r0, r1) of a batch (GIL released: ctypes calls drop it)."""

    def __init__(self, addr, gen: Gen, n_tabs, cached):
        self.address = int(addr)  # of its entry, for callers outside ctypes (explain_fused)
        self.fn = _FN(addr)
        self.n_cols, self.n_tabs = len(gen.lay.columns), n_tabs
        self.n_bitmaps, self.n_spills = len(gen.bitmaps), len(gen.spills)
        self.from_cache = cached

    def scratch_bytes(self, chunk) -> int:
        """Expanded bitmaps (chunk + 8 bytes each), then stage spills (2 rows of 8 bytes per
        row each: a value, and an int value's valid flag)."""
        return max(self.n_bitmaps, 1) * (chunk + 8) + 2 * self.n_spills * 8 * chunk

    def args(self, datas, valids, meta, lut_b, lut_f, lut_off, as_of, n, out_f, out_seg, chunk,
             masks):
        a = np.zeros(HEAD + PER_COL * self.n_cols + PER_TAB * self.n_tabs, np.int64)
        a[0] = as_of
        a[1] = n
        a[2] = out_f.__array_interface__["data"][0]
        a[3] = out_seg.__array_interface__["data"][0]
        a[4] = chunk
        a[5] = masks.__array_interface__["data"][0]
        cols = a[HEAD:HEAD + PER_COL * self.n_cols].reshape(-1, PER_COL)
        cols[:, 0] = datas[:, 0]
        cols[:, 1] = valids[:, 0]
        cols[:, 2] = meta[:, 1]
        tabs = a[HEAD + PER_COL * self.n_cols:].reshape(-1, PER_TAB)
        off = np.asarray(lut_off[:-1], np.int64)
        tabs[:, 0] = lut_b.__array_interface__["data"][0] + off
        tabs[:, 1] = lut_f.__array_interface__["data"][0] + 8 * off
        tabs[:, 2] = np.diff(lut_off) - 1
        return a

    def run(self, args, scratch, nulls, r0, r1):
        self.fn(args.ctypes.data, scratch.ctypes.data, nulls.ctypes.data, r0, r1)


# Rows run by each path in this process (the CLI's summary says which one scored a file).
ROWS_RUN = {"fused": 0, "interpreted": 0, "native": 0}
_KERNELS: dict = {}  # key → Kernel, this process
_ROWS_SEEN: dict = {}  # key → rows interpreted so far, for programs not fused yet
_NOT_FUSABLE: set = set()  # keys the generator (or LLVM) turned down
_PENDING: dict = {}  # key → its compile in the background (native.Compile or _InThread)
_FAILED: dict = {}  # key → why its background compile failed, until reported
_LOCK = threading.Lock()
FUSE_AFTER_ROWS = 1_000_000


def enabled() -> bool:
    """Fused kernels are on unless ``LEADSCORE_FUSED=0`` (then everything is interpreted)."""
    return os.environ.get("LEADSCORE_FUSED", "1") != "0"


def compile_in_background() -> bool:
    """Hot programs compile in the background (_start_compile) unless
    ``LEADSCORE_FUSE_BACKGROUND=0``
    (then the call that makes a program hot waits for its kernel: deterministic, for tests
    and measurements)."""
    return os.environ.get("LEADSCORE_FUSE_BACKGROUND", "1") != "0"


def fuse_after_rows() -> int:
    """A program is compiled to a fused kernel once it has been asked to score this many rows
    in the process (``LEADSCORE_FUSE_AFTER_ROWS``; default FUSE_AFTER_ROWS): a model scored
    once over a few rows stays interpreted, a hot one compiles (about 0.4 s for the reference
    model) and caches it on disk for every later process. See kernel() for the other cases."""
    try:
        return int(os.environ.get("LEADSCORE_FUSE_AFTER_ROWS", FUSE_AFTER_ROWS))
    except ValueError:
        return FUSE_AFTER_ROWS


FIRST_SYNC_MAX = 300  # instructions: up to here (about 1 s of LLVM) a fresh process's first
# program compiles while it waits; a bigger one starts interpreted and compiles in the background


def kernel(code, consts_f, consts_i, outs: Outputs, lay: Layout, n_tabs, rows,
           interpreter_loaded=True, force=False) -> Kernel | None:
    """The fused kernel for this program and layout, or None while there is none yet.

    From this process, else from the disk cache; else it is compiled once the program is hot
    (see fuse_after_rows): in a child process that caches it (_start_compile), while the
    interpreter runs the batches that come before it is ready; or in this call with
    LEADSCORE_FUSE_BACKGROUND=0. The first program of a fresh process (nothing fused or
    interpreted yet) compiles right away, while the caller waits, when it is small
    (FIRST_SYNC_MAX): about 0.4 s for the reference model, less than loading the interpreter
    from numba's cache and far less than compiling it (about 8 s) on an empty one. Raises
    NotFusable for a program the generator does not cover (and warns once, with
    FusedKernelWarning, if LLVM refused one: a generator bug). ``force``: compile it in this
    call if it is not at hand (``executor="fused"``)."""
    code = np.ascontiguousarray(code, np.int64)
    parts = (code.tobytes(), np.ascontiguousarray(consts_f, np.float64).tobytes(),
             np.ascontiguousarray(consts_i, np.int64).tobytes(),
             repr((outs, lay, n_tabs, fused_ir.STAGE_INSTRUCTIONS)).encode())
    mem_key = hashlib.sha256(b"".join(len(p).to_bytes(8, "little") + p for p in parts)).digest()
    with _LOCK:
        got = _KERNELS.get(mem_key)
        if got is not None:
            return got
        pending = _PENDING.get(mem_key)
    if pending is not None:
        if not pending.done() and not force:
            return None
        if force:
            pending.wait()
        _finish(mem_key, pending)
    elif mem_key in _PENDING:  # another thread is starting its compile
        return None
    with _LOCK:
        got = _KERNELS.get(mem_key)
        if got is not None:
            return got
        failed = _FAILED.pop(mem_key, None)
        if failed is None and mem_key in _NOT_FUSABLE:
            raise NotFusable("known")
        seen = _ROWS_SEEN.get(mem_key, 0) + int(rows)
        _ROWS_SEEN[mem_key] = seen
        if len(_ROWS_SEEN) > 1024:
            _ROWS_SEEN.clear()
        first = not interpreter_loaded and not _KERNELS and not _PENDING
    if failed is not None:
        _warn_not_built(failed)
    from leadscore_fast.vm import native

    try:
        gen = Gen(code, consts_f, consts_i, outs, lay)
        disk_key = native.key(*parts)
        hot = seen >= fuse_after_rows()
        loaded = native.load(disk_key, gen.build, SYMBOL,
                             compile=force or (first and len(code) <= FIRST_SYNC_MAX)
                             or (hot and not compile_in_background()))
    except NotFusable:
        with _LOCK:  # do not generate it again for every batch
            _NOT_FUSABLE.add(mem_key)
        raise
    except Exception as e:  # noqa: BLE001  LLVM refused the module: a generator bug
        with _LOCK:
            _NOT_FUSABLE.add(mem_key)
        _warn_not_built(f"{type(e).__name__}: {e}")
    if loaded is not None:
        return _register(mem_key, Kernel(loaded[0], gen, n_tabs, loaded[1]))
    if hot or first:
        _start_compile(mem_key, disk_key, gen, n_tabs)
    return None


def _warn_not_built(why: str):
    """Report a kernel LLVM refused (at once, or when its background compile is taken) and
    fall back to the interpreter."""
    warnings.warn(f"fused kernel not built ({why}); the interpreter runs this program",
                  FusedKernelWarning, stacklevel=3)
    raise NotFusable(why)


def _register(mem_key, got: Kernel) -> Kernel:
    with _LOCK:
        _KERNELS[mem_key] = got
        _ROWS_SEEN.pop(mem_key, None)
    return got


class _InThread:
    """A compile on a thread of this process: where no child Python can compile (no
    interpreter to run, no cache to write). Not a daemon: a process ending mid-compile waits
    for it rather than tear LLVM down under it."""

    def __init__(self, disk_key, gen):
        self.error_text = None
        self.obj = None  # the machine code, kept here: the cache may not be writable
        self.thread = threading.Thread(target=self._run, args=(disk_key, gen), daemon=False,
                                       name="leadscore-fuse")
        self.thread.start()

    def _run(self, disk_key, gen):
        from leadscore_fast.vm import native

        try:
            self.obj = native.compile_object(gen.build())
            native.store(disk_key, self.obj)
        except NotFusable as e:
            self.error_text = f"NotFusable: {e}"
        except Exception as e:  # noqa: BLE001  reported by the next kernel() call for it
            self.error_text = f"{type(e).__name__}: {e}"

    def done(self) -> bool:
        return not self.thread.is_alive()

    def wait(self, timeout=None) -> bool:
        self.thread.join(timeout)
        return not self.thread.is_alive()

    def error(self) -> str | None:
        return self.error_text


MAX_BACKGROUND_COMPILES = 2  # at once: more hot programs wait (interpreted) for a free one


def _start_compile(mem_key, disk_key, gen, n_tabs):
    """Compile a kernel off the caller's path: in a child process (native.Compile) where one
    can run, else on a thread; kernel() picks it up from the disk cache when it is done. At
    most MAX_BACKGROUND_COMPILES at once (each takes a core): a later call tries again."""
    from leadscore_fast.vm import native

    with _LOCK:
        if mem_key in _PENDING or len(_PENDING) >= MAX_BACKGROUND_COMPILES:
            return
        _PENDING[mem_key] = None  # reserved: a second caller does not start it too
    try:
        if native.can_compile_out_of_process():
            job = native.Compile(disk_key, gen.build())
        else:
            job = _InThread(disk_key, gen)
    except NotFusable:
        with _LOCK:
            _NOT_FUSABLE.add(mem_key)
            del _PENDING[mem_key]
        return
    except BaseException:
        with _LOCK:
            del _PENDING[mem_key]
        raise
    job.disk_key, job.gen, job.n_tabs = disk_key, gen, n_tabs
    with _LOCK:
        _PENDING[mem_key] = job


def _finish(mem_key, job):
    """Take a finished background compile: load its kernel from the disk cache, or keep why
    it failed for kernel() to report (once)."""
    from leadscore_fast.vm import native

    with _LOCK:
        if _PENDING.get(mem_key) is not job:
            return  # another thread took it
        del _PENDING[mem_key]
    why = job.error()
    if why is None:
        try:
            if job.obj is not None:  # compiled on a thread here
                loaded = (native.load_object(job.obj, SYMBOL), False)
            else:  # by a child process, into the cache
                loaded = native.load(job.disk_key, None, SYMBOL, compile=False)
            if loaded is None:
                why = "the compiled kernel is not in the cache"
            else:
                _register(mem_key, Kernel(loaded[0], job.gen, job.n_tabs, loaded[1]))
                return
        except Exception as e:  # noqa: BLE001
            why = f"{type(e).__name__}: {e}"
    with _LOCK:
        _NOT_FUSABLE.add(mem_key)
        if not why.startswith("NotFusable"):  # the generator turned it down: no warning
            _FAILED[mem_key] = why


def wait_for_compiles(timeout: float | None = None) -> bool:
    """Wait until the kernels compiling in the background are ready (benchmarks and tests
    call it to measure or check the steady state); False if ``timeout`` ran out first."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with _LOCK:
        jobs = [(k, j) for k, j in _PENDING.items() if j is not None]
    for mem_key, job in jobs:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        if not job.wait(left):
            return False
        _finish(mem_key, job)
    return True
