"""The ``leadscore`` command line: score, check, compile, sql.

Every LeadscoreError becomes one message on stderr (``file:line:col: message``) and exit code
2, never a traceback; outputs are written atomically, so a failed run leaves no partial file.
"""
from __future__ import annotations

import functools
import sys
import time

import click

from leadscore_fast import __version__

EXIT_ERROR = 2


def _errors_to_exit(fn):
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


def _load_model(path):
    from leadscore_fast.model import Model

    return Model.from_yaml(path)


def _schema_of(datafile):
    from leadscore_fast.io import read_input

    return read_input(datafile).schema


def _as_of(value):
    if value is None:
        return None
    from leadscore_fast.yaml_source import iso_utc, model_error

    try:
        return iso_utc(value, "--as-of")
    except ValueError as e:
        raise model_error(str(e)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadscore")
def main():
    """Compiled lead scoring: score Arrow/Parquet/CSV data with a YAML scoring model."""


@main.command("score")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True, metavar="OUTPUT",
              help="Output file (.parquet, .csv, .csv.gz, .arrow, .feather); written atomically.")
@click.option("--keep", multiple=True, metavar="COL",
              help="Input column to copy to the output (repeatable), e.g. --keep lead_id.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601; "
              "default: the model's as_of, else now, UTC).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@_errors_to_exit
def score_cmd(model, input_path, output, keep, as_of, threads, quiet):
    """Score INPUT with MODEL and write the scores and segments to OUTPUT."""
    import pyarrow as pa
    from rich.console import Console

    from leadscore_fast.io import DEFAULT_BATCH_SIZE, count_rows, read_input, write_output
    from leadscore_fast.scoring import score

    m = _load_model(model)
    as_of = _as_of(as_of)
    total = count_rows(input_path)
    reader = read_input(input_path)
    started = time.perf_counter()
    scored = score(m, reader, keep=list(keep) or None, as_of=as_of, threads=threads,
                   stream=True)
    stats = _Stats(m.score_names, m.segment_names)
    console = Console(stderr=True)
    # A bar only where it can animate and there is more than one batch to wait for.
    small = total is not None and total <= DEFAULT_BATCH_SIZE
    with _progress(console, quiet or small or not console.is_terminal, total) as advance:
        def batches():
            for batch in scored:
                stats.add(batch)
                advance(batch.num_rows)
                yield batch
        rows = write_output(pa.RecordBatchReader.from_batches(scored.schema, batches()), output)
    if not quiet:
        stats.print(console, rows, time.perf_counter() - started, output)


@main.command("check")
@click.argument("model", metavar="MODEL")
@click.option("--schema", "datafile", metavar="DATAFILE",
              help="Also compile against this data file's columns.")
@_errors_to_exit
def check_cmd(model, datafile):
    """Validate MODEL (structure and expression syntax; with --schema, types and columns)."""
    from leadscore_fast.compiler import check_expressions, compile

    m = _load_model(model)
    check_expressions(m)
    what = "structure and syntax"
    if datafile is not None:
        compile(m, _schema_of(datafile))
        what = f"compiles against {datafile}"
    n_rules = sum(len(s.rules or ()) for s in m.scores)
    click.echo(f"{model}: OK ({what}): model {m.name!r}, {len(m.scores)} scores, {n_rules} "
               f"rules, {len(m.segmentations)} segmentations")


@main.command("compile")
@click.argument("model", metavar="MODEL")
@click.argument("datafile", metavar="DATAFILE")
@_errors_to_exit
def compile_cmd(model, datafile):
    """Print the bytecode MODEL compiles to against DATAFILE's columns."""
    from leadscore_fast.compiler import compile

    click.echo(compile(_load_model(model), _schema_of(datafile)).disassemble().rstrip("\n"))


@main.command("sql")
@click.argument("model", metavar="MODEL")
@click.argument("datafile", metavar="DATAFILE")
@click.option("--relation", default="leads", show_default=True,
              help="Table or view the SELECT reads from.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@_errors_to_exit
def sql_cmd(model, datafile, relation, as_of):
    """Print a DuckDB SELECT computing MODEL's scores and segments over DATAFILE's columns."""
    from leadscore_fast.compiler import to_sql

    click.echo(to_sql(_load_model(model), _schema_of(datafile), relation, _as_of(as_of)))


# -- progress and summary ------------------------------------------------------------------

class _progress:
    """A rich progress bar on stderr (rows done / total when known); a no-op when disabled."""

    def __init__(self, console, disabled: bool, total: int | None):
        self.console, self.disabled, self.total = console, disabled, total

    def __enter__(self):
        if self.disabled:
            return lambda n: None
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn)

        self.bar = Progress(TextColumn("scoring"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), console=self.console, transient=True)
        self.bar.__enter__()
        task = self.bar.add_task("scoring", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc):
        if not self.disabled:
            self.bar.__exit__(*exc)
        return False


class _Stats:
    """Per-score min/mean/max and per-segment label counts, accumulated batch by batch."""

    def __init__(self, scores: list[str], segments: list[str]):
        self.scores = {s: [None, None, 0.0, 0] for s in scores}  # min, max, sum, count
        self.segments: dict[str, dict] = {g: {} for g in segments}

    def add(self, batch) -> None:
        import pyarrow.compute as pc

        names = set(batch.schema.names)
        for name, acc in self.scores.items():
            if name not in names:
                continue
            arr = batch.column(name)
            mm = pc.min_max(arr).as_py()
            if mm["min"] is None:
                continue
            acc[0] = mm["min"] if acc[0] is None else min(acc[0], mm["min"])
            acc[1] = mm["max"] if acc[1] is None else max(acc[1], mm["max"])
            acc[2] += pc.sum(arr).as_py() or 0.0
            acc[3] += len(arr) - arr.null_count
        for name, counts in self.segments.items():
            if name not in names:
                continue
            for item in pc.value_counts(batch.column(name)).to_pylist():
                counts[item["values"]] = counts.get(item["values"], 0) + item["counts"]

    def print(self, console, rows: int, seconds: float, output) -> None:
        rate = rows / seconds if seconds > 0 else float("inf")
        console.print(f"scored {rows:,} rows in {seconds:.2f} s ({rate:,.0f} rows/s) "
                      f"→ {output}", highlight=False, soft_wrap=True)
        if self.scores:
            t = _table("score", "min", "mean", "max")
            for name, (lo, hi, total, n) in self.scores.items():
                cells = ("-", "-", "-") if not n else (f"{lo:.2f}", f"{total / n:.2f}",
                                                       f"{hi:.2f}")
                t.add_row(name, *cells)
            console.print(t)
        for name, counts in self.segments.items():
            t = _table(name, "leads", "share")
            ordered = sorted(counts.items(), key=lambda kv: (kv[0] is None, -kv[1]))
            for label, n in ordered:
                share = f"{100 * n / rows:.1f}%" if rows else "-"
                t.add_row("(none)" if label is None else str(label), f"{n:,}", share)
            console.print(t)


def _table(first: str, *numeric: str):
    from rich.table import Table

    t = Table(box=None, pad_edge=False)
    t.add_column(first)
    for name in numeric:
        t.add_column(name, justify="right")
    return t


if __name__ == "__main__":  # pragma: no cover
    main()
