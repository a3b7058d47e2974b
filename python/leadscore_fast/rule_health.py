"""Rule health: how often each rule's condition is TRUE / FALSE / NULL, what it adds, how
often its cap or floor binds, with a label its conversion among hits and lift; and the
warnings a model writer wants before trusting it (a rule that never or always fires, a string
literal the data never contains, a condition NULL for most leads because of a column's NULLs).

One pass, computed by the engine: the model is compiled with, per rule, one more score (that
rule alone: its contribution, as in explanations.py), a segmentation whose label is the truth
value of its condition (T / F / N) and, for a rule with a cap or floor, one saying which bound
it hit. Each batch's raw outputs are folded with numpy bincounts; nothing loops over rows in
Python. String literals are found in the parsed expression tree (``_engine.parse_expr``,
ARCHITECTURE §2), never by evaluating text.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.compiler import as_model
from leadscore_fast.explanations import fresh_name, plan_contributions, truth_case
from leadscore_fast.labels import is_text
from leadscore_fast.model import Segmentation, SegmentCase, Src

__all__ = ["rule_stats", "RuleHealth", "NULL_HEAVY", "VALUES_KEPT"]

NULL_HEAVY = 0.5     # a condition NULL for more than this share of leads is warned about
VALUES_KEPT = 5000   # distinct values kept per column for "did you mean" suggestions
_BOUND = ("cap", "floor", "none")


# -- string literals compared with columns (from the AST, never from eval) -------------------

def _ast(text: str):
    from leadscore_fast import _engine

    return json.loads(_engine.parse_expr(text))


def _columns_read(node, out: set) -> set:
    """Every name a column node of the tree refers to (input columns, scores, segments)."""
    if isinstance(node, dict):
        if node.get("t") == "col":
            out.add(node["name"])
        for v in node.values():
            _columns_read(v, out)
    elif isinstance(node, list):
        for v in node:
            _columns_read(v, out)
    return out


def _literals(node, out: list) -> list:
    """(column, string literal) pairs of ``col = 'x'``, ``'x' = col``, ``col <> 'x'`` and
    ``col [NOT] IN ('x', ...)``."""
    if isinstance(node, dict):
        t = node.get("t")
        if t == "bin" and node["op"] in ("=", "<>"):
            for a, b in ((node["l"], node["r"]), (node["r"], node["l"])):
                if a.get("t") == "col" and b.get("t") == "lit" and isinstance(b.get("v"), str):
                    out.append((a["name"], b["v"]))
        elif t == "in" and node["e"].get("t") == "col":
            out.extend((node["e"]["name"], x["v"]) for x in node["list"]
                       if x.get("t") == "lit" and isinstance(x.get("v"), str))
        for v in node.values():
            _literals(v, out)
    elif isinstance(node, list):
        for v in node:
            _literals(v, out)
    return out


# -- the augmented model and the pass --------------------------------------------------------

@dataclass
class _RuleSlot:
    score: str
    index: int
    name: str
    rule: object
    contribution: str          # the rule's own score in the augmented model
    truth: str | None          # its T/F/N segmentation (None: no condition, always TRUE)
    bound: str | None          # its cap/floor segmentation (None: no cap or floor)
    columns: list = field(default_factory=list)   # input columns its condition reads


def augment(m, schema: pa.Schema, *, bounds: bool = True):
    """(augmented model, rule slots, (where, column, literal) triples to check)."""
    plan = plan_contributions(m)
    aug = plan.model
    taken = set(aug.score_names) | set(aug.segment_names)
    outputs = set(m.score_names) | set(m.segment_names)
    inputs = set(schema.names) - outputs
    extra, slots, literals = [], [], []
    for s in m.scores:
        for i, r in enumerate(s.rules or ()):
            slot = _RuleSlot(s.name, i, r.name, r, plan.rules[s.name][i][1], None, None)
            if r.when is not None:
                slot.truth = fresh_name(f"__when.{s.name}.{i}", taken)
                extra.append(truth_case(slot.truth, r.when))
                tree = _ast(r.when.text)
                slot.columns = sorted(_columns_read(tree, set()) & inputs)
                literals += [(f"score {s.name!r}, rule {r.name!r}", c, v)
                             for c, v in _literals(tree, []) if c in inputs]
            if bounds and (r.cap is not None or r.floor is not None):
                slot.bound = fresh_name(f"__bound.{s.name}.{i}", taken)
                when = f"({r.when.text}) AND " if r.when is not None else ""
                cases = []
                for label, op, v in (("cap", ">", r.cap), ("floor", "<", r.floor)):
                    if v is not None:
                        cases.append(SegmentCase(label, Src(f"{when}({r.points.text}) {op} {v!r}")))
                extra.append(Segmentation(slot.bound, cases + [SegmentCase("none")]))
            slots.append(slot)
    for g in m.segmentations:
        for c in g.cases:
            if c.when is not None:
                literals += [(f"segmentation {g.name!r}, case {c.label!r}", col, v)
                             for col, v in _literals(_ast(c.when.text), []) if col in inputs]
    aug.segmentations = aug.segmentations + extra
    text_cols = {f.name for f in schema if is_text(f.type)}
    literals = [x for x in dict.fromkeys(literals) if x[1] in text_cols]
    return aug, slots, literals


class Folder:
    """Per-batch folding of one pass's raw outputs (``runner.Session`` batches)."""

    def __init__(self, m, ses, slots, literals, label=None, label_text=False, positive=None,
                 keep_scores=False, score_edges=None, what="rule_stats", null_columns=True):
        self.m, self.ses, self.slots, self.what = m, ses, slots, what
        self.null_columns = null_columns  # count which columns' NULLs make conditions NULL
        prep = ses.prep
        self.score_at = {s: i for i, s in enumerate(prep.scores)}
        self.seg_at = {g["name"]: i for i, g in enumerate(prep.segments)}
        self.seg_labels = {g["name"]: list(g["labels"]) for g in prep.segments}
        self.label, self.label_text, self.positive = label, label_text, positive
        self.n = 0
        k = len(slots)
        self.truth = np.zeros((k, 3), np.int64)
        self.bound = np.zeros((k, 3), np.int64)
        self.contrib = np.zeros(k)
        self.null_by_col = [dict.fromkeys(s.columns, 0) for s in slots]
        self.hit_y = np.zeros(k)
        self.hit_labelled = np.zeros(k, np.int64)
        self.y_sum, self.y_n = 0.0, 0
        # input columns the model reads: their NULL counts
        self.inputs = list(dict.fromkeys(c["name"] for c in prep.columns))
        self.col_nulls = dict.fromkeys(self.inputs, 0)
        # segment counts of the model's own segmentations (index len(labels): NULL)
        self.segs = {g: np.zeros(len(self.seg_labels[g]) + 1, np.int64) for g in m.segment_names}
        # string literals: found anywhere? a few of the values that do occur
        self.literals = literals
        self.found = dict.fromkeys(literals, False)
        self.values = {c: {} for _, c, _ in literals}
        self.keep_scores = keep_scores
        self.scores = {s: [] for s in m.score_names}
        self.edges = score_edges  # {score: edges}: histograms against fixed edges
        self.hist = {s: np.zeros(len(e) + 2, np.int64) for s, e in (score_edges or {}).items()}

    def _codes(self, out, name):
        return out.out_seg[self.seg_at[name]]

    def add(self, out) -> None:
        from leadscore_fast.labels import label_values

        b = out.batch
        n = b.num_rows
        if n == 0:
            return
        self.n += n
        columns = self.ses.columns
        isnull = {}

        def nulls(c):
            if c not in isnull:
                a = b.column(columns.index(c))
                if a.null_count:
                    v = a.is_null().to_numpy(zero_copy_only=False)
                else:
                    v = np.zeros(n, bool)
                if pa.types.is_floating(a.type):  # NaN reads as NULL
                    v = v | np.isnan(np.asarray(a.to_numpy(zero_copy_only=False), np.float64))
                isnull[c] = v
            return isnull[c]

        for c in self.inputs:
            a = b.column(columns.index(c))
            if not pa.types.is_floating(a.type):
                self.col_nulls[c] += a.null_count
            elif c in isnull:
                self.col_nulls[c] += int(np.count_nonzero(isnull[c]))
            else:  # NULLs, and NaN (which reads as NULL) among the valid values
                nan = pc.sum(pc.cast(pc.is_nan(a), pa.int64())).as_py() or 0
                self.col_nulls[c] += a.null_count + int(nan)
        y = None
        if self.label is not None:
            y = label_values(b.column(columns.index(self.label)), self.label, self.positive,
                             self.label_text, self.what)
            ok = ~np.isnan(y)
            y0 = np.where(ok, y, 0.0)
            all_ok = bool(ok.all())
            self.y_sum += float(y0.sum())
            self.y_n += int(np.count_nonzero(ok))
        for k, s in enumerate(self.slots):
            v = out.out_f[self.score_at[s.contribution]]
            total = float(v.sum())  # a rule's own score is never NULL; nansum if it were
            self.contrib[k] += total if total == total else float(np.nansum(v))
            if s.truth is None:
                self.truth[k, 0] += n
                hit = None
            else:
                codes = self._codes(out, s.truth)
                # codes are 0 (T), 1 (F), 2 (N): one compare and one sum give all three
                # (F + N = n - T, F + 2N = sum), cheaper than a bincount (an int64 copy)
                hit = codes == 0
                t = int(np.count_nonzero(hit))
                nu = int(codes.sum(dtype=np.int64)) - (n - t)
                self.truth[k] += (t, n - t - nu, nu)
                if self.null_columns and s.columns and nu:
                    cond_null = codes == 2
                    for c in s.columns:
                        self.null_by_col[k][c] += int(np.count_nonzero(cond_null & nulls(c)))
            if s.bound is not None:  # counts per label: cap, floor (whichever it has), none
                labels = self.seg_labels[s.bound]
                codes = self._codes(out, s.bound)
                for j, lab in enumerate(labels[:-1]):  # the last is "none"
                    self.bound[k, _BOUND.index(lab)] += int(np.count_nonzero(codes == j))
            if y is not None:
                if s.truth is None:
                    self.hit_y[k] += float(y0.sum())
                    self.hit_labelled[k] += int(np.count_nonzero(ok))
                else:
                    self.hit_y[k] += float(np.sum(y0, where=hit))
                    self.hit_labelled[k] += t if all_ok else int(np.count_nonzero(ok & hit))
        for g, acc in self.segs.items():
            codes = self._codes(out, g)
            acc += np.bincount(np.where(codes < 0, len(acc) - 1, codes), minlength=len(acc))
        for s in self.scores if self.keep_scores else ():
            self.scores[s].append(np.array(out.out_f[self.score_at[s]], np.float64))
        for s, e in (self.edges or {}).items():
            self.hist[s] += _bin_counts(out.out_f[self.score_at[s]], e)
        by_col = {}
        for key in self.literals:
            by_col.setdefault(key[1], []).append(key)
        for c, keys in by_col.items():
            todo = [k for k in keys if not self.found[k]]
            vals = self.values[c]
            if not todo:  # every literal of this column seen: nothing more to learn
                continue
            a = b.column(columns.index(c))
            if pa.types.is_dictionary(a.type):
                u = a.dictionary.take(pc.unique(a.indices).drop_null())
            else:
                u = pc.unique(a).drop_null()
            u = u.cast(pa.large_string())
            lits = pa.array([k[2] for k in todo], pa.large_string())
            seen = pc.is_in(lits, value_set=u).to_pylist()
            for k, hit in zip(todo, seen):
                self.found[k] = bool(hit)
            if len(vals) < VALUES_KEPT:
                for x in u.slice(0, VALUES_KEPT - len(vals)).to_pylist():
                    vals.setdefault(x, None)

def _bin_counts(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts per bin: bin i holds edges[i-1] <= v < edges[i] (0: below the first edge,
    len(edges): at or above the last), then NULL (NaN) last."""
    v = np.asarray(v, np.float64)
    nan = np.isnan(v)
    at = np.searchsorted(edges, v[~nan], side="right")
    c = np.bincount(at, minlength=len(edges) + 1)
    return np.append(c, int(nan.sum()))


def session_for(m, data, keep, as_of, threads):
    from leadscore_fast.runner import Session

    return Session(m, data, as_of=as_of, threads=threads, chunk_rows=None, keep=list(keep))


# -- the report --------------------------------------------------------------------------------

@dataclass
class RuleHealth:
    """What ``rule_stats`` found: ``rules`` (one dict per rule, in file order), ``warnings``
    (dicts: kind, score, rule, column, message), ``leads``, and with a label the overall
    ``conversion_rate``."""
    leads: int
    rules: list
    warnings: list
    label: str | None = None
    conversion_rate: float | None = None

    def to_table(self) -> pa.Table:
        return pa.Table.from_pylist(self.rules)

    def to_dict(self) -> dict:
        return {"leads": self.leads, "label": self.label,
                "conversion_rate": self.conversion_rate, "rules": self.rules,
                "warnings": self.warnings}


def _warnings(f: Folder) -> list:
    from leadscore_fast.suggest import closest

    out = []
    n = f.n
    for k, s in enumerate(f.slots):
        t, fa, nu = (int(x) for x in f.truth[k])
        base = {"score": s.score, "rule": s.name, "column": None}
        if n and s.truth is not None:
            if t == 0:
                out.append({**base, "kind": "never_fires", "message":
                            f"score {s.score!r}, rule {s.name!r} never fires: its condition "
                            f"is TRUE for none of the {n:,} leads ({fa:,} FALSE, {nu:,} NULL)"})
            elif t == n:
                out.append({**base, "kind": "always_fires", "message":
                            f"score {s.score!r}, rule {s.name!r} always fires: its condition "
                            f"is TRUE for all {n:,} leads"})
            if nu > NULL_HEAVY * n:
                by = sorted(((c, v) for c, v in f.null_by_col[k].items() if v >= 0.5 * nu),
                            key=lambda x: -x[1])
                if by:
                    for c, v in by:
                        out.append({**base, "kind": "null_heavy", "column": c, "message":
                                    f"score {s.score!r}, rule {s.name!r}: its condition is NULL "
                                    f"for {nu / n:.0%} of leads, {v / n:.0%} because column "
                                    f"{c!r} is NULL (a NULL condition never fires; "
                                    f"coalesce({c}, ...) or IS NULL says what a missing value means)"})
                else:
                    out.append({**base, "kind": "null_heavy", "message":
                                f"score {s.score!r}, rule {s.name!r}: its condition is NULL "
                                f"for {nu / n:.0%} of leads"})
    for (where, c, lit), found in f.found.items():
        if found or not n:
            continue
        vals = [v for v in f.values[c] if v is not None]
        near = closest(lit, vals)
        hint = f"; did you mean {near!r}?" if near else (
            f" (it holds e.g. {', '.join(map(repr, vals[:5]))})" if vals else " (it is always NULL)")
        score = where.split("'")[1] if where.startswith("score") else None
        rule = where.split("'")[3] if where.startswith("score") else None
        out.append({"kind": "unknown_value", "score": score, "rule": rule, "column": c,
                    "value": lit, "suggestion": near, "message":
                    f"{where}: column {c!r} never contains {lit!r}{hint}"})
    return out


def rule_stats(model, data, label=None, *, positive=None, as_of=None, threads=None) -> RuleHealth:
    """Per rule of ``model`` over ``data`` (anything ``score`` reads): ``true``/``false``/
    ``null`` counts of its condition, ``share`` (TRUE / leads), ``mean_contribution`` (over
    every lead), ``mean_when_hit``, ``capped``/``floored`` (hits bound by the cap or floor),
    with ``label`` (bool, 0/1 or text such as yes/no) ``conversion_hits`` and ``lift``; and
    the warnings (never / always fires, a string literal the column never contains with a
    "did you mean", a condition NULL for most leads because of a column's NULLs)."""
    from leadscore_fast.as_of import pinned
    from leadscore_fast.compiler import as_schema
    from leadscore_fast.labels import check_label
    from leadscore_fast.sources import open_source

    m = as_model(model)
    source = open_source(data)
    schema = as_schema(source.schema)
    text = False if label is None else check_label(schema, label, positive, "rules")
    aug, slots, literals = augment(m, schema)
    keep = sorted({c for _, c, _ in literals} | ({label} if label else set()))
    ses = session_for(aug, source, keep, pinned(as_of, m), threads)
    f = Folder(m, ses, slots, literals, label=label, label_text=text, positive=positive)
    for out in ses.batches(materialize=True):
        f.add(out)
    return _report(f, label)


def _report(f: Folder, label) -> RuleHealth:
    n = f.n
    overall = f.y_sum / f.y_n if label and f.y_n else None
    rules = []
    for k, s in enumerate(f.slots):
        t, fa, nu = (int(x) for x in f.truth[k])
        r = {"score": s.score, "rule": s.name, "condition": s.rule.when.text if s.rule.when else None,
             "true": t, "false": fa, "null": nu, "share": t / n if n else None,
             "mean_contribution": float(f.contrib[k] / n) if n else None,
             "mean_when_hit": float(f.contrib[k] / t) if t else None,
             "capped": int(f.bound[k, 0]) if s.bound else 0,
             "floored": int(f.bound[k, 1]) if s.bound else 0}
        if label:
            rate = float(f.hit_y[k] / f.hit_labelled[k]) if f.hit_labelled[k] else None
            r["conversion_hits"] = rate
            r["lift"] = float(rate / overall) if rate is not None and overall else None
        rules.append(r)
    return RuleHealth(leads=n, rules=rules, warnings=_warnings(f), label=label,
                      conversion_rate=overall)

