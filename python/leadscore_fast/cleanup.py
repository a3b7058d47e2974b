"""Database clean-up: the dead leads a team archives or stops emailing. A lead is dead when a
score is below a threshold and/or an inactivity condition holds (``days_since(last_activity_at)
> 365``). Both are mask queries in one scoring pass (queries.py, ARCHITECTURE §6); the dead
rows alone are then read again and scored (``queries.score_rows``), as ``select`` does. A
NULL condition (no activity date) does not make a lead dead.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from leadscore_fast.compiler import as_model

__all__ = ["cleanup", "Cleanup"]


@dataclass
class Cleanup:
    """``dead``: one row per dead lead (the key, or ``row``: its 0-based input row; ``reason``;
    the score; every segmentation); ``leads`` scored; ``reasons``: per criterion the leads it
    accounts for and their share of all leads (a lead may meet both)."""
    leads: int
    dead: pa.Table
    reasons: list

    def summary(self) -> dict:
        n = self.dead.num_rows
        return {"leads": self.leads, "dead": n, "share": n / self.leads if self.leads else None,
                "reasons": self.reasons}


def cleanup(model, data, *, score: str = "total", below=None, inactive=None, key=None,
            as_of=None, threads=None) -> Cleanup:
    """The leads of ``data`` whose ``score`` is below ``below`` or for which ``inactive`` (an
    expression over the input columns and scores) is TRUE."""
    from leadscore_fast.as_of import pinned
    from leadscore_fast.compiler import as_schema
    from leadscore_fast.expr import to_expr_text
    from leadscore_fast.queries import QueryError, query_spec, rereadable, run_queries, check_score_name, score_rows
    from leadscore_fast.suggest import did_you_mean

    m = as_model(model)
    if below is None and inactive is None:
        raise QueryError("cleanup: say what makes a lead dead: below= (--below) a score "
                         "threshold and/or inactive= (--inactive) a condition")
    source = rereadable(data)
    schema = as_schema(source.schema)
    if key is not None and key not in schema.names:
        raise QueryError(f"cleanup: unknown key column {key!r}{did_you_mean(key, schema.names)}")
    criteria = []  # (query name, reason text, condition)
    if below is not None:
        check_score_name(m, score, "cleanup")
        try:
            below = float(below)
        except (TypeError, ValueError):
            raise QueryError(f"cleanup: below must be a number, got {below!r}") from None
        if below != below or below in (float("inf"), float("-inf")):
            raise QueryError(f"cleanup: below must be a finite number, got {below!r}")
        quoted = '"' + score.replace('"', '""') + '"'
        criteria.append(("low", f"{score} < {below:g}", f"{quoted} < {below!r}"))
    if inactive is not None:
        text = to_expr_text(inactive)
        criteria.append(("inactive", f"inactive: {text}", text))
    as_of = pinned(as_of, m)
    res = run_queries(m, source, [query_spec("mask", name, cond) for name, _, cond in criteria],
                      as_of=as_of, threads=threads)
    n = res.n_rows
    hits = [np.asarray(res.masks[name], bool) for name, _, _ in criteria]
    dead = np.logical_or.reduce(hits) if len(hits) > 1 else hits[0]
    rows = np.flatnonzero(dead)
    # the reason per dead lead: which criteria it meets (bit k: criterion k)
    code = sum(h[rows].astype(np.int64) << k for k, h in enumerate(hits))
    names = [r for _, r, _ in criteria]
    labels = ["; ".join(names[k] for k in range(len(names)) if c >> k & 1)
              for c in range(1, 1 << len(names))]  # code c (>= 1: dead) is label c - 1
    reason = pa.DictionaryArray.from_arrays(pa.array((code - 1).astype(np.int32)),
                                            pa.array(labels, pa.string()))
    scored = score_rows(m, source, rows, [key] if key else [], as_of=as_of, threads=threads)
    cols = {(key or "row"): scored.column(key) if key else pa.array(rows, pa.int64()),
            "reason": reason, score: scored.column(score) if score in m.score_names else None}
    cols = {k: v for k, v in cols.items() if v is not None}
    for g in m.segment_names:
        if g not in cols:
            cols[g] = scored.column(g)
    reasons = [{"reason": r, "leads": int(h.sum()), "share": float(h.sum() / n) if n else None}
               for r, h in zip(names, hits)]
    return Cleanup(leads=n, dead=pa.table(cols), reasons=reasons)
