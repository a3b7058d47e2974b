"""``leadscore drift``: how CURRENT differs from REF under MODEL (drift_report.py): PSI per
score over the reference's deciles, segment shares, rule hit rates, input NULL rates."""
from __future__ import annotations

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, open_input,
                                       report_options, table)
from leadscore_fast.report_output import Report, Section, emit, pct, pp

__all__ = ["drift_cmd"]


@click.command("drift")
@click.argument("model", metavar="MODEL")
@click.argument("reference", metavar="REF")
@click.argument("current", metavar="CURRENT")
@click.option("--bins", type=click.IntRange(min=2), default=10, show_default=True,
              help="Quantile bins taken from REF for the PSI (10: deciles).")
@report_options("report", "Reference time for days_since() (ISO-8601), "
                "the same for both inputs.")
@errors_to_exit
def drift_cmd(model, reference, current, bins, as_of, threads, input_format, delimiter,
              null_values, report_format):
    """Drift of MODEL's scores, segments, rules and inputs from REF to CURRENT.

    JSON: lf.drift(...).to_dict(). CSV: sections scores, segments, rules, columns and
    warnings (a row per message)."""
    from leadscore_fast.drift_report import drift
    from leadscore_fast.model import Model

    m = Model.from_yaml(model)
    ref = open_input(reference, input_format, delimiter, null_values)
    cur = open_input(current, input_format, delimiter, null_values)
    d = drift(m, ref, cur, bins=bins, as_of=as_of_option_value(as_of), threads=threads)
    sections = [Section("scores", d.scores), Section("segments", d.segments),
                Section("rules", d.rules), Section("columns", d.columns),
                Section("warnings", [{"message": w} for w in d.warnings])]
    emit(Report(d.to_dict(), sections, lambda out: _print(out, d)), report_format)


def _print(out, d) -> None:
    t = table(f"score ({d.reference_leads:,} → {d.current_leads:,} leads)", "PSI", "")
    for s in d.scores:
        t.add_row(s["score"], "-" if s["psi"] is None else f"{s['psi']:.4f}", s["flag"])
    out.print(t)
    t = table("segment", "reference", "current", "change")
    for s in d.segments:
        t.add_row(f"{s['segmentation']} = {s['segment'] if s['segment'] is not None else '(none)'}",
                  pct(s["reference_share"]), pct(s["current_share"]), pp(s["change"]))
    if d.segments:
        out.print(t)
    t = table("score / rule hit rate", "reference", "current", "change")
    for r in d.rules:
        t.add_row(f"{r['score']} / {r['rule']}", pct(r["reference_hit_rate"]),
                  pct(r["current_hit_rate"]), pp(r["change"]))
    if d.rules:
        out.print(t)
    t = table("input column NULL rate", "reference", "current", "change")
    for c in d.columns:
        t.add_row(c["column"] + ("  (!)" if c["flagged"] else ""), pct(c["reference_null_rate"]),
                  pct(c["current_null_rate"]), pp(c["change"]))
    out.print(t)
    if d.warnings:
        for w in d.warnings:
            out.print(f"warning: {w}", markup=False)
    else:
        out.print("no drift past the thresholds")
