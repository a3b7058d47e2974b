"""``leadscore rescore``: score a database table and write the scores back into it (or into
a table of their own), all or nothing, with a progress bar and a summary (text, or JSON for
scripts). The work is :func:`leadscore_fast.rescoring.rescore`; this is its command line."""
from __future__ import annotations

import json

import click

from leadscore_fast.cli_common import (as_of_option_value, console, errors_to_exit, progress,
                                       table)

__all__ = ["rescore_cmd"]


@click.command("rescore")
@click.argument("model", metavar="MODEL")
@click.option("--db", "uri", required=True, metavar="URI",
              help="postgresql://user@host:port/db, sqlite:///path.db or "
              "duckdb:///path.duckdb (sqlite:////abs/path.db for an absolute path).")
@click.option("--table", required=True, metavar="TABLE", help="The table of leads to score.")
@click.option("--schema", metavar="SCHEMA", help="The PostgreSQL or DuckDB schema holding TABLE, "
              "--into and --history (default: the search path).")
@click.option("--key", required=True, metavar="COL",
              help="The column identifying a lead (unique, not NULL), e.g. lead_id.")
@click.option("--into", metavar="TABLE", help="Write key + scores + segments to this table "
              "(replaced as a whole) instead of adding them to TABLE.")
@click.option("--history", metavar="TABLE", help="Append (key, scored_at, model, scores, "
              "segments) of every lead whose segment changed to this table (created if "
              "missing).")
@click.option("--where", metavar="SQL", help="Rescore only the rows matching this SQL "
              "condition: your own SQL, run as it is in your database (WHERE (SQL)).")
@click.option("--in-database", is_flag=True, help="Compute the scores inside the database "
              "(the model as SQL, one UPDATE) instead of moving the rows out and back.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601; "
              "default: the model's as_of, else now, UTC).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@errors_to_exit
def rescore_cmd(model, uri, table, schema, key, into, history, where, in_database, as_of,
                threads, as_json, quiet):
    """Score TABLE of the database at --db with MODEL and write the scores back.

    Without --into, each score becomes a DOUBLE PRECISION column of TABLE and each
    segmentation a TEXT column (added when missing). Everything is written in one
    transaction: on any failure, or if the process is killed, no table changes.
    """
    from leadscore_fast.model import Model
    from leadscore_fast.rescoring import rescore
    from leadscore_fast.sources.database import DatabaseSource

    m = Model.from_yaml(model)
    as_of = as_of_option_value(as_of)
    err = console(stderr=True)
    show_bar = not (quiet or in_database or as_json) and err.is_terminal
    total = DatabaseSource(uri, table, where=where, schema=schema).num_rows() if show_bar else None
    with progress(err, not show_bar, total, "rescoring") as advance:
        result = rescore(m, uri, table=table, schema=schema, key=key, into=into, history=history,
                         where=where, as_of=as_of, threads=threads, in_database=in_database,
                         progress=advance)
    if as_json:
        click.echo(json.dumps(dict(result.to_dict(), model=m.name), indent=2))
    elif not quiet:
        _print(err, result, uri)


def _print(out, r, uri) -> None:
    from leadscore_fast.sources.database import redact

    how = " (in the database)" if r.in_database else ""
    if r.into:
        wrote = f"{r.updated:,} rows written to table {r.into!r}"
    else:
        wrote = f"{r.updated:,} rows updated" + (
            f", {r.rows - r.updated:,} already up to date" if r.updated < r.rows else "")
    out.print(f"rescored {r.rows:,} rows of {redact(uri)} table {r.table!r} in "
              f"{r.seconds:.2f} s{how}: {wrote}", highlight=False, soft_wrap=True)
    if r.history:
        out.print(f"history: {r.changed:,} leads changed segment → table {r.history!r}",
                  highlight=False, soft_wrap=True)
    for name, counts in r.segments.items():
        t = table(name, "leads", "share")
        for label, n in counts.items():
            share = f"{100 * n / r.rows:.1f}%" if r.rows else "-"
            t.add_row("(none)" if label is None else str(label), f"{n:,}", share)
        out.print(t)
