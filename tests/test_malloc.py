"""malloc.py: ``keep_freed_memory`` caps glibc's arenas, so that a bulk run's threads share
one heap (per 8 cores) instead of each keeping freed blocks in an arena of its own. Checked in
a fresh interpreter (the setting is process-wide) by counting the heaps ``malloc_info``
reports after eight threads have each allocated."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from leadscore_fast.malloc import CORES_PER_ARENA

_HEAPS = r"""
import ctypes, os, sys, tempfile, threading
from leadscore_fast.malloc import keep_freed_memory
if sys.argv[1] == "cap":
    assert keep_freed_memory()
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.fopen.restype = ctypes.c_void_p
held = []
def work():
    held.append(libc.malloc(1 << 16))
threads = [threading.Thread(target=work) for _ in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
path = os.path.join(tempfile.mkdtemp(), "info.xml")
f = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(f))
libc.fclose(ctypes.c_void_p(f))
print(open(path).read().count("<heap nr="))
"""


def _glibc() -> bool:
    try:
        return bool(os.confstr("CS_GNU_LIBC_VERSION"))
    except (AttributeError, ValueError, OSError):
        return False


def _heaps(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _HEAPS, mode], capture_output=True, text=True,
                         check=True, timeout=60)
    return int(out.stdout.strip())


@pytest.mark.skipif(not _glibc(), reason="glibc's malloc only")
def test_threads_share_the_capped_arenas():
    cap = max(1, -(-(os.cpu_count() or 1) // CORES_PER_ARENA))
    capped = _heaps("cap")
    assert capped <= cap
    assert _heaps("default") > capped, "without the cap each thread gets an arena"
