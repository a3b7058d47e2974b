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

import os
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from leadscore_fast.vm.columns import EMPTY, INT_PTYPES, PT_BOOL, PT_NULL, PTYPE_NAMES

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


def _folded_part(b, is_bool: bool, n: int, name: str):
    """A part as vm/keycodes.py reads it: (kind, int32 data, uint8 data, offset, valid, size),
    and its code count. int32 dictionary indices and bit-packed booleans are read in place;
    anything else is converted by part_codes first."""
    if is_bool and b.ptype == PT_BOOL:
        return (1, _NO_I32, b.data, b.offset, b.valid, 2), 3
    if not is_bool and b.ptype == 4 and b.dictionary is not None:  # PT_I32 indices
        size = len(b.dictionary)
        return (0, b.data.view(np.int32), EMPTY, b.offset, b.valid, size), size + 1
    codes, count, _ = part_codes(b, is_bool, n, name)
    return (0, codes, EMPTY, 0, EMPTY, count - 1), count


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="keys")
    return _POOL


_POOL = None
_NO_I32 = np.empty(0, np.int32)
_ONES = np.empty(0, np.uint8)  # "no NULLs" for fold2's expanded validity
# Rows per thread of the dense fold (below it, one thread).
FOLD_ROWS_PER_THREAD = 1 << 20


def _dense_codes(folded, counts, n: int) -> np.ndarray:
    from leadscore_fast.vm import keycodes

    # In Arrow's pool, which keeps freed pages mapped: fresh numpy memory paid the page faults
    # and zeroing of 4 bytes a row on every batch.
    out = np.frombuffer(pa.allocate_buffer(max(4 * n, 4)), np.int32, count=n)

    def at(part, lo):  # the part from row lo on
        kind, d32, d8, offset, valid, size = part
        return kind, d32, d8, offset + lo, valid, size

    def expanded(part, lo, hi):  # validity as bytes, for fold2's loop over two strings
        kind, _, _, offset, valid, _ = part
        if valid.size == 0 or kind != 0 or folded[0][0] + folded[1][0] != 0:
            return _ONES
        return np.unpackbits(valid, bitorder="little", count=offset + hi)[offset + lo:]

    def run(lo, hi):
        ea, eb = expanded(folded[0], lo, hi), expanded(folded[1], lo, hi)
        if (ea is _ONES) != (eb is _ONES):  # one part with NULLs: the other reads all ones
            ea, eb = (np.ones(hi - lo, np.uint8) if e is _ONES else e for e in (ea, eb))
        keycodes.fold2(out[lo:hi], ea, eb, *at(folded[0], lo), *at(folded[1], lo), counts[1])
        for part, count in zip(folded[2:], counts[2:]):
            keycodes.fold(out[lo:hi], *at(part, lo), count)

    pieces = max(1, min(os.cpu_count() or 1, n // FOLD_ROWS_PER_THREAD))
    if pieces == 1:
        run(0, n)
    else:
        edges = np.linspace(0, n, pieces + 1).astype(np.int64)
        for f in [_pool().submit(run, int(lo), int(hi)) for lo, hi in zip(edges[:-1], edges[1:])]:
            f.result()
    return out


def key_codes(bindings: list, is_bool: list, names: list, n: int) -> KeyCodes:
    """Bind one key over a batch of n rows from its parts' bindings."""
    for b, ib, nm in zip(bindings, is_bool, names):  # the parts' types, checked once
        if ib and b.ptype not in _DTYPES and b.ptype not in (PT_BOOL, PT_NULL):
            raise TypeError(f"column {nm!r} ({PTYPE_NAMES[b.ptype]}) cannot be read as a boolean key part")
        if not ib and b.ptype != PT_NULL and (b.dictionary is None or b.ptype not in INT_PTYPES):
            raise TypeError(f"column {nm!r} ({PTYPE_NAMES[b.ptype]}) is not dictionary-coded")
    dicts = tuple(None if ib else (b.dictionary if b.ptype != PT_NULL else pa.array([], pa.string()))
                  for b, ib in zip(bindings, is_bool))
    counts = [3 if ib else len(d) + 1 for ib, d in zip(is_bool, dicts)]
    if int(np.prod(counts, dtype=np.float64)) <= DENSE_MAX:
        folded = [_folded_part(b, ib, n, nm) for b, ib, nm in zip(bindings, is_bool, names)]
        return KeyCodes(_dense_codes([f[0] for f in folded], [f[1] for f in folded], n), dicts, None)
    parts = [part_codes(b, ib, n, nm) for b, ib, nm in zip(bindings, is_bool, names)]
    # Distinct tuples, one part at a time: the running code numbers the distinct prefixes
    # (< n), so `prefix * count + code` stays within int64 for any number of parts.
    uniq, acc = np.unique(parts[0][0].astype(np.int64), return_inverse=True)
    combos = uniq.reshape(-1, 1)
    for c, count, _ in parts[1:]:
        uniq, inv = np.unique(acc.astype(np.int64) * count + c, return_inverse=True)
        combos = np.column_stack([combos[uniq // count], uniq % count])
        acc = inv
    return KeyCodes(acc.astype(np.int32).reshape(-1), dicts, np.ascontiguousarray(combos, np.int64))
