"""``leadscore drift``: how CURRENT differs from REF under MODEL (drift_report.py): PSI per
score over the reference's deciles, segment shares, rule hit rates, input NULL rates."""
from __future__ import annotations

import json

import click

from leadscore_fast.cli_common import (as_of_option_value, console, errors_to_exit,
                                       open_input, report_options, table)

__all__ = ["drift_cmd"]


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _pp(x) -> str:
    return "-" if x is None else f"{100 * x:+.1f} pp"


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
              null_values, as_json):
    """Drift of MODEL's scores, segments, rules and inputs from REF to CURRENT."""
    from leadscore_fast.drift_report import drift
    from leadscore_fast.model import Model

    m = Model.from_yaml(model)
    ref = open_input(reference, input_format, delimiter, null_values)
    cur = open_input(current, input_format, delimiter, null_values)
    d = drift(m, ref, cur, bins=bins, as_of=as_of_option_value(as_of), threads=threads)
    if as_json:
        click.echo(json.dumps(d.to_dict(), indent=2))
        return
    out = console()
    t = table(f"score ({d.reference_leads:,} → {d.current_leads:,} leads)", "PSI", "")
    for s in d.scores:
        t.add_row(s["score"], "-" if s["psi"] is None else f"{s['psi']:.4f}", s["flag"])
    out.print(t)
    t = table("segment", "reference", "current", "change")
    for s in d.segments:
        t.add_row(f"{s['segmentation']} = {s['segment'] if s['segment'] is not None else '(none)'}",
                  _pct(s["reference_share"]), _pct(s["current_share"]), _pp(s["change"]))
    if d.segments:
        out.print(t)
    t = table("score / rule hit rate", "reference", "current", "change")
    for r in d.rules:
        t.add_row(f"{r['score']} / {r['rule']}", _pct(r["reference_hit_rate"]),
                  _pct(r["current_hit_rate"]), _pp(r["change"]))
    if d.rules:
        out.print(t)
    t = table("input column NULL rate", "reference", "current", "change")
    for c in d.columns:
        t.add_row(c["column"] + ("  (!)" if c["flagged"] else ""), _pct(c["reference_null_rate"]),
                  _pct(c["current_null_rate"]), _pp(c["change"]))
    out.print(t)
    if d.warnings:
        for w in d.warnings:
            out.print(f"warning: {w}", markup=False)
    else:
        out.print("no drift past the thresholds")
