"""The string functions of the reference evaluator, in plain Python (DuckDB's semantics).

Case mapping and strip_accents are DuckDB's per-code-point maps; the maps are read from the
engine's generated table (engine/src/unicode_table.rs, made from DuckDB by
engine/tools/gen_unicode_table.py), the one statement of them, not from Python's str.lower
(full Unicode mappings: 'ΣΑΣ'.lower() == 'σας', where DuckDB gives 'σασ').
"""
from __future__ import annotations

import pathlib
import re
from functools import lru_cache

_TABLE = pathlib.Path(__file__).resolve().parents[1] / "engine" / "src" / "unicode_table.rs"


@lru_cache(maxsize=None)
def _maps() -> dict[str, dict[int, str]]:
    maps: dict[str, dict[int, str]] = {}
    current = None
    for line in _TABLE.read_text().splitlines():
        m = re.match(r"pub const (\w+)", line)
        if m:
            current = maps.setdefault(m.group(1), {})
            continue
        m = re.match(r'\s*\(0x([0-9A-F]+), (?:0x([0-9A-F]+)|"((?:\\u\{[0-9A-F]+\})*)")\),', line)
        if m and current is not None:
            a, b, s = m.groups()
            img = chr(int(b, 16)) if b else "".join(chr(int(h, 16)) for h in re.findall(r"\{([0-9A-F]+)\}", s))
            current[int(a, 16)] = img
    return maps


def lower(s: str) -> str:
    return s.translate(_maps()["LOWER"])


def upper(s: str) -> str:
    return s.translate(_maps()["UPPER"])


def strip_accents(s: str) -> str:
    return s.translate(_maps()["STRIP_ACCENTS"])
