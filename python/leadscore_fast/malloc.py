"""glibc's malloc set up for a bulk job (``leadscore score``): freed blocks stay in the heap
for the next row group instead of going back to the kernel, which zeroes fresh pages for each
one. The Parquet writer's buffers (arrow-rs, glibc malloc) are allocated and freed once per
column chunk; with glibc's defaults a 10M-row Parquet → Parquet run took about 115,000 page
faults, with these about 55,000. And one arena per 8 cores: glibc gives each new thread an
arena of its own (up to 8 per core), each keeping its own freed blocks, so a run's peak RSS
grew with the threads it had started, that is with the file's row groups; the bulk threads make
few and large allocations, and sharing an arena's lock cost no measurable time (2 cores).
Process-wide, so only the command sets it, not the library. Linux with glibc only; elsewhere nothing."""
from __future__ import annotations

import os

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8
CORES_PER_ARENA = 8
MMAP_THRESHOLD = 32 << 20   # blocks above this are mmap'ed (32 MiB: mallopt's 64-bit maximum)
TRIM_THRESHOLD = 256 << 20  # free memory kept at the top of the heap before it is returned


def keep_freed_memory() -> bool:
    """Raise glibc's mmap and trim thresholds and cap its arenas; whether it did."""
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (AttributeError, ValueError, OSError):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    arenas = max(1, -(-(os.cpu_count() or 1) // CORES_PER_ARENA))
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
                and mallopt(M_ARENA_MAX, arenas))
