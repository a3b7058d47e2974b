"""How many threads and blocks a batch runs on: the settings every executor shares, with
no numpy or numba here (a process that scores a file in Rust alone imports neither)."""
from __future__ import annotations

import os

__all__ = ["default_threads", "workers", "max_blocks", "BLOCKS_PER_THREAD", "TOPK_ENTRIES_MAX"]


def default_threads() -> int:
    """Worker threads when none are asked for, and the most there are: ``NUMBA_NUM_THREADS``
    if set (numba's own setting), else every core this process may use: numba's default,
    read without importing numba."""
    try:
        return max(1, int(os.environ["NUMBA_NUM_THREADS"]))
    except (KeyError, ValueError):
        pass
    try:  # the cores this process may run on, as numba counts them
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def workers(threads) -> int:
    return max(1, min(int(threads), default_threads()))


# With several threads a batch is cut into this many blocks per thread, handed out one at a
# time: a thread slowed down by other work on the machine does fewer blocks instead of holding
# up the whole batch (with one block per thread the slowest thread set the pace: on this
# shared 2-core machine 8 blocks per thread measured a 25 % lower median on 10M rows).
BLOCKS_PER_THREAD = 8

# Every block keeps its own top-k heaps: past this many heap entries in all (groups x k over
# the queries, times the blocks) a program gets one block per thread, so that a top_k of a
# million rows does not hold 16 copies of its heaps.
TOPK_ENTRIES_MAX = 1 << 20


def max_blocks(threads, topk_entries=0) -> int:
    """The most worker blocks a batch uses with ``threads`` for a program whose top-k heaps
    have ``topk_entries`` entries (size top-k state for this)."""
    n = workers(threads)
    if n == 1:
        return 1
    per = BLOCKS_PER_THREAD if topk_entries * n * BLOCKS_PER_THREAD <= TOPK_ENTRIES_MAX else 1
    return n * per
