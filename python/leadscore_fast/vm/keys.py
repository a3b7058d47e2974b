"""Multi-column lookup keys (engine lookup.rs): one int32 code per row over the tuples of a
key's columns (string columns by dictionary code, boolean columns as 0 FALSE / 1 TRUE), each
part's NULL as its last code. The lookup opcodes read the codes like a dictionary column.

Two layouts, chosen per batch:
- dense, when the product of the parts' code counts is at most DENSE_MAX: the code is
  ``Σ code_i · stride_i`` (first part most significant) and the table holds every tuple, so
  it only depends on the parts' dictionaries (cached across batches while they stay equal);
- distinct, otherwise (e.g. two 5,000-value dictionaries): the code numbers the distinct
  tuples present in the batch, and the table is evaluated at those tuples only (plus a last,
  never-read, all-NULL entry).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pyarrow as pa

from leadscore_fast.vm.columns import INT_PTYPES, PT_BOOL, PT_NULL, PTYPE_NAMES

# Largest dense table (entries): 64 KiB as a tri-state table, evaluated once per dictionary.
DENSE_MAX = 1 << 16

_DTYPES = {2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.uint8, 7: np.uint16,
           8: np.uint32, 9: np.uint64, 0: np.float64, 1: np.float32}


class KeyCodes(NamedTuple):
    """One key bound for one batch: per-row codes (int32) and what its tables are over."""
    codes: np.ndarray
    parts: tuple       # per part: the pa.Array dictionary of a string part, None for a boolean
    combos: np.ndarray | None  # distinct layout: int64[n_tuples, n_parts] part codes; dense: None


def _valid(b, n) -> np.ndarray | None:
    if b.valid.size == 0:
        return None
    bits = np.unpackbits(b.valid, bitorder="little", count=b.offset + n)
    return bits[b.offset:].view(np.bool_)


def part_codes(b, is_bool: bool, n: int, name: str) -> tuple[np.ndarray, int, pa.Array | None]:
    """Codes of one key part over a batch of n rows, its code count (NULL included, last) and
    its dictionary (string parts). Out-of-range dictionary codes read as NULL, as in a lookup."""
    if b.ptype == PT_NULL:
        if is_bool:
            return np.full(n, 2, np.int32), 3, None
        return np.zeros(n, np.int32), 1, pa.array([], pa.string())
    if is_bool:
        if b.ptype == PT_BOOL:
            bits = np.unpackbits(b.data, bitorder="little", count=b.offset + n)[b.offset:]
            codes = bits.astype(np.int32)
        elif b.ptype in _DTYPES:
            x = b.data.view(_DTYPES[b.ptype])[b.offset:b.offset + n]
            codes = (x != 0).astype(np.int32)
        else:
            raise TypeError(f"column {name!r} ({PTYPE_NAMES[b.ptype]}) cannot be read as a boolean key part")
        null_code, count, dictionary = 2, 3, None
    else:
        if b.dictionary is None or b.ptype not in INT_PTYPES:
            raise TypeError(f"column {name!r} ({PTYPE_NAMES[b.ptype]}) is not dictionary-coded")
        size = len(b.dictionary)
        raw = b.data.view(_DTYPES[b.ptype])[b.offset:b.offset + n]
        if raw.dtype == np.int32:  # Arrow's indices: one unsigned compare finds both ends
            codes = raw.copy()
            bad = codes.view(np.uint32) > size
            if bad.any():
                codes[bad] = size
        else:
            wide = raw.astype(np.int64)
            codes = np.where((wide < 0) | (wide > size), size, wide).astype(np.int32)
        null_code, count, dictionary = size, size + 1, b.dictionary
    valid = _valid(b, n)
    if valid is not None:
        codes[~valid] = null_code
    return codes, count, dictionary


def key_codes(bindings: list, is_bool: list, names: list, n: int) -> KeyCodes:
    """Bind one key over a batch of n rows from its parts' bindings."""
    parts = [part_codes(b, ib, n, nm) for b, ib, nm in zip(bindings, is_bool, names)]
    counts = [p[1] for p in parts]
    dicts = tuple(p[2] for p in parts)
    if int(np.prod(counts, dtype=np.float64)) <= DENSE_MAX:
        codes = parts[0][0]
        for c, count, _ in parts[1:]:
            codes *= count  # fits int32: the product is at most DENSE_MAX
            codes += c
        return KeyCodes(codes, dicts, None)
    # Distinct tuples, one part at a time: the running code numbers the distinct prefixes
    # (< n), so `prefix * count + code` stays within int64 for any number of parts.
    acc = parts[0][0].astype(np.int64)
    uniq, inv = np.unique(acc, return_inverse=True)
    combos = uniq.reshape(-1, 1)
    acc = inv
    for c, count, _ in parts[1:]:
        uniq, inv = np.unique(acc.astype(np.int64) * count + c, return_inverse=True)
        combos = np.column_stack([combos[uniq // count], uniq % count])
        acc = inv
    return KeyCodes(acc.astype(np.int32).reshape(-1), dicts, np.ascontiguousarray(combos, np.int64))
