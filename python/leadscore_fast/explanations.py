"""Why a lead has its score: per-rule contributions, the top reasons per lead, and a full
account of one lead's rules and segments.

The engine computes it in the same pass as the scores: the model is compiled with one more
score per rule, that rule alone (its condition, points, cap and floor, no range), so each
contribution is exactly what the rule added to its score's left-to-right sum. A score's
``range`` clamp shows as a final ``(range)`` entry with its adjustment, so that the entries
of a lead sum to its score. Derived scores (``expr``) have no rules and no reasons.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from leadscore_fast.compiler import as_model
from leadscore_fast.model import Score, Segmentation, SegmentCase, Src
from leadscore_fast.queries import QueryError

__all__ = ["explain", "explain_leads", "RANGE"]

RANGE = "(range)"


@dataclass
class ContributionPlan:
    """The augmented model and, per rule score, its rules' contribution columns."""

    model: object
    rules: dict  # score name -> [(rule name, contribution score name)]
    ranged: dict  # score name -> bool (has a range)


def fresh_name(base: str, taken: set) -> str:
    name, k = base, 1
    while name in taken:
        name, k = f"{base}~{k}", k + 1
    taken.add(name)
    return name


def plan_contributions(m) -> ContributionPlan:
    taken = set(m.score_names) | set(m.segment_names)
    scores, rules, ranged = [], {}, {}
    for s in m.scores:
        scores.append(s)
        if s.rules is None:
            continue
        rules[s.name], ranged[s.name] = [], s.range is not None
        for i, r in enumerate(s.rules):
            name = fresh_name(f"__explain.{s.name}.{i}", taken)
            scores.append(Score(name=name, rules=[r], line=s.line))
            rules[s.name].append((r.name, name))
    out = copy.copy(m)
    out.scores = scores
    out.segmentations = list(m.segmentations)
    return ContributionPlan(out, rules, ranged)


def _floats(arr) -> np.ndarray:
    """A score column as float64 numpy, without a copy (scores are never NULL)."""
    return np.asarray(arr.to_numpy(zero_copy_only=False), np.float64)


def _contributions(batch: pa.RecordBatch, plan: ContributionPlan, score: str):
    """(per rule its contributions, the clamp adjustment or None) of one batch."""
    cols = [_floats(batch.column(batch.schema.get_field_index(c))) for _, c in plan.rules[score]]
    if not plan.ranged[score]:
        return cols, None
    total = np.zeros(batch.num_rows)
    for c in cols:  # the engine's left-to-right float64 sum, before the clamp
        total += c
    v = _floats(batch.column(batch.schema.get_field_index(score)))
    adj = v - total
    for _ in range(4):  # v - total is inexact when they differ by more than 2×: nudge it until
        off = v - (total + adj)  # total + adj gives v exactly (an ulp or two)
        if not off.any():
            break
        adj = np.where(off != 0, np.nextafter(adj, adj + off), adj)
    return cols, adj


def _reasons(cols: list, adj, names: list[str], top: int, n: int) -> pa.ListArray:
    """list<struct<rule, points>>: the ``top`` largest |contributions| (ties in rule order,
    zeros left out), then the clamp's adjustment where it is not zero. The selection runs in
    the engine (``_engine.top_reasons``, over the cores); ``rule`` is dictionary-encoded."""
    from leadscore_fast import _engine
    from leadscore_fast.vm.pool import default_threads

    offsets, rules, points = _engine.top_reasons(cols, adj, n, top, default_threads())
    k = len(points) // 8
    idx = pa.Array.from_buffers(pa.int32(), k, [None, pa.py_buffer(rules)])
    rule = pa.DictionaryArray.from_arrays(idx, pa.array(list(names) + [RANGE], pa.string()))
    pts = pa.Array.from_buffers(pa.float64(), k, [None, pa.py_buffer(points)])
    struct = pa.StructArray.from_arrays([rule, pts], names=["rule", "points"])
    offs = pa.Array.from_buffers(pa.int32(), n + 1, [None, pa.py_buffer(offsets)])
    return pa.ListArray.from_arrays(offs, struct)


def _reasons_text(reasons: pa.ListArray) -> pa.Array:
    """``"+15 target industry, -40 unsubscribed"`` per lead."""
    flat = reasons.flatten()
    pts = flat.field("points")
    rule = flat.field("rule")
    if pa.types.is_dictionary(rule.type):
        rule = rule.cast(pa.string())
    sign = pc.if_else(pc.greater_equal(pts, 0), "+", "-")
    num = pc.cast(pc.round(pc.abs(pts), 2), pa.string())  # two decimals at most
    num = pc.replace_substring_regex(num, r"\.0$", "")  # 15.0 reads as 15
    entry = pc.binary_join_element_wise(pc.binary_join_element_wise(sign, num, ""),
                                        rule, " ")
    lists = pa.ListArray.from_arrays(reasons.offsets, entry)
    return pc.binary_join(lists, ", ")


def explain(model, data, *, top: int = 3, keep=None, contributions: bool = False,
            reasons_text: bool = False, as_of=None, threads=None, chunk_rows=None) -> pa.Table:
    """Score ``data`` and say why: the ``keep`` input columns, every score and segment, then
    per rule score ``reasons_<score>`` (list<struct<rule, points>>, rule dictionary-encoded:
    the ``top`` rules with
    the largest absolute contribution, ties in file order, then ``(range)`` for the clamp),
    or with ``contributions=True`` one float64 column ``<score>.<rule>`` per rule (and
    ``<score>.(range)`` for a ranged score) instead; ``reasons_text=True`` adds
    ``reasons_<score>_text`` ("+15 target industry, -40 unsubscribed", for a CRM field).
    The reasons are picked in the scoring pass (explain_pass.py: on the explain program's
    fused kernel where scoring would run one, else on the native executor), a reasons column
    chunked per executor block; without it (the interpreter asked for, a program the native
    executor cannot run) and for ``contributions``, the contribution columns are computed and
    the reasons picked from them. ``threads``/``chunk_rows``: as ``lf.score``'s."""
    from leadscore_fast.scoring import score as run

    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise QueryError(f"explain: top must be a positive integer, got {top!r}")
    m = as_model(model)
    plan = plan_contributions(m)
    keep = list(keep or [])

    def one(batch):
        cols, names = [], []
        for k in keep + m.score_names + m.segment_names:
            cols.append(batch.column(batch.schema.get_field_index(k)))
            names.append(k)
        for s, rules in plan.rules.items():
            c, adj = _contributions(batch, plan, s)
            rule_names = [r for r, _ in rules]
            reasons = None
            n = batch.num_rows
            if contributions:
                for j, r in enumerate(rule_names):
                    cols.append(pa.array(c[j]))
                    names.append(f"{s}.{r}")
                if adj is not None:
                    cols.append(pa.array(adj))
                    names.append(f"{s}.{RANGE}")
            else:
                reasons = _reasons(c, adj, rule_names, top, n)
                cols.append(reasons)
                names.append(f"reasons_{s}")
            if reasons_text:
                if reasons is None:
                    reasons = _reasons(c, adj, rule_names, len(rule_names), n)
                cols.append(_reasons_text(reasons))
                names.append(f"reasons_{s}_text")
        return pa.RecordBatch.from_arrays(cols, names=names)

    if not contributions:
        table = _one_pass(m, plan, data, top, keep, reasons_text, as_of, threads, chunk_rows)
        if table is not None:
            return table
    stream = run(plan.model, data, keep=keep or None, as_of=as_of, threads=threads,
                 chunk_rows=chunk_rows, stream=True)
    batches = [one(b) for b in stream]
    if not batches:  # no rows: the same columns, empty
        empty = run(plan.model, pa.table({}) if False else data, keep=keep or None, as_of=as_of,
                    threads=threads)
        batches = [one(pa.RecordBatch.from_pylist([], schema=empty.schema))]
    return pa.Table.from_batches(batches)


def _one_pass(m, plan, data, top, keep, reasons_text, as_of, threads,
              chunk_rows) -> pa.Table | None:
    """explain's table with the reasons picked in the scoring pass (explain_pass.py), or None
    where that pass cannot run the program (then the contribution columns are materialised)."""
    from leadscore_fast import explain_pass
    from leadscore_fast.runner import Session

    ses = Session(plan.model, data, as_of=as_of, threads=threads, chunk_rows=chunk_rows,
                  keep=keep)
    if explain_pass.unsupported(ses.prep) is not None:
        return None
    requests = [(s, top) for s in plan.rules]
    names = keep + m.score_names + m.segment_names
    for s in plan.rules:
        names += [f"reasons_{s}"] + ([f"reasons_{s}_text"] if reasons_text else [])
    columns: list[list] = [[] for _ in names]
    for batch, scores, segs, lists in explain_pass.reasons_tables(ses, plan, m, requests):
        row = [batch.column(i) for i in ses.keep_idx] + scores + segs
        for chunks in lists:
            row.append(chunks)
            if reasons_text:  # the text of the same reasons
                row.append([_reasons_text(c) for c in chunks])
        for col, part in zip(columns, row):
            col.extend(part if isinstance(part, list) else [part])
    if not columns[len(keep)]:  # no batches at all: the other path gives the empty table
        return None
    return pa.Table.from_arrays([pa.chunked_array(c) for c in columns], names=names)


# -- one lead in full ------------------------------------------------------------------------

def truth_case(name: str, when: Src) -> Segmentation:
    """A segmentation whose label is the condition's truth value: T, F or N (NULL)."""
    return Segmentation(name=name, cases=[SegmentCase("T", when), SegmentCase("F", Src(f"NOT ({when.text})")),
                                          SegmentCase("N")])


def explain_leads(model, data, where: str, *, keep=None, limit: int = 20, as_of=None,
                  threads=None) -> list[dict]:
    """Every rule and segment case of the leads satisfying ``where`` (at most ``limit``):
    per lead ``{"keep": {...}, "scores": [{"score", "value", "rules": [{"rule", "condition"
    ("TRUE"/"FALSE"/"NULL"/None without one), "points", "cap", "floor", "contribution"}],
    "range": adjustment or None}], "segments": [{"segmentation", "segment", "cases":
    [{"label", "condition"}]}]}``."""
    from leadscore_fast.queries import select

    m = as_model(model)
    plan = plan_contributions(m)
    aug = plan.model
    taken = set(aug.score_names) | set(aug.segment_names)
    cond_of, raw_of, case_of = {}, {}, {}
    extra_scores, extra_segs = [], []
    for s in m.scores:
        for i, r in enumerate(s.rules or ()):
            raw = fresh_name(f"__raw.{s.name}.{i}", taken)
            extra_scores.append(Score(name=raw, expr=r.points))  # a NULL reads as 0 here:
            null = fresh_name(f"__null.{s.name}.{i}", taken)  # so whether it is NULL, apart
            extra_segs.append(truth_case(null, Src(f"({r.points.text}) IS NULL")))
            raw_of[(s.name, i)] = (raw, null)
            if r.when is not None:
                cond = fresh_name(f"__when.{s.name}.{i}", taken)
                extra_segs.append(truth_case(cond, r.when))
                cond_of[(s.name, i)] = cond
    for g in m.segmentations:
        for i, c in enumerate(g.cases):
            if c.when is not None:
                name = fresh_name(f"__case.{g.name}.{i}", taken)
                extra_segs.append(truth_case(name, c.when))
                case_of[(g.name, i)] = name
    aug.scores = aug.scores + extra_scores
    aug.segmentations = aug.segmentations + extra_segs
    rows = select(aug, data, where, columns=list(keep or []), as_of=as_of, threads=threads)
    out = []
    truth = {"T": "TRUE", "F": "FALSE", "N": "NULL"}
    for row in rows.slice(0, limit).to_pylist():
        lead = {"keep": {k: row[k] for k in keep or []}, "scores": [], "segments": []}
        for s in m.scores:
            entry = {"score": s.name, "value": row[s.name], "rules": [], "range": None}
            if s.rules is not None:
                total = 0.0
                for i, r in enumerate(s.rules):
                    contribution = row[plan.rules[s.name][i][1]]
                    total += contribution
                    cond = cond_of.get((s.name, i))
                    entry["rules"].append({
                        "rule": r.name, "condition": truth[row[cond]] if cond else None,
                        "points": None if row[raw_of[(s.name, i)][1]] == "T" else row[raw_of[(s.name, i)][0]],
                        "cap": r.cap, "floor": r.floor,
                        "contribution": contribution})
                if s.range is not None and row[s.name] != total:
                    entry["range"] = row[s.name] - total
            lead["scores"].append(entry)
        for g in m.segmentations:
            cases = [{"label": c.label,
                      "condition": truth[row[case_of[(g.name, i)]]] if (g.name, i) in case_of else None}
                     for i, c in enumerate(g.cases)]
            lead["segments"].append({"segmentation": g.name, "segment": row[g.name], "cases": cases})
        out.append(lead)
    return out
