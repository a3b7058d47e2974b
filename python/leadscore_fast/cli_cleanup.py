"""``leadscore cleanup``: the dead leads of INPUT (a score below --below, and/or --inactive
TRUE) written atomically to -o (the key, the reason, the score, the segments), and how many
leads, and what share, each reason accounts for (cleanup.py)."""
from __future__ import annotations

import click

from leadscore_fast.cli_common import (as_of_option_value, errors_to_exit, open_input,
                                       report_options, table)
from leadscore_fast.report_output import Report, Section, emit

__all__ = ["cleanup_cmd"]


@click.command("cleanup")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--score", "score_name", default="total", show_default=True, metavar="SCORE",
              help="The score --below applies to (and that the output shows).")
@click.option("--below", type=float, metavar="T", help="Dead when SCORE < T.")
@click.option("--inactive", metavar="CONDITION", help="Dead when this is TRUE, e.g. "
              "\"days_since(last_activity_at) > 365\" (NULL is not dead).")
@click.option("--key", metavar="COL", help="Lead id column written out (default: the input "
              "row number, as `row`).")
@click.option("-o", "--output", metavar="OUTPUT", help="Write the dead leads here (.parquet, "
              ".csv, .arrow), atomically.")
@report_options("summary")
@errors_to_exit
def cleanup_cmd(model, input_path, score_name, below, inactive, key, output, as_of, threads,
                input_format, delimiter, null_values, report_format):
    """List the dead leads of INPUT under MODEL: low score and/or inactive.

    JSON: the counts (leads, dead, share, reasons, output). CSV: a row per reason (reason,
    leads, share), then "dead (any reason)" and "all leads"."""
    from leadscore_fast.cleanup import cleanup
    from leadscore_fast.model import Model
    from leadscore_fast.sinks import write_output

    m = Model.from_yaml(model)
    source = open_input(input_path, input_format, delimiter, null_values)
    c = cleanup(m, source, score=score_name, below=below, inactive=inactive, key=key,
                as_of=as_of_option_value(as_of), threads=threads)
    if output:
        write_output(c.dead, output)
    s = c.summary()
    rows = s["reasons"] + [{"reason": "dead (any reason)", "leads": s["dead"], "share": s["share"]},
                           {"reason": "all leads", "leads": s["leads"],
                            "share": 1.0 if s["leads"] else None}]
    emit(Report({**s, "output": output}, [Section("reasons", rows, ["reason", "leads", "share"])],
                lambda out: _print(out, s, output)), report_format)


def _print(out, s, output) -> None:
    t = table("reason", "leads", "share of all")
    for r in s["reasons"]:
        t.add_row(r["reason"], f"{r['leads']:,}", f"{100 * (r['share'] or 0):.1f}%")
    t.add_row("[bold]dead (any reason)[/bold]", f"{s['dead']:,}", f"{100 * (s['share'] or 0):.1f}%")
    t.title = f"{s['leads']:,} leads"
    out.print(t)
    if output:
        out.print(f"{s['dead']:,} dead leads → {output}")
