"""``leadscore explain``: for each lead matching --where, every rule (its condition TRUE /
FALSE / NULL, raw points, cap or floor, contribution), the score, and every segment case."""
from __future__ import annotations

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, open_input,
                                       report_options, table)
from leadscore_fast.report_output import Report, Section, emit

__all__ = ["explain_cmd"]


@click.command("explain")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--where", required=True, metavar="CONDITION",
              help="Which leads, as an expression, e.g. \"lead_id = 123\".")
@click.option("--keep", multiple=True, metavar="COL", help="Input column to show (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True,
              help="At most this many leads.")
@report_options("explanation")
@errors_to_exit
def explain_cmd(model, input_path, where, keep, limit, as_of, threads, input_format, delimiter,
                null_values, report_format):
    """Explain MODEL's scores and segments for the leads of INPUT matching --where.

    JSON: a list, per lead its kept columns, scores (each rule) and segments (each case).
    CSV: sections rules (a row per lead and rule, the clamp as rule "(range)") and
    segments (a row per lead and segment case); both start with lead (1, 2, ...) and the
    --keep columns."""
    from leadscore_fast.explanations import explain_leads
    from leadscore_fast.model import Model

    m = Model.from_yaml(model)
    source = open_input(input_path, input_format, delimiter, null_values)
    leads = explain_leads(m, source, where, keep=list(keep), limit=limit,
                          as_of=as_of_option_value(as_of), threads=threads)
    emit(Report(leads, sections(leads, keep), lambda out: _print(out, leads, where)),
         report_format)


def sections(leads, keep) -> list:
    """The rules and segment cases of explained leads, for CSV."""
    rules, cases = [], []
    for n, lead in enumerate(leads, 1):
        who = {"lead": n, **lead["keep"]}
        for s in lead["scores"]:
            base = {**who, "score": s["score"], "value": s["value"]}
            rules += [{**base, **r} for r in s["rules"]] or [base]  # a derived score: its value
            if s["range"] is not None:
                rules.append({**base, "rule": "(range)", "contribution": s["range"]})
        for g in lead["segments"]:
            for c in g["cases"]:
                cases.append({**who, "segmentation": g["segmentation"], "segment": g["segment"],
                              "case": c["label"], "condition": c["condition"]})
    head = ["lead", *keep]
    return [Section("rules", rules, head + ["score", "value", "rule", "condition", "points",
                                           "cap", "floor", "contribution"]),
            Section("segments", cases, head + ["segmentation", "segment", "case"])]


def _print(out, leads, where) -> None:
    if not leads:
        out.print(f"no lead matches {where}")
        return
    for n, lead in enumerate(leads, 1):
        who = ", ".join(f"{k} = {v}" for k, v in lead["keep"].items())
        out.print(f"[bold]lead {n}[/bold]" + (f" ({who})" if who else ""))
        for s in lead["scores"]:
            if not s["rules"]:
                out.print(f"  {s['score']} = {_n(s['value'])} (derived)")
                continue
            t = table(f"{s['score']} = {_n(s['value'])}", "when", "points", "cap/floor", "adds")
            for r in s["rules"]:
                bound = _bound(r)
                t.add_row(r["rule"], r["condition"] or "(always)", _n(r["points"]), bound,
                          _n(r["contribution"]))
            if s["range"] is not None:
                t.add_row("(range)", "", "", "clamped", _n(s["range"]))
            out.print(t)
        for g in lead["segments"]:
            seg = g["segment"] if g["segment"] is not None else "(none)"
            why = "; ".join(f"{c['label']}: {c['condition'] or 'default'}" for c in g["cases"])
            out.print(f"  {g['segmentation']} = [bold]{seg}[/bold]  ({why})")


def _n(x) -> str:
    return "NULL" if x is None else f"{x:g}"


def _bound(r) -> str:
    p, c, f = r["points"], r["cap"], r["floor"]
    if r["contribution"] == 0 or p is None:
        return ""
    if c is not None and p > c:
        return f"capped at {c:g}"
    if f is not None and p < f:
        return f"floored at {f:g}"
    return ""
