"""``leadscore rules``: per rule of MODEL over INPUT its condition's TRUE / FALSE / NULL
counts, share, mean contribution, cap/floor hits (with --label conversion among hits and
lift), then the warnings (rule_stats.py). ``print_warnings`` is shared with ``check --data``."""
from __future__ import annotations

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, open_input,
                                       report_options, table)
from leadscore_fast.report_output import Report, Section, emit, pct, times

__all__ = ["rules_cmd", "print_warnings"]


def print_warnings(out, warnings) -> None:
    if not warnings:
        out.print("no warnings")
        return
    out.print(f"[bold]{len(warnings)} warning{'s' if len(warnings) != 1 else ''}[/bold]")
    for w in warnings:
        out.print(f"  warning: {w['message']}", markup=False)


def _g(x) -> str:
    return "-" if x is None else f"{x:,.4g}"


@click.command("rules")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--label", metavar="COL", help="Outcome column (bool, 0/1, or text such as "
              "yes/no): adds conversion among each rule's hits and its lift.")
@click.option("--positive", metavar="VALUE", help="For a text --label: the value that means a "
              "conversion (default: yes/y/true/1 against no/n/false/0, any case).")
@report_options("report")
@errors_to_exit
def rules_cmd(model, input_path, label, positive, as_of, threads, input_format, delimiter,
              null_values, report_format):
    """Rule health of MODEL over INPUT: hits, share, contribution, caps, and warnings.

    JSON: lf.rule_stats(...).to_dict(). CSV: sections rules (a row per rule) and warnings."""
    from leadscore_fast.model import Model
    from leadscore_fast.rule_health import rule_stats

    m = Model.from_yaml(model)
    source = open_input(input_path, input_format, delimiter, null_values)
    h = rule_stats(m, source, label, positive=positive, as_of=as_of_option_value(as_of),
                   threads=threads)
    emit(Report(h.to_dict(), [Section("rules", h.rules), Section("warnings", h.warnings)],
                lambda out: _print(out, h, label)), report_format)


def _print(out, h, label) -> None:
    cols = ["TRUE", "FALSE", "NULL", "share", "mean adds", "adds when hit", "capped", "floored"]
    cols += ["conversion", "lift"] if label else []
    t = table("score / rule", *cols)
    for r in h.rules:
        cells = [f"{r['true']:,}", f"{r['false']:,}", f"{r['null']:,}", pct(r["share"]),
                 _g(r["mean_contribution"]), _g(r["mean_when_hit"]), f"{r['capped']:,}",
                 f"{r['floored']:,}"]
        if label:
            cells += [pct(r["conversion_hits"]), times(r["lift"])]
        t.add_row(f"{r['score']} / {r['rule']}", *cells)
    t.title = f"{h.leads:,} leads" + (f", conversion {pct(h.conversion_rate)}" if label else "")
    out.print(t)
    print_warnings(out, h.warnings)
