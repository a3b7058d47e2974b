"""How a report command prints its result: ``--format table`` (rich tables for people, the
default), ``json`` (one document: plain numbers, NULL as null) or ``csv`` (one rectangular
table). Every report command (segment, query, diff, rules, evaluate, explain, drift, cleanup)
hands a :class:`Report` to :func:`emit`; none writes JSON or CSV itself.

CSV is one table. A report with one table writes its columns as they are; a report with
several (rules and their warnings, evaluate's deciles and segments, ...) stacks them: the first
column, ``section``, names the table a row comes from, then the union of the tables' columns in
order of first appearance, empty where a table has no such column. A NULL is an empty cell too;
a list is written as its JSON text.
"""
from __future__ import annotations

import csv
import datetime
import decimal
import functools
import io
import json
import math
from dataclasses import dataclass, field
from typing import Callable

import click

__all__ = ["FORMATS", "Report", "Section", "emit", "format_options", "plain", "csv_text",
           "json_text", "pct", "pp", "times"]

FORMATS = ("table", "json", "csv")

# What --format meant before it named the report's format (the input file's format, now
# --input-format): such a value gets a message pointing there.
_INPUT_FORMATS = ("parquet", "csv.gz", "ipc", "arrow", "feather", "tsv")


class _ReportFormat(click.Choice):
    """table | json | csv, with a pointer to --input-format for an input format's name."""

    name = "report format"

    def __init__(self):
        super().__init__(list(FORMATS), case_sensitive=False)

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.lower() in _INPUT_FORMATS:
            self.fail(f"{value!r} is an input file format: --format is the report's format "
                      f"(table, json or csv); give the input's format as --input-format "
                      f"{value.lower()}", param, ctx)
        return super().convert(value, param, ctx).lower()


def format_options(what: str, resolve: bool = True):
    """``--format table|json|csv`` and ``--json`` (its shorthand for ``--format json``) for a
    report command printing ``what``. With ``resolve`` the command gets them as one
    argument, ``report_format`` (default table; both given and different: a usage error);
    without, as ``report_format`` and ``as_json`` for the command to resolve_format."""
    def apply(fn):
        if resolve:
            inner = fn

            @functools.wraps(inner)
            def fn(*args, **kwargs):
                kwargs["report_format"] = resolve_format(kwargs.pop("report_format"),
                                                         kwargs.pop("as_json"))
                return inner(*args, **kwargs)

        fn = click.option("--json", "as_json", is_flag=True,
                          help="Shorthand for --format json.")(fn)
        return click.option("--format", "report_format", type=_ReportFormat(), default=None,
                            help=f"Print the {what} as a table (default), JSON or CSV "
                            "(README: Output for scripts).")(fn)
    return apply


def resolve_format(report_format: str | None, as_json: bool) -> str:
    """The format asked for by --format and --json together."""
    if as_json and report_format not in (None, "json"):
        raise click.UsageError(f"--json is --format json: give one of --json and "
                               f"--format {report_format}")
    return "json" if as_json else report_format or "table"


@dataclass
class Section:
    """One table of a report for CSV: its rows (dicts, or a pyarrow Table) and, for a table
    without rows, the columns of its header."""
    name: str
    rows: object
    columns: list | None = None

    def records(self) -> tuple[list, list]:
        """(columns, rows as dicts)."""
        rows = self.rows
        if hasattr(rows, "to_pylist") and hasattr(rows, "column_names"):
            return list(rows.column_names), rows.to_pylist()
        rows = list(rows)
        cols = list(self.columns or [])
        for r in rows:
            cols += [k for k in r if k not in cols]
        return cols, rows


@dataclass
class Report:
    """What a report command prints, in each format: ``document`` (JSON), ``sections`` (CSV)
    and ``table`` (draws the rich tables on a console)."""
    document: object
    sections: list = field(default_factory=list)
    table: Callable | None = None


def emit(report: Report, report_format: str) -> None:
    """Print ``report`` on stdout in ``report_format``."""
    if report_format == "json":
        click.echo(json_text(report.document))
    elif report_format == "csv":
        click.echo(csv_text(report.sections), nl=False)
    else:
        from leadscore_fast.cli_common import console

        report.table(console())


def plain(x):
    """``x`` with only JSON's kinds: NaN and infinities are None (null), numpy scalars and
    arrays Python numbers and lists, dates and times ISO-8601 text."""
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, int):
        return int(x)
    if isinstance(x, float):  # numpy's float64 too
        return float(x) if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k) if k is not None else "null": plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [plain(v) for v in x]
    if isinstance(x, (datetime.date, datetime.time)):
        return x.isoformat()
    if isinstance(x, datetime.timedelta):
        return x.total_seconds()
    if isinstance(x, decimal.Decimal):
        return plain(float(x)) if x != x.to_integral_value() else int(x)
    if hasattr(x, "tolist"):  # numpy scalars and arrays
        return plain(x.tolist())
    if isinstance(x, bytes):
        return x.decode("utf-8", "replace")
    return str(x)


def json_text(document) -> str:
    """The document as indented JSON (strict: no NaN)."""
    return json.dumps(plain(document), indent=2, allow_nan=False, ensure_ascii=False)


def _csv_cell(v) -> str:
    v = plain(v)
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False)
    return str(v)


def csv_text(sections: list) -> str:
    """The sections as one CSV table (see the module's docstring)."""
    parts = [s.records() for s in sections]
    stacked = len(sections) > 1
    cols: list = []
    for c, _ in parts:
        cols += [k for k in c if k not in cols]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((["section"] if stacked else []) + cols)
    for s, (_, rows) in zip(sections, parts):
        for r in rows:
            w.writerow(([s.name] if stacked else []) + [_csv_cell(r.get(c)) for c in cols])
    return buf.getvalue()


# -- cells of the table format -------------------------------------------------------------

def pct(x) -> str:
    """A share as a percentage with one decimal; None as '-'."""
    return "-" if x is None else f"{100 * x:.1f}%"


def pp(x) -> str:
    """A change of shares in percentage points; None as '-'."""
    return "-" if x is None else f"{100 * x:+.1f} pp"


def times(x) -> str:
    """A lift as a multiple; None as '-'."""
    return "-" if x is None else f"{x:.2f}×"
