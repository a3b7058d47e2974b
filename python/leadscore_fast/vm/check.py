"""Validate a Program's bytecode before the VM runs it (the kernel does no bounds checks).

Every operand is checked against its kind in the generated opcode table (vm/opcodes.py);
failures raise ``ProgramError`` naming the instruction index, opcode and operand.
"""
from __future__ import annotations

import numpy as np

from leadscore_fast.vm.opcodes import (
    ARITH_F, ARITH_FK, ARITH_I, ARITH_IK, ARITH_KF, CONST_B, CONST_I, COUNT_IF, DECAY, HIST, INSN_WIDTH,
    LOOKUP_B, LOOKUP_F, LOOKUP_I,
    LOOKUP_RULE_K, OPCODES, ROUND_F, SEG_MATRIX, STORE_SCORE, SUBOPS, TOPK,
)

# sub-op kinds: number of valid codes (engine/src/opcodes.rs, generated into vm/opcodes.py)
_SUBOP_COUNT = {kind: len(names) for kind, names in SUBOPS.items()}
_IMM_RANGE = {CONST_I: (0, 1), CONST_B: (0, 2), STORE_SCORE: (0, 2), ROUND_F: (0, 1)}
# The numba interpreter implements every opcode of the table (tests/test_vm_opcodes.py checks
# each one runs); an opcode missing from the table is rejected here.
VM_OPCODES = frozenset(name for name, _kinds in OPCODES.values())
_LOOKUP_RESULT = {LOOKUP_F: "F", LOOKUP_B: "B", LOOKUP_I: "I", LOOKUP_RULE_K: "B"}
_REG_KIND = {"dF": 0, "aF": 0, "F": 0, "dI": 1, "I": 1, "dB": 2, "B": 2}


def _error(msg: str) -> Exception:
    from leadscore_fast.errors import ProgramError  # lazy: needs the Rust extension

    return ProgramError(msg)


def decode(code: bytes) -> np.ndarray:
    """``Program.code`` bytes → int64[n_insns, INSN_WIDTH] (little-endian)."""
    raw = bytes(code)
    if len(raw) % (8 * INSN_WIDTH):
        raise _error(f"program code is {len(raw)} bytes, not a multiple of {8 * INSN_WIDTH}")
    return np.frombuffer(raw, dtype="<i8").astype(np.int64).reshape(-1, INSN_WIDTH)


def check_program(program, code: np.ndarray | None = None) -> np.ndarray:
    """Check ``program`` (attributes as in ARCHITECTURE §3); return its decoded code array."""
    if code is None:
        code = decode(program.code)
    n_regs = tuple(int(x) for x in program.n_regs)
    if len(n_regs) != 3 or min(n_regs) < 0:
        raise _error(f"n_regs must be three counts (float, int, bool), got {program.n_regs!r}")
    columns = program.columns
    lookups = program.lookups
    keys = [list(k) for k in getattr(program, "keys", None) or []]
    labels = [list(s["labels"]) for s in program.segments]
    queries = _check_queries(program, labels)
    slots = {(q["kind"], int(q["slot"])): q for q in queries if q["kind"] in ("count", "hist")}
    topks = {int(q["index"]): q for q in queries if q["kind"] == "topk"}
    limits = {
        "col": len(columns) + len(keys), "tab": len(lookups), "kF": len(program.consts_f),
        "kI": len(program.consts_i), "score": len(program.scores), "seg": len(labels),
        "mask": sum(q["kind"] == "mask" for q in queries), "topk": len(topks),
    }
    for pc, insn in enumerate(code):
        op = int(insn[0])
        entry = OPCODES.get(op)
        if entry is None:
            raise _error(f"instruction {pc}: unknown opcode {op}")
        name, kinds = entry
        where = f"instruction {pc} ({name})"
        if name not in VM_OPCODES:
            raise _error(f"{where}: opcode not implemented by this VM")
        for j, kind in enumerate(kinds):
            v = int(insn[1 + j])
            optional = kind.endswith("?")
            base = kind.rstrip("?")
            what = f"{where} operand {j} ({kind}) = {v}"
            if optional and v == -1:
                continue
            if v < 0:
                raise _error(f"{what}: negative" + ("" if optional else "; only optional operands may be -1"))
            if op == HIST and base == "kF":
                continue  # a range of edges, checked below (may be empty)
            if base in _REG_KIND:
                n = n_regs[_REG_KIND[base]]
                if v >= n:
                    raise _error(f"{what}: register out of range (n_regs {n})")
            elif base in limits:
                if v >= limits[base]:
                    raise _error(f"{what}: index out of range ({limits[base]} available)")
            elif base in _SUBOP_COUNT:
                if v >= _SUBOP_COUNT[base]:
                    raise _error(f"{what}: unknown {base} code")
            elif base == "label":
                seg = int(insn[1 + kinds.index("seg")])
                if v >= len(labels[seg]):
                    raise _error(f"{what}: segmentation {seg} has {len(labels[seg])} labels")
            elif base == "slot":
                want = "count" if op == COUNT_IF else "hist"
                if (want, v) not in slots:
                    raise _error(f"{what}: no {want} query has accumulator slot {v}")
            elif base == "imm":
                lo, hi = _IMM_RANGE.get(op, (v, v))
                if not lo <= v <= hi:
                    raise _error(f"{what}: immediate outside {lo}..{hi}")
            else:
                raise _error(f"{what}: unknown operand kind")
        for j in range(len(kinds), INSN_WIDTH - 1):
            if insn[1 + j] != 0:
                raise _error(f"{where} operand {j}: unused operand must be 0, got {int(insn[1 + j])}")
        if op in (ARITH_I, ARITH_IK) and insn[4] in (3, 6):
            raise _error(f"{where} operand 3 (aop) = {int(insn[4])}: '/' and pow are float "
                         "operations, not valid on ints")
        if op in (ARITH_F, ARITH_FK, ARITH_KF) and insn[4] == 5:
            raise _error(f"{where} operand 3 (aop) = 5: '//' is integer division, not valid on "
                         "floats")
        if "col" in kinds and op not in _LOOKUP_RESULT and int(insn[1 + kinds.index("col")]) >= len(columns):
            raise _error(f"{where}: column {int(insn[1 + kinds.index('col')])} is a lookup key; "
                         "only lookup opcodes read keys")
        if op in _LOOKUP_RESULT:
            tab = lookups[int(insn[3])]
            want = _LOOKUP_RESULT[op]
            if int(tab["column"]) != int(insn[2]):
                raise _error(f"{where}: lookup {int(insn[3])} is over column {tab['column']}, "
                             f"not column {int(insn[2])}")
            if tab["result"] != want:
                raise _error(f"{where}: lookup {int(insn[3])} has result {tab['result']!r}, "
                             f"{name} needs {want!r}")
        if op == DECAY and int(insn[1]) in (int(insn[2]), int(insn[3]), int(insn[4])):
            raise _error(f"{where}: the destination register must differ from the operands")
        if op == SEG_MATRIX:
            g, a, b, nb = (int(x) for x in insn[1:5])
            if nb != len(labels[b]) or len(labels[g]) != len(labels[a]) * nb:
                raise _error(f"{where}: segmentation {g} ({len(labels[g])} labels) is not the "
                             f"matrix of {a} ({len(labels[a])}) x {b} ({len(labels[b])}, imm {nb})")
        if op == HIST:
            q = slots[("hist", int(insn[1]))]
            first, n_edges = int(insn[3]), int(insn[4])
            if first < 0 or first + n_edges > len(program.consts_f):
                raise _error(f"{where}: edges kF {first}..{first + n_edges} outside consts_f "
                             f"({len(program.consts_f)})")
            edges = np.asarray(program.consts_f[first:first + n_edges], np.float64)
            if int(q["size"]) != n_edges + 2:
                raise _error(f"{where}: {n_edges} edges, but query {q['name']!r} has "
                             f"{q['size']} slots (edges + 2)")
            if np.isnan(edges).any() or (np.diff(edges) < 0).any():
                raise _error(f"{where}: edges must be ascending and not NULL")
        if op == TOPK:
            q = topks[int(insn[1])]
            if (q["per"] is None) != (int(insn[3]) == -1):
                raise _error(f"{where}: query {q['name']!r} " + (
                    "has no 'per' segmentation but a group register" if q["per"] is None
                    else "is per segmentation but has no group register"))
    for k, key in enumerate(keys):
        if len(key) < 2 or any(not 0 <= int(c) < len(columns) for c in key) or any(
                columns[int(c)]["kind"] not in ("string", "bool") for c in key):
            raise _error(f"key {k}: {key} is not two or more string or boolean columns")
    for t, tab in enumerate(lookups):
        if not 0 <= int(tab["column"]) < len(columns) + len(keys):
            raise _error(f"lookup {t}: column {tab['column']} out of range")
    return code


def _check_queries(program, labels) -> list:
    """``Program.queries`` (absent = none), checked for the layout the runner allocates:
    accumulator slots that do not overlap, dense mask and top-k indices, sane k and groups."""
    queries = [dict(q) for q in getattr(program, "queries", None) or []]
    used: dict[int, str] = {}
    index = {"mask": [], "topk": []}
    for q in queries:
        kind, name = q.get("kind"), q.get("name")
        if kind in ("count", "hist"):
            size = 1 if kind == "count" else len(q["edges"]) + 2
            if int(q["size"]) != size or int(q["slot"]) < 0:
                raise _error(f"query {name!r}: {kind} needs {size} slots from slot >= 0, "
                             f"got slot {q['slot']} size {q['size']}")
            for s in range(int(q["slot"]), int(q["slot"]) + size):
                if s in used:
                    raise _error(f"query {name!r}: slot {s} is also used by {used[s]!r}")
                used[s] = name
        elif kind in index:
            index[kind].append(int(q["index"]))
            if kind == "topk":
                per = q.get("per")
                want = 1 if per is None else (len(labels[per]) if 0 <= per < len(labels) else -1)
                if want < 0 or int(q["groups"]) != want or int(q["k"]) < 0:
                    raise _error(f"query {name!r}: topk per {per!r} with {q['groups']} groups "
                                 f"and k {q['k']} does not match the segmentations")
        else:
            raise _error(f"query {name!r}: unknown kind {kind!r}")
    for kind, idx in index.items():
        if sorted(idx) != list(range(len(idx))):
            raise _error(f"{kind} query indices must be 0..{len(idx) - 1}, got {sorted(idx)}")
    return queries
