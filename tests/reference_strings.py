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


# ---- functions (NULL in, NULL out unless noted; characters are code points) --------------

def split_part(s: str, sep: str, n: int) -> str:
    parts = (list(s) or [""]) if sep == "" else s.split(sep)
    idx = n - 1 if n > 0 else len(parts) + n if n < 0 else -1
    return parts[idx] if 0 <= idx < len(parts) else ""


def substring(s: str, offset: int, length: int | None = None) -> str:
    """DuckDB's SubstringStartEnd: offset from 1 (negative: from the end; 0: one before the
    first character); a negative length takes the characters before the start."""
    size = len(s)
    if length is None:
        length = 1 << 62
    if length == 0:
        return ""
    if offset > 0:
        start = min(size, offset - 1)
    elif offset < 0:
        start = max(size + offset, 0)
    else:
        start, length = 0, length - 1
        if length <= 0:
            return ""
    if length > 0:
        end = min(size, start + length)
    else:
        start, end = max(0, start + length), start
    return s[start:end]


def left(s: str, n: int) -> str:
    return s[:n] if n >= 0 else s[:max(len(s) + n, 0)]


def right(s: str, n: int) -> str:
    return s[max(len(s) - n, 0):] if n >= 0 else s[min(-n, len(s)):]


def trim(s: str, chars: str | None, left: bool, right: bool) -> str:
    chars = " " if chars is None else chars
    if not chars:
        return s
    if left:
        s = s.lstrip(chars)
    if right:
        s = s.rstrip(chars)
    return s


def like(s: str, pat: str, esc: str | None) -> bool:
    """LIKE with `%`, `_` and an optional escape character (a dangling escape matches nothing)."""
    body, it = [], iter(pat)
    for c in it:
        if esc and c == esc:
            nxt = next(it, None)
            if nxt is None:
                return False
            body.append(re.escape(nxt))
        else:
            body.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
    return re.fullmatch("".join(body), s, re.DOTALL) is not None


_ASCII = {"d": "0-9", "w": "0-9A-Za-z_", "s": "\\t\\n\\f\\r "}


def _re2_to_python(pat: str) -> str:
    """RE2's ASCII Perl classes in Python's re (whose are Unicode): \\d \\w \\s \\b rewritten;
    the patterns the tests use are otherwise common syntax."""
    out, i, in_class = [], 0, False
    while i < len(pat):
        c = pat[i]
        if c == "\\" and i + 1 < len(pat):
            n = pat[i + 1]
            if n in _ASCII:
                out.append(_ASCII[n] if in_class else f"[{_ASCII[n]}]")
            elif n.lower() in _ASCII and not in_class:
                out.append(f"[^{_ASCII[n.lower()]}]")
            elif n == "b" and not in_class:
                out.append(r"(?:(?<![0-9A-Za-z_])(?=[0-9A-Za-z_])|(?<=[0-9A-Za-z_])(?![0-9A-Za-z_]))")
            else:
                out.append(c + n)
            i += 2
            continue
        if c == "[" and not in_class:
            in_class = True
        elif c == "]" and in_class and out and out[-1] not in ("[", "[^"):
            in_class = False
        out.append(c)
        i += 1
    return "".join(out)


def regexp_matches(s: str, pat: str, opts: str = "") -> bool:
    flags, literal = re.ASCII * 0, False
    ci = dot = False
    for o in opts:
        if o == "i":
            ci = True
        elif o == "c":
            ci = False
        elif o == "s":
            dot = True
        elif o in "mnp":
            dot = False
        elif o == "l":
            literal = True
        else:
            raise ValueError(f"regex option {o}")
    body = re.escape(pat) if literal else _re2_to_python(pat)
    flags = (re.IGNORECASE if ci else 0) | (re.DOTALL if dot else 0)
    return re.search(body, s, flags) is not None


def call(fn: str, args: list):
    """The string functions; None when `fn` is not one of them (the caller goes on)."""
    if fn == "concat":
        return "".join(a for a in args if a is not None)
    if any(a is None for a in args):
        return None
    s = args[0]
    if fn == "length":
        return len(s)
    if fn in ("trim", "ltrim", "rtrim"):
        return trim(s, args[1] if len(args) > 1 else None, fn != "rtrim", fn != "ltrim")
    if fn == "ends_with":
        return s.endswith(args[1])
    if fn == "split_part":
        return split_part(s, args[1], args[2])
    if fn in ("substring", "substr"):
        return substring(s, *args[1:])
    if fn == "left":
        return left(s, args[1])
    if fn == "right":
        return right(s, args[1])
    if fn == "replace":
        return s.replace(args[1], args[2]) if args[1] else s
    if fn == "strip_accents":
        return strip_accents(s)
    if fn == "regexp_matches":
        return regexp_matches(*args)
    raise KeyError(fn)


FUNCTIONS = {"length", "trim", "ltrim", "rtrim", "ends_with", "split_part", "substring", "substr", "left",
             "right", "replace", "strip_accents", "regexp_matches", "concat"}
