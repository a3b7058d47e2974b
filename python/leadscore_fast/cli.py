"""The ``leadscore`` command line: score, check, compile, sql, segment, query, diff.

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
    from leadscore_fast.vm.fused import ROWS_RUN

    ran_before = dict(ROWS_RUN)
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
        ran = {k: ROWS_RUN[k] - ran_before[k] for k in ROWS_RUN}
        stats.print(console, rows, time.perf_counter() - started, output, _engine_note(ran))


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
@click.option("--llvm", is_flag=True, help="Print the LLVM IR of the fused kernel the model "
              "gets for DATAFILE's first batch instead (its column types and NULLs).")
@_errors_to_exit
def compile_cmd(model, datafile, llvm):
    """Print the bytecode MODEL compiles to against DATAFILE's columns."""
    from leadscore_fast.compiler import compile

    if not llvm:
        click.echo(compile(_load_model(model), _schema_of(datafile)).disassemble().rstrip("\n"))
        return
    from leadscore_fast.io import read_input
    from leadscore_fast.runner import fused_ir

    m = _load_model(model)
    reader = read_input(datafile)
    try:
        batch = reader.read_next_batch()
    except StopIteration:
        raise click.ClickException(f"{datafile}: no rows to take a batch layout from") from None
    click.echo(fused_ir(m, batch).rstrip("\n"))


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


# -- segment / query / diff ------------------------------------------------------------------

def _read_table(path):
    """The whole input as a Table: these commands may pass over it more than once."""
    from leadscore_fast.io import read_input

    return read_input(path).read_all()


def _num(x, fmt="{:,.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _console():
    from rich.console import Console

    console = Console(soft_wrap=False, highlight=False)
    if not console.is_terminal:  # piped or captured: do not squeeze tables into 80 columns
        console = Console(soft_wrap=False, highlight=False, width=200)
    return console


def _print_table(table, title=None) -> None:
    """Any pyarrow Table as a rich table (numbers right-aligned)."""
    import pyarrow as pa

    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in table.schema]
    t = _table(table.column_names[0], *table.column_names[1:])
    for c, is_num in zip(t.columns, numeric):
        c.justify = "right" if is_num else "left"
    if title:
        t.title = title
    for row in table.to_pylist():
        t.add_row(*[_cell(v) for v in row.values()])
    _console().print(t)


def _cell(v) -> str:
    if v is None:
        return "(none)"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e-3 and v else f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    return str(v)


@main.command("segment")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--by", "segmentation", multiple=True, metavar="SEG",
              help="Segmentation to summarise (repeatable; default: all).")
@click.option("--label", metavar="COL", help="Outcome column (bool or 0/1), e.g. converted: "
              "adds conversion rate and lift per segment.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@_errors_to_exit
def segment_cmd(model, input_path, segmentation, label, as_of, threads):
    """Per-segment counts, shares, score mean/min/max (and conversion) of MODEL over INPUT."""
    from leadscore_fast.io import read_input
    from leadscore_fast.summaries import summarize

    m = _load_model(model)
    summary = summarize(m, read_input(input_path), segmentation=list(segmentation) or None,
                        label=label, as_of=_as_of(as_of), threads=threads)
    console = _console()
    for name in dict.fromkeys(summary.column("segmentation").to_pylist()):
        rows = [r for r in summary.to_pylist() if r["segmentation"] == name]
        cols = ["leads", "share"] + [f"{s} mean [min, max]" for s in m.score_names]
        cols += ["conversion", "lift"] if label else []
        t = _table(name, *cols)
        for r in rows:
            cells = [f"{r['count']:,}", _num(r["share"] and 100 * r["share"], "{:.1f}%")]
            cells += [f"{_num(r[s + '_mean'])} [{_num(r[s + '_min'])}, {_num(r[s + '_max'])}]"
                      if r["count"] else "-" for s in m.score_names]
            if label:
                rate = r["conversion_rate"]
                cells += [_num(rate and 100 * rate, "{:.1f}%"), _num(r["lift"], "{:.2f}×")]
            t.add_row("(none)" if r["segment"] is None else r["segment"], *cells)
        console.print(t)


@main.group("query")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@click.pass_context
@_errors_to_exit
def query_cmd(ctx, model, input_path, as_of, threads):
    """Answer a threshold query over INPUT in the scoring pass of MODEL:
    count WHERE | select WHERE | top K | histogram SCORE | quantiles SCORE Q..."""
    ctx.obj = {"model": _load_model(model), "input": input_path,
               "kw": {"as_of": _as_of(as_of), "threads": threads}}


@query_cmd.command("count")
@click.argument("where")
@click.pass_obj
@_errors_to_exit
def query_count(obj, where):
    """How many leads satisfy WHERE, e.g. "total >= 80 AND tier != 'cold'"."""
    from leadscore_fast.io import read_input
    from leadscore_fast.queries import count

    click.echo(f"{count(obj['model'], read_input(obj['input']), where, **obj['kw']):,}")


@query_cmd.command("select")
@click.argument("where")
@click.option("--columns", "-c", multiple=True, metavar="COL",
              help="Input column to show (repeatable; default: all).")
@click.option("-o", "--output", metavar="OUTPUT", help="Write the matching leads here "
              "(.parquet, .csv, .arrow) instead of printing them.")
@click.pass_obj
@_errors_to_exit
def query_select(obj, where, columns, output):
    """The leads satisfying WHERE, with their scores and segments."""
    from leadscore_fast.io import write_output
    from leadscore_fast.queries import select

    rows = select(obj["model"], _read_table(obj["input"]), where, list(columns) or None,
                  **obj["kw"])
    if output:
        n = write_output(rows, output)
        click.echo(f"{n:,} leads → {output}", err=True)
    else:
        _print_table(rows)


@query_cmd.command("top")
@click.argument("k", type=int)
@click.option("--by", required=True, metavar="EXPR", help="Score (or expression) to rank by.")
@click.option("--per", metavar="SEG", help="Rank within each segment of this segmentation.")
@click.option("--columns", "-c", multiple=True, metavar="COL",
              help="Input column to show (repeatable; default: all).")
@click.pass_obj
@_errors_to_exit
def query_top(obj, k, by, per, columns):
    """The K best leads by --by, overall or --per segment (ties: input order)."""
    from leadscore_fast.queries import top_k

    _print_table(top_k(obj["model"], _read_table(obj["input"]), k, by, per=per,
                       columns=list(columns) or None, **obj["kw"]))


@query_cmd.command("histogram")
@click.argument("score")
@click.option("--bins", type=int, default=None, help="Equal-width bins from min to max "
              "(default 10).")
@click.option("--edges", metavar="E1,E2,...", help="Explicit bin edges (counted in the "
              "scoring pass).")
@click.pass_obj
@_errors_to_exit
def query_histogram(obj, score, bins, edges):
    """Counts of SCORE per bin (below, bins, above, NULL)."""
    from leadscore_fast.io import read_input
    from leadscore_fast.queries import QueryError, histogram

    if edges is not None and bins is not None:
        raise QueryError("histogram: give --bins or --edges, not both")
    if edges is not None:
        try:
            bins = [float(e) for e in edges.split(",") if e.strip()]
        except ValueError:
            raise QueryError(f"histogram: --edges must be numbers separated by commas, "
                             f"got {edges!r}") from None
    _print_table(histogram(obj["model"], read_input(obj["input"]), score,
                           10 if bins is None else bins, **obj["kw"]), title=score)


@query_cmd.command("quantiles")
@click.argument("score")
@click.argument("qs", nargs=-1, type=float, required=True)
@click.pass_obj
@_errors_to_exit
def query_quantiles(obj, score, qs):
    """Exact quantiles (0..1) of SCORE, e.g. `quantiles total 0.5 0.9 0.99`."""
    from leadscore_fast.io import read_input
    from leadscore_fast.queries import quantiles

    _print_table(quantiles(obj["model"], read_input(obj["input"]), score, list(qs),
                           **obj["kw"]), title=score)


@main.command("diff")
@click.argument("old", metavar="OLD_MODEL")
@click.argument("new", metavar="NEW_MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--segmentation", "segs", multiple=True, metavar="SEG",
              help="Segmentation to compare (repeatable; default: all in both models).")
@click.option("--score", metavar="SCORE", help="Score for threshold crossings (default: the "
              "score a segmentation's bands use, else the new model's last score).")
@click.option("--threshold", "thresholds", multiple=True, type=float, metavar="T",
              help="Threshold to report crossings of (repeatable; default: band edges).")
@click.option("--id-column", metavar="COL", help="Lead id column shown in crossings.")
@click.option("--show", type=click.IntRange(min=0), default=10, show_default=True,
              help="Crossing leads to list per direction.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@_errors_to_exit
def diff_cmd(old, new, input_path, segs, score, thresholds, id_column, show, as_of, threads):
    """Replay NEW_MODEL against OLD_MODEL on INPUT: segment migration and threshold crossings."""
    from leadscore_fast.queries import QueryError, crossings, migration

    old_m, new_m = _load_model(old), _load_model(new)
    table = _read_table(input_path)
    kw = {"as_of": _as_of(as_of), "threads": threads}
    segs = list(segs) or [g for g in new_m.segment_names if g in old_m.segment_names]
    console = _console()
    for seg in segs:
        _print_migration(console, seg, migration(old_m, new_m, table, seg, **kw))
    checks = []  # (score, threshold)
    if thresholds:
        name = score or _band_score(new_m, segs) or new_m.score_names[-1]
        checks = [(name, t) for t in thresholds]
    else:
        for seg in segs:
            g = next(g for g in new_m.segmentations if g.name == seg)
            if g.bands is not None and (score is None or g.bands.score == score):
                checks += [(g.bands.score, e) for e in g.bands.edges
                           if (g.bands.score, e) not in checks]
    for name, t in checks:
        if name not in old_m.score_names:
            raise QueryError(f"diff: score {name!r} is not in the old model {old_m.name!r}")
        c = crossings(old_m, new_m, table, score=name, threshold=t, id_column=id_column, **kw)
        console.print(f"{name} crossing {t:g}: {c.n_up:,} up, {c.n_down:,} down")
        for direction, rows in (("up", c.up), ("down", c.down)):
            if show and rows.num_rows:
                _print_table(rows.slice(0, show),
                             title=f"{direction} (first {min(show, rows.num_rows)})")


def _band_score(model, segs):
    for g in model.segmentations:
        if g.name in segs and g.bands is not None:
            return g.bands.score
    return None


def _print_migration(console, seg, pairs) -> None:
    """Old segments down, new segments across; the diagonal (unchanged) in bold. A matrix
    too wide to read (e.g. priority's 12 labels) is listed as the non-zero moves instead."""
    if len(set(pairs.column("new").to_pylist())) > 8:
        nonzero = pairs.filter(pairs.column("count").to_numpy() > 0)
        moved = sum(r["count"] for r in nonzero.to_pylist() if r["old"] != r["new"])
        _print_table(nonzero, title=f"{seg}: old → new")
        console.print(f"{seg}: {moved:,} of {sum(pairs.column('count').to_pylist()):,} "
                      "leads change segment")
        return
    olds = list(dict.fromkeys(pairs.column("old").to_pylist()))
    news = list(dict.fromkeys(pairs.column("new").to_pylist()))
    name = lambda x: "(none)" if x is None else str(x)  # noqa: E731
    grid = {(r["old"], r["new"]): r["count"] for r in pairs.to_pylist()}
    t = _table(f"{seg}: old \\ new", *map(name, news), "total")
    moved = 0
    for o in olds:
        cells = []
        for n in news:
            v = grid[(o, n)]
            moved += v if o != n else 0
            cells.append(f"[bold]{v:,}[/bold]" if o == n else f"{v:,}")
        t.add_row(name(o), *cells, f"{sum(grid[(o, n)] for n in news):,}")
    t.add_row("total", *[f"{sum(grid[(o, n)] for o in olds):,}" for n in news],
              f"{sum(grid.values()):,}")
    console.print(t)
    console.print(f"{seg}: {moved:,} of {sum(grid.values()):,} leads change segment")


# -- progress and summary ------------------------------------------------------------------

def _engine_note(ran: dict) -> str:
    """Which path scored the rows: the fused kernel, the interpreter (a program runs fused
    once it is hot, see README "How it works"), or both."""
    fused, interpreted = ran["fused"], ran["interpreted"]
    if fused and interpreted:
        return f"fused kernel for {fused:,} of {fused + interpreted:,} rows"
    return "fused kernel" if fused else ("interpreter" if interpreted else "")


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

    def print(self, console, rows: int, seconds: float, output, engine: str = "") -> None:
        rate = rows / seconds if seconds > 0 else float("inf")
        console.print(f"scored {rows:,} rows in {seconds:.2f} s ({rate:,.0f} rows/s"
                      f"{', ' + engine if engine else ''}) → {output}", highlight=False,
                      soft_wrap=True)
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
