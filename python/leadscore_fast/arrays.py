"""numpy → Arrow arrays, zero-copy, through ``pa.Array.from_buffers``.

``pa.array`` asks pyarrow's pandas shim whether its argument is a pandas object, and that
imports pandas (0.3-0.45 s) in a process that never uses it: every ``leadscore`` command paid
it at its first output batch. The output columns are built here instead.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["primitive", "strings"]

_TYPES = {np.dtype(np.float64): pa.float64(), np.dtype(np.int32): pa.int32(),
          np.dtype(np.int64): pa.int64(), np.dtype(np.uint8): pa.uint8()}


def primitive(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    """A float64/int32/int64 array over ``values``' memory; ``null`` marks NULL rows."""
    values = np.ascontiguousarray(values)
    validity, nulls = None, 0
    if null is not None:
        nulls = int(np.count_nonzero(null))
        if nulls:
            validity = pa.py_buffer(np.packbits(~null, bitorder="little"))
    return pa.Array.from_buffers(_TYPES[values.dtype], len(values),
                                 [validity, pa.py_buffer(values)], null_count=nulls)


def strings(values: list[str]) -> pa.Array:
    """A string array of ``values`` (no NULLs)."""
    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, np.int32)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.Array.from_buffers(pa.string(), len(data),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))])
