"""Running a batch as blocks on persistent worker threads, whichever executor runs the blocks.

A batch in flight is a :class:`Blocks`: ``nblocks`` runs of consecutive chunks that the pool's
threads (or the caller, with one worker) take in submission order, so the blocks of the next
batch start while the last ones of this batch finish. :class:`Pending` is what an executor's
``start`` returns. No numba here: a program that runs fused never loads the interpreter.
"""
from __future__ import annotations

import queue
import threading
from typing import NamedTuple

import numpy as np

from leadscore_fast.vm.threads import (BLOCKS_PER_THREAD, TOPK_ENTRIES_MAX,  # noqa: F401
                                     default_threads, max_blocks, workers)

NAN = np.nan


class Buffers(NamedTuple):
    """Column buffers as the kernels take them: ``where`` int64[n, 2] = (address, bytes) of
    each read-only uint8 buffer; ``arrays`` keeps those alive while the kernel reads them."""
    where: np.ndarray
    arrays: list


def buffer_list(arrays) -> Buffers:
    """The kernels' column buffers (1-D contiguous uint8 arrays). Raw addresses, not a numba
    typed List: building and indexing one compiles several helpers on a cold start."""
    arrays = list(arrays)
    where = np.empty((len(arrays), 2), np.int64)
    for k, a in enumerate(arrays):
        if a.dtype != np.uint8 or a.ndim != 1 or not a.flags.c_contiguous:
            raise TypeError(f"column buffer {k}: expected a contiguous 1-D uint8 array")
        where[k] = a.__array_interface__["data"][0], a.size
    return Buffers(where, arrays)


class Blocks:
    """A batch in flight as ``nblocks`` blocks that pool threads (or the caller) run: counts the
    blocks still to run and keeps the first error, which ``wait()`` re-raises in the caller."""

    def __init__(self, nblocks):
        self.nblocks = self.remaining = int(nblocks)
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.error = None

    def run_one(self, blk, scratch_cache):
        try:
            if self.error is None:
                self.run_block_at(blk, scratch_cache)
        except BaseException as e:  # re-raised by wait(), in the caller's thread
            self.error = e
        finally:
            with self.lock:
                self.remaining -= 1
                if self.remaining == 0:
                    self.done.set()

    def run_block_at(self, blk, scratch_cache):
        raise NotImplementedError

    def finished(self):
        """After the last block, before an error is re-raised."""

    def wait(self):
        self.done.wait()
        self.finished()
        if self.error is not None:
            raise self.error


class _Pool:
    """Persistent worker threads taking (batch, block) pairs in submission order, so no thread
    idles at a batch boundary, and the caller prepares the next batch meanwhile."""

    def __init__(self, n):
        self.queue = queue.SimpleQueue()
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"leadscore-vm-{i}")
                        for i in range(n)]
        for t in self.threads:
            t.start()

    def _work(self):
        cache = {}  # this thread's scratch, reused for every block it runs
        while True:
            batch, blk = self.queue.get()
            batch.run_one(blk, cache)

    def submit(self, batch, nblocks):
        for blk in range(int(nblocks)):
            self.queue.put((batch, blk))


_POOLS: dict = {}
_POOLS_LOCK = threading.Lock()
_CALLER_SCRATCH = threading.local()  # scratch of threads that run their batch themselves


def caller_scratch() -> dict:
    cache = getattr(_CALLER_SCRATCH, "cache", None)
    if cache is None:
        cache = _CALLER_SCRATCH.cache = {}
    return cache


def launch(batch: Blocks, n_workers: int) -> None:
    """Run ``batch``'s blocks: here, with one worker or one block; else on the pool of
    ``n_workers`` threads (``batch.wait()`` for them)."""
    if n_workers == 1 or batch.nblocks == 1:
        cache = caller_scratch()
        for blk in range(batch.nblocks):
            batch.run_one(blk, cache)
        return
    with _POOLS_LOCK:
        pool = _POOLS.get(n_workers)
        if pool is None:
            pool = _POOLS[n_workers] = _Pool(n_workers)
    pool.submit(batch, batch.nblocks)


def topk_entries(tk_meta) -> int:
    """Heap entries one block keeps for the top-k queries described by ``tk_meta``."""
    meta = np.asarray(tk_meta, np.int64).reshape(-1, 3)
    return int((meta[:, 1] * meta[:, 2]).sum())


def topk_state(tk_meta, blocks):
    """Empty top-k heaps for ``blocks`` worker blocks: (float64 NaN, int64 -1) arrays of shape
    [blocks, total_groups, kmax]; pass them to every batch of one pass so heaps carry over
    from batch to batch (block b of each batch updates heaps b)."""
    groups = int((tk_meta[:, 0] + tk_meta[:, 1]).max(initial=0))
    kmax = int(tk_meta[:, 2].max(initial=0))
    return (np.full((blocks, groups, kmax), NAN), np.full((blocks, groups, kmax), -1, np.int64))


class Pending:
    """A started batch: ``result()`` waits for its blocks and returns ``(acc
    int64[nb, n_slots], tk_val, tk_row)``, filling ``nulls`` if given."""

    def __init__(self, batch, keep, acc, n_slots, tk_val, tk_row, nulls):
        self.batch, self.keep, self.acc, self.n_slots = batch, keep, acc, n_slots
        self.tk_val, self.tk_row, self.nulls = tk_val, tk_row, nulls

    def result(self):
        if self.batch is not None:
            self.batch.wait()
            self.batch = self.keep = None
        if self.nulls is not None:
            self.nulls[:] = self.acc[:, self.n_slots:].sum(axis=0)
        return self.acc[:, :self.n_slots], self.tk_val, self.tk_row
