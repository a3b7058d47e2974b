"""What every ``leadscore`` command shares: errors as one line and exit 2, the input options
(--input-format, --delimiter, --null-values), the report options, rich tables and the progress
bar.

One meaning per option across the CLI: ``--input-format`` is the INPUT file's format,
``--format`` a report's output format (table, json, csv: report_output.py). The commands
without a report (score, check, compile, sql, learn) still take ``--format`` as the old
spelling of ``--input-format`` (``legacy_input_options``), hidden from their help."""
from __future__ import annotations

import functools
import sys
import time

import click

__all__ = ["EXIT_ERROR", "errors_to_exit", "input_options", "legacy_input_options", "INPUT_FORMATS",
           "report_options", "open_input",
           "console", "table", "progress", "as_of_option_value"]

EXIT_ERROR = 2


def errors_to_exit(fn):
    """Turn LeadscoreError into one stderr line + exit 2, Ctrl-C into exit 130."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from leadscore_fast.errors import LeadscoreError

        try:
            return fn(*args, **kwargs)
        except LeadscoreError as e:
            click.echo(str(e), err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("leadscore: interrupted", err=True)
            sys.exit(130)
    return wrapper


def report_options(what: str, as_of_help: str = "Reference time for days_since() (ISO-8601)."):
    """--as-of, --threads, the input options and --format table|json|csv (--json its
    shorthand) for the WHAT, for the commands that read INPUT and report on it (evaluate,
    explain, rules, drift, ...); the command gets ``report_format``."""
    from leadscore_fast.report_output import format_options

    def apply(fn):
        fn = format_options(what)(fn)
        fn = input_options(fn)
        fn = click.option("--threads", type=click.IntRange(min=1),
                          help="Worker threads (default: all).")(fn)
        return click.option("--as-of", metavar="TS", help=as_of_help)(fn)
    return apply


INPUT_FORMATS = ["parquet", "csv", "csv.gz", "ipc", "arrow"]


def input_options(fn):
    """--input-format, --delimiter and --null-values for commands that read an INPUT file."""
    fn = click.option("--null-values", "null_values", multiple=True, metavar="TEXT",
                      help="CSV: a cell value that means NULL besides the empty cell "
                      "(repeatable), e.g. --null-values Select.")(fn)
    fn = click.option("--delimiter", metavar="CHAR", help="CSV field delimiter (default: "
                      "sniffed from the header among , ; tab |).")(fn)
    fn = click.option("--input-format", "input_format", metavar="FMT",
                      type=click.Choice(INPUT_FORMATS),
                      help="Input format (parquet, csv, csv.gz, ipc, arrow), overriding "
                      "the file extension.")(fn)
    return fn


def legacy_input_options(fn):
    """input_options, and ``--format`` as the old spelling of ``--input-format`` (hidden),
    for the commands that print no report: scripts written before --format named a report's
    format keep working there."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        old = kwargs.pop("legacy_format")
        if old is not None:
            if kwargs.get("input_format") not in (None, old):
                raise click.UsageError("--format is the old spelling of --input-format: "
                                       "give one of them")
            kwargs["input_format"] = old
            click.echo("leadscore: --format FMT (the input's format) is now spelled "
                       "--input-format FMT", err=True)
        return fn(*args, **kwargs)

    wrapper = click.option("--format", "legacy_format", hidden=True,
                           type=click.Choice(INPUT_FORMATS),
                           help="The old spelling of --input-format.")(wrapper)
    return input_options(wrapper)


def open_input(path, input_format=None, delimiter=None, null_values=()):
    """The Source for a command's INPUT (a file, a directory or a glob of Parquet files)."""
    from leadscore_fast.sources import open_source

    if delimiter is not None:
        delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    return open_source(path, format=input_format, delimiter=delimiter,
                       null_values=list(null_values) or None)


def as_of_option_value(value):
    """--as-of validated (ISO-8601) and normalised, or None."""
    if value is None:
        return None
    from leadscore_fast.as_of import iso_utc
    from leadscore_fast.yaml_source import model_error

    try:
        return iso_utc(value, "--as-of")
    except ValueError as e:
        raise model_error(str(e)) from None


def console(stderr: bool = False):
    """A rich console; piped or captured output is not squeezed into 80 columns."""
    from rich.console import Console

    c = Console(soft_wrap=False, highlight=False, stderr=stderr)
    if not c.is_terminal:
        c = Console(soft_wrap=False, highlight=False, width=200, stderr=stderr)
    return c


def table(first: str, *numeric: str):
    """A borderless rich table: the first column left-aligned, the others right-aligned."""
    from rich.table import Table

    t = Table(box=None, pad_edge=False)
    t.add_column(first)
    for name in numeric:
        t.add_column(name, justify="right")
    return t


class progress:
    """A rich progress bar on stderr: rows done (of the total when known), rows/s, ETA; a
    no-op when disabled (not a terminal, --quiet, or too little to wait for). Used as
    ``with progress(console, disabled, total, "scoring") as advance: advance(rows)``."""

    def __init__(self, console, disabled: bool, total: int | None, what: str = "scoring"):
        self.console, self.disabled, self.total, self.what = console, disabled, total, what

    def __enter__(self):
        if self.disabled:
            return lambda n: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)

        self.bar = Progress(TextColumn(self.what), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
                            TextColumn("ETA"), TimeRemainingColumn(), console=self.console,
                            transient=True)
        self.bar.__enter__()
        task = self.bar.add_task(self.what, total=self.total, rate="")
        start, done = [None], [0]

        def advance(n: int) -> None:
            now = time.perf_counter()
            if start[0] is None:  # the rate starts after the first batch (compiles excluded)
                start[0] = now
            else:
                done[0] += n
            rate = done[0] / (now - start[0]) if done[0] and now > start[0] else 0
            self.bar.update(task, advance=n, rate=f"{rate:,.0f} rows/s" if rate else "")
        return advance

    def __exit__(self, *exc):
        if not self.disabled:
            self.bar.__exit__(*exc)
        return False
