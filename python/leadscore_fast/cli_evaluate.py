"""``leadscore evaluate``: how well a score of MODEL separates conversions in INPUT (AUC, KS,
gains per decile, conversion per segment), what a sales capacity or a threshold catches, and
optionally a plot of the gains curve and the per-segment conversion."""
from __future__ import annotations

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, open_input,
                                       report_options, table)
from leadscore_fast.report_output import Report, Section, emit, pct, times

__all__ = ["evaluate_cmd"]


@click.command("evaluate")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--label", required=True, metavar="COL",
              help="Outcome column (bool, 0/1, or text such as yes/no), e.g. converted.")
@click.option("--score", "score_name", default="total", show_default=True, metavar="SCORE",
              help="The score to evaluate.")
@click.option("--positive", metavar="VALUE", help="For a text --label: the value that means a "
              "conversion (default: yes/y/true/1 against no/n/false/0, any case).")
@click.option("--capacity", type=click.IntRange(min=0), metavar="N",
              help="Sales can take N leads: the threshold that fits them and what it catches.")
@click.option("--threshold", type=float, metavar="T",
              help="An MQL threshold: the leads at or above it and what they catch.")
@click.option("--plot", metavar="FILE.png", help="Draw the gains curve and the per-segment "
              "conversion (needs matplotlib: pip install leadscore_fast[plot]).")
@report_options("evaluation")
@errors_to_exit
def evaluate_cmd(model, input_path, label, score_name, positive, capacity, threshold, plot,
                 as_of, threads, input_format, delimiter, null_values, report_format):
    """Evaluate a score of MODEL against the outcome column --label of INPUT.

    JSON: lf.evaluate(...).to_dict(). CSV: sections summary, deciles, segments, capacity,
    threshold (when asked for) and histogram (a row per bin)."""
    from leadscore_fast.evaluation import evaluate
    from leadscore_fast.model import Model

    m = Model.from_yaml(model)
    source = open_input(input_path, input_format, delimiter, null_values)
    ev = evaluate(m, source, label, score_name, positive=positive, capacity=capacity,
                  threshold=threshold, as_of=as_of_option_value(as_of), threads=threads)
    if plot:
        from leadscore_fast.evaluation_plot import save_plot

        save_plot(ev, plot)
    emit(Report(ev.to_dict(), sections(ev), lambda out: _print(out, ev, plot)), report_format)


def sections(ev) -> list:
    """The tables of an evaluation, for CSV."""
    d = ev.to_dict()
    summary = {k: d[k] for k in ("score", "leads", "conversions", "conversion_rate", "auc", "ks",
                                 "ks_at", "unlabelled")}
    h = ev.histogram
    bins = [{"lo": lo, "hi": hi, "converted": c, "not_converted": n}
            for lo, hi, c, n in zip(h["edges"], h["edges"][1:], h["converted"],
                                    h["not_converted"])]
    out = [Section("summary", [summary]), Section("deciles", ev.deciles),
           Section("segments", ev.segments)]
    out += [Section(what, [r]) for what, r in (("capacity", ev.capacity),
                                                ("threshold", ev.threshold)) if r is not None]
    return out + [Section("histogram", bins)]


def _print(out, ev, plot) -> None:
    rate = pct(ev.rate)
    auc = "-" if ev.auc is None else f"{ev.auc:.4f}"
    ks = "-" if ev.ks is None else f"{ev.ks:.4f} (at {ev.score} >= {ev.ks_at:g})"
    out.print(f"[bold]{ev.score}[/bold]: {ev.leads:,} labelled leads, {ev.conversions:,} "
              f"conversions ({rate}); ROC AUC {auc}; KS {ks}"
              + (f"; {ev.unlabelled:,} left out (NULL label or score)" if ev.unlabelled else ""))
    t = table("decile", "score", "leads", "conversions", "rate", "gains", "lift")
    for d in ev.deciles:
        t.add_row(str(d["decile"]), f"{d['min_score']:g} – {d['max_score']:g}", f"{d['leads']:,}",
                  f"{d['conversions']:,}", pct(d["rate"]), pct(d["gains"]), times(d["lift"]))
    out.print(t)
    for name in dict.fromkeys(s["segmentation"] for s in ev.segments):
        t = table(name, "leads", "share", "conversions", "rate", "lift")
        for s in (s for s in ev.segments if s["segmentation"] == name):
            t.add_row("(none)" if s["segment"] is None else s["segment"], f"{s['leads']:,}",
                      pct(s["share"]), f"{s['conversions']:,}", pct(s["rate"]),
                      times(s["lift"]))
        out.print(t)
    for what, r in (("capacity", ev.capacity), ("threshold", ev.threshold)):
        if r is None:
            continue
        head = (f"sales capacity {r['capacity']:,} leads: threshold {ev.score} >= {r['threshold']:g}"
                if what == "capacity" and r["threshold"] is not None else
                f"sales capacity {r.get('capacity', 0):,} leads: no threshold fits (the top "
                "score alone has more leads)" if what == "capacity" else
                f"threshold {ev.score} >= {r['threshold']:g}")
        out.print(f"{head}: {r['leads']:,} leads, {r['conversions']:,} conversions "
                  f"({pct(r['rate'])} of them convert), {pct(r['caught'])} of all conversions")
    if plot:
        out.print(f"plot written to {plot}")
