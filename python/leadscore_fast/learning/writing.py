"""Writing the learned scorecard as an ordinary model file: YAML with a comment per rule.

The file is the model: ``Model.from_yaml`` reads it, the engine compiles it, and a person can
edit the points. Names and conditions are quoted so any column name or category value (quotes,
colons, '#', newlines, non-ASCII) reads back as written.
"""
from __future__ import annotations

import re

from leadscore_fast.learning.sql import ident

__all__ = ["yaml_str", "score_names", "write_yaml"]

_PLAIN_OK = re.compile(r"^[\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]*$")


def yaml_str(s: str) -> str:
    """A YAML scalar for ``s``: single-quoted ('' for '), or double-quoted with escapes when it
    holds characters a single-quoted scalar cannot carry (line breaks, controls)."""
    if _PLAIN_OK.match(s):
        return "'" + s.replace("'", "''") + "'"
    out = ['"']
    for ch in s:
        o = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= o <= 0x7E or (0xA0 <= o <= 0xD7FF and o not in (0x2028, 0x2029)) or \
                (0xE000 <= o <= 0xFFFD and o != 0xFEFF):
            out.append(ch)
        elif o <= 0xFFFF:
            out.append(f"\\u{o:04x}")
        else:
            out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _comment(s: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]", " ", s)


# words a score may not be called: YAML reads them as booleans/null, SQL as keywords
_RESERVED = set("""true false yes no on off null y n and or not is in between like ilike glob
case when then else end cast try_cast date timestamp interval escape distinct from for select
unknown exists all any some array row collate similar regexp rlike over filter within at as
both leading trailing""".split())


def score_names(columns: list[str], taken) -> dict[str, str]:
    """A score name (an identifier) per column, unlike every input column and each other."""
    used = set(taken)
    out = {}
    for c in columns:
        base = re.sub(r"[^0-9a-zA-Z_]+", "_", c.lower()).strip("_") or "column"
        if base[0].isdigit():
            base = "c_" + base
        if base in _RESERVED:
            base += "_points"
        name, k = base, 2
        while name in used:
            name, k = f"{base}_{k}", k + 1
        used.add(name)
        out[c] = name
    return out


def write_yaml(*, name: str, header: list[str], as_of: str | None, columns: list[tuple],
               base_score: str | None, base_points: int, total: str, p_convert: str,
               a: float, b: float, tier: str, edges: tuple[int, int], bands_note: str,
               n_train: int) -> str:
    """columns: (ColumnBins, score name, points per bin, coefficient) in file order."""
    L = [f"# {_comment(h)}" if h else "#" for h in header]
    L.append(f"name: {yaml_str(name)}")
    if as_of:
        L.append(f"as_of: {as_of}    # days_since() counts back from here, as when learning")
    L.append("scores:")
    for cb, sname, pts, coef in columns:
        L.append(f"  {sname}:    # column {_comment(cb.column)!r}: {cb.kind}, information "
                 f"value {cb.iv:.3f}, coefficient {coef:.3f}, {len(cb.bins)} bins")
        L.append("    rules:")
        for bin_, p in zip(cb.bins, pts):
            share = bin_.count / n_train if n_train else 0
            rate = "-" if bin_.rate is None else f"{bin_.rate:.1%}"
            L.append(f"      - name: {yaml_str(f'{cb.column}: {bin_.label}')}")
            L.append(f"        when: {yaml_str(bin_.when)}")
            L.append(f"        points: {int(p)}    # {bin_.count:,} leads ({share:.1%}), "
                     f"conversion {rate}, WoE {bin_.woe:+.3f}")
    if base_score:
        L.append(f"  {base_score}:    # the constant part of every lead's total")
        L.append("    rules:")
        L.append(f"      - {{name: base points, points: {int(base_points)}}}")
    parts = [c[1] for c in columns] + ([base_score] if base_score else [])
    L.append(f"  {total}:    # the points: the sum of the column scores")
    L.append(f"    expr: {yaml_str(' + '.join(map(ident, parts)) if parts else '0')}")
    L.append(f"  {p_convert}:    # probability of converting, calibrated on the training rows")
    L.append(f"    expr: {yaml_str(f'1 / (1 + exp(-({a!r} + {b!r} * {ident(total)})))')}")
    L.append("segments:")
    L.append(f"  {tier}:    # {_comment(bands_note)}")
    L.append(f"    bands: {{score: {total}, edges: [{edges[0]}, {edges[1]}], "
             "labels: [cold, warm, hot]}")
    return "\n".join(L) + "\n"
