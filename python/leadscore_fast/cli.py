"""The ``leadscore`` command line: score, check, compile, sql, segment, query, diff.

Every LeadscoreError becomes one message on stderr (``file:line:col: message``) and exit code
2, never a traceback; outputs are written atomically, so a failed run leaves no partial file.
"""
from __future__ import annotations

import re

import click

from leadscore_fast import __version__
from leadscore_fast.cli_common import (as_of_option_value as _as_of, console as _console,
                                       errors_to_exit as _errors_to_exit, input_options,
                                       legacy_input_options, open_input, table as _table)
from leadscore_fast.report_output import (Report, Section, emit, format_options, pct,
                                          resolve_format, times)

def _load_model(path):
    from leadscore_fast.model import Model

    return Model.from_yaml(path)


def _schema_of(datafile, input_format=None, delimiter=None, null_values=()):
    return open_input(datafile, input_format, delimiter, null_values).schema


# the commands defined in modules of their own: (module, function), imported when named, so
# that a `leadscore score` process loads none of the others
_COMMAND_MODULES = {
    "score": ("leadscore_fast.cli_score", "score_cmd"),
    "rescore": ("leadscore_fast.cli_rescore", "rescore_cmd"),
    "evaluate": ("leadscore_fast.cli_evaluate", "evaluate_cmd"),
    "explain": ("leadscore_fast.cli_explain", "explain_cmd"),
    "rules": ("leadscore_fast.cli_rules", "rules_cmd"),
    "drift": ("leadscore_fast.cli_drift", "drift_cmd"),
    "cleanup": ("leadscore_fast.cli_cleanup", "cleanup_cmd"),
    "learn": ("leadscore_fast.cli_learn", "learn_cmd"),
}


class _Commands(click.Group):
    """click's group, with the commands of ``_COMMAND_MODULES`` imported when first named."""

    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(_COMMAND_MODULES))

    def get_command(self, ctx, name):
        if name not in self.commands and name in _COMMAND_MODULES:
            import importlib

            module, function = _COMMAND_MODULES[name]
            self.add_command(getattr(importlib.import_module(module), function), name)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="leadscore")
def main():
    """Compiled lead scoring: score Arrow/Parquet/CSV data with a YAML scoring model."""


@main.result_callback()
def _finished(*_args, **_kwargs):
    # The command is done and its outputs are in place: without this the interpreter's last
    # garbage collection walks every object numba and LLVM made (0.35-0.45 s per process).
    import gc

    gc.freeze()




@main.command("check")
@click.argument("model", metavar="MODEL")
@click.option("--schema", "datafile", metavar="DATAFILE",
              help="Also compile against this data file's columns.")
@click.option("--data", "data_path", metavar="FILE", help="Also score this data and warn about "
              "rules that never or always fire, string values the data never contains, and "
              "conditions NULL for most leads (as `leadscore rules` does).")
@legacy_input_options
@_errors_to_exit
def check_cmd(model, datafile, data_path, input_format, delimiter, null_values):
    """Validate MODEL (structure and expression syntax; with --schema, types and columns)."""
    from leadscore_fast.compiler import check_expressions, compile

    m = _load_model(model)
    what = "structure and syntax"
    if datafile is not None:
        # compiling checks the syntax too, with the columns at hand for its hints
        compile(m, _schema_of(datafile, input_format, delimiter, null_values))
        what = f"compiles against {datafile}"
    else:
        check_expressions(m)
    if data_path is not None:
        from leadscore_fast.cli_rules import print_warnings
        from leadscore_fast.rule_health import rule_stats

        health = rule_stats(m, open_input(data_path, input_format, delimiter, null_values))
        what += f"; scored {health.leads:,} leads of {data_path}"
    n_rules = sum(len(s.rules or ()) for s in m.scores)
    click.echo(f"{model}: OK ({what}): model {m.name!r}, {len(m.scores)} scores, {n_rules} "
               f"rules, {len(m.segmentations)} segmentations")
    if data_path is not None:
        print_warnings(_console(), health.warnings)


@main.command("compile")
@click.argument("model", metavar="MODEL")
@click.argument("datafile", metavar="DATAFILE")
@click.option("--llvm", is_flag=True, help="Print the LLVM IR of the fused kernel the model "
              "gets for DATAFILE's first batch instead (its column types and NULLs).")
@legacy_input_options
@_errors_to_exit
def compile_cmd(model, datafile, llvm, input_format, delimiter, null_values):
    """Print the bytecode MODEL compiles to against DATAFILE's columns."""
    from leadscore_fast.compiler import compile

    if not llvm:
        schema = _schema_of(datafile, input_format, delimiter, null_values)
        click.echo(compile(_load_model(model), schema).disassemble().rstrip("\n"))
        return
    from leadscore_fast.runner import compile_cached, fused_ir

    m = _load_model(model)
    source = open_input(datafile, input_format, delimiter, null_values)
    names = [spec["name"] for spec in compile_cached(m, source.schema).columns]
    batch = next(iter(source.batches(names)), None)
    if batch is None:
        raise click.ClickException(f"{datafile}: no rows to take a batch layout from") from None
    click.echo(fused_ir(m, batch).rstrip("\n"))


@main.command("sql")
@click.argument("model", metavar="MODEL")
@click.argument("datafile", metavar="DATAFILE")
@click.option("--relation", default="leads", show_default=True,
              help="Table or view the SELECT reads from.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@click.option("--dialect", default="duckdb", show_default=True,
              type=click.Choice(["duckdb", "postgres", "sqlite"]), help="SQL dialect.")
@legacy_input_options
@_errors_to_exit
def sql_cmd(model, datafile, relation, as_of, dialect, input_format, delimiter, null_values):
    """Print a SELECT (DuckDB, PostgreSQL or SQLite) computing MODEL's scores and segments
    over DATAFILE's columns, with the engine's numbers."""
    from leadscore_fast.compiler import to_sql

    schema = _schema_of(datafile, input_format, delimiter, null_values)
    click.echo(to_sql(_load_model(model), schema, relation, _as_of(as_of), dialect=dialect))


# -- segment / query / diff ------------------------------------------------------------------

def _num(x, fmt="{:,.2f}") -> str:
    return "-" if x is None else fmt.format(x)


def _print_table(out, table, title=None) -> None:
    """Any pyarrow Table as a rich table (numbers right-aligned)."""
    import pyarrow as pa

    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in table.schema]
    t = _table(table.column_names[0], *table.column_names[1:])
    for c, is_num in zip(t.columns, numeric):
        c.justify = "right" if is_num else "left"
    if title:
        t.title = title
    counts = [name == "count" for name in table.column_names]
    for row in table.to_pylist():
        t.add_row(*[_cell(v, is_count) for v, is_count in zip(row.values(), counts)])
    out.print(t)


def _cell(v, is_count=False) -> str:
    """A table cell: counts with thousands separators; other integers (ids, input values)
    as they are."""
    if v is None:
        return "(none)"
    if isinstance(v, float):
        return f"{v:,.4g}" if abs(v) < 1e-3 and v else f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}" if is_count else str(v)
    return str(v)


def _rows_report(table, title=None) -> Report:
    """A query's answer table: JSON its rows, CSV the table, a rich table titled ``title``."""
    return Report(table.to_pylist(), [Section(title or "rows", table)],
                  lambda out: _print_table(out, table, title))


@main.command("segment")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("--by", "segmentation", multiple=True, metavar="SEG",
              help="Segmentation to summarise (repeatable; default: all).")
@click.option("--label", metavar="COL", help="Outcome column (bool, 0/1, or text such as yes/no),"
              " e.g. converted: adds conversion rate and lift per segment.")
@click.option("--positive", metavar="VALUE", help="For a text --label: the value that means a "
              "conversion (default: yes/y/true/1 against no/n/false/0, any case).")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@input_options
@format_options("summary")
@_errors_to_exit
def segment_cmd(model, input_path, segmentation, label, positive, as_of, threads, input_format,
                delimiter, null_values, report_format):
    """Per-segment counts, shares, score mean/min/max (and conversion) of MODEL over INPUT.

    Segments come in each segmentation's label order. JSON and CSV: the rows of
    lf.summarize (segmentation, segment, count, share, <score>_mean/_min/_max, ...)."""
    from leadscore_fast.summaries import summarize

    m = _load_model(model)
    source = open_input(input_path, input_format, delimiter, null_values)
    summary = summarize(m, source, segmentation=list(segmentation) or None,
                        label=label, positive=positive, as_of=_as_of(as_of), threads=threads)
    emit(Report(summary.to_pylist(), [Section("segments", summary)],
                lambda out: _print_summary(out, m, summary, label)), report_format)


def _print_summary(out, m, summary, label) -> None:
    for name in dict.fromkeys(summary.column("segmentation").to_pylist()):
        rows = [r for r in summary.to_pylist() if r["segmentation"] == name]
        cols = ["leads", "share"] + [f"{s} mean [min, max]" for s in m.score_names]
        cols += ["conversion", "lift"] if label else []
        t = _table(name, *cols)
        for r in rows:
            cells = [f"{r['count']:,}", pct(r["share"])]
            cells += [f"{_num(r[s + '_mean'])} [{_num(r[s + '_min'])}, {_num(r[s + '_max'])}]"
                      if r["count"] else "-" for s in m.score_names]
            if label:
                cells += [pct(r["conversion_rate"]), times(r["lift"])]
            t.add_row("(none)" if r["segment"] is None else r["segment"], *cells)
        out.print(t)


def _query_options(fn):
    """--as-of, --threads, the input options and --format, for the ``query`` group and each
    of its commands: ``query MODEL INPUT count WHERE --as-of TS`` works as well as
    ``query --as-of TS MODEL INPUT count WHERE`` (given in both places, the command's wins)."""
    fn = format_options("answer", resolve=False)(fn)
    fn = click.option("--threads", type=click.IntRange(min=1),
                      help="Worker threads (default: all).")(fn)
    fn = click.option("--as-of", metavar="TS",
                      help="Reference time for days_since() (ISO-8601).")(fn)
    return input_options(fn)


_QUERY_OPTIONS = ("as_of", "threads", "input_format", "delimiter", "null_values")
_FORMAT_OPTIONS = ("report_format", "as_json")


@main.group("query")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@_query_options
@click.pass_context
def query_cmd(ctx, model, input_path, **options):
    """Answer a threshold query over INPUT in the scoring pass of MODEL:
    count WHERE | select WHERE | top K | histogram SCORE | quantiles SCORE Q...

    JSON: count as {"count": N}, the others as a list of rows; CSV: the answer's table."""
    ctx.obj = {"model": model, "input": input_path, "options": options}


def _query_command(name):
    """A ``leadscore query`` command: the group's options are accepted after its arguments
    too; the model and the input are opened here, inside the command's error handling. The
    function gets ``{"model", "input", "kw"}`` and returns its Report."""
    import functools

    def decorate(fn):
        @functools.wraps(fn)
        def run(obj, *args, **kwargs):
            given = {k: kwargs.pop(k) for k in _QUERY_OPTIONS}
            fmt = {k: kwargs.pop(k) for k in _FORMAT_OPTIONS}
            if fmt["report_format"] is None and not fmt["as_json"]:  # not given here
                fmt = {k: obj["options"][k] for k in _FORMAT_OPTIONS}
            report_format = resolve_format(fmt["report_format"], fmt["as_json"])
            o = {**obj["options"], **{k: v for k, v in given.items() if v not in (None, ())}}
            q = {"model": _load_model(obj["model"]),
                 "input": open_input(obj["input"], o["input_format"], o["delimiter"],
                                     o["null_values"]),
                 "kw": {"as_of": _as_of(o["as_of"]), "threads": o["threads"]}}
            report = fn(q, *args, **kwargs)
            if report is not None:
                emit(report, report_format)

        return query_cmd.command(name)(click.pass_obj(_errors_to_exit(_query_options(run))))
    return decorate


@_query_command("count")
@click.argument("where")
def query_count(obj, where):
    """How many leads satisfy WHERE, e.g. "total >= 80 AND tier != 'cold'"."""
    from leadscore_fast.queries import count

    n = count(obj["model"], obj["input"], where, **obj["kw"])
    return Report({"count": n}, [Section("count", [{"count": n}])],
                  lambda out: click.echo(f"{n:,}"))


@_query_command("select")
@click.argument("where")
@click.option("--columns", "-c", multiple=True, metavar="COL",
              help="Input column to show (repeatable; default: all).")
@click.option("-o", "--output", metavar="OUTPUT", help="Write the matching leads here "
              "(.parquet, .csv, .arrow) instead of printing them.")
def query_select(obj, where, columns, output):
    """The leads satisfying WHERE, with their scores and segments."""
    from leadscore_fast.queries import select
    from leadscore_fast.sinks import write_output

    rows = select(obj["model"], obj["input"], where, list(columns) or None,
                  **obj["kw"])
    if output:
        n = write_output(rows, output)
        click.echo(f"{n:,} leads → {output}", err=True)
        return None
    return _rows_report(rows)


_KEY_NAME = re.compile(r"(?:^|[\s_.\-])(?:id|key|uuid|guid|number|no)$", re.IGNORECASE)
_CAMEL_KEY = re.compile(r"[a-z0-9](?:Id|ID|Key|Number)$")  # leadId, accountKey


def key_column(schema) -> str | None:
    """The first key-like input column (``lead_id``, ``Prospect ID``, ``Lead Number``, ``id``,
    ``leadId``...): an integer or string column whose name ends in id, key, uuid, number."""
    import pyarrow as pa

    for f in schema:
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        if (pa.types.is_integer(t) or pa.types.is_string(t) or pa.types.is_large_string(t)) \
                and (_KEY_NAME.search(f.name.strip()) or _CAMEL_KEY.search(f.name.strip())):
            return f.name
    return None


@_query_command("top")
@click.argument("k", type=int)
@click.option("--by", required=True, metavar="EXPR", help="Score (or expression) to rank by.")
@click.option("--per", metavar="SEG", help="Rank within each segment of this segmentation.")
@click.option("--columns", "-c", multiple=True, metavar="COL",
              help="Input column to show (repeatable; default: the first key-like column, "
              "such as lead_id, if any).")
def query_top(obj, k, by, per, columns):
    """The K best leads by --by, overall or --per segment (ties: input order): rank, scores,
    segments and the --columns."""
    from leadscore_fast.queries import top_k

    if not columns:
        key = key_column(obj["input"].schema)
        columns = [key] if key is not None else []
    return _rows_report(top_k(obj["model"], obj["input"], k, by, per=per,
                              columns=list(columns), **obj["kw"]))


@_query_command("histogram")
@click.argument("score")
@click.option("--bins", type=int, default=None, help="Equal-width bins from min to max "
              "(default 10).")
@click.option("--edges", metavar="E1,E2,...", help="Explicit bin edges (counted in the "
              "scoring pass).")
def query_histogram(obj, score, bins, edges):
    """Counts of SCORE per bin (below, bins, above, NULL)."""
    from leadscore_fast.queries import QueryError, histogram

    if edges is not None and bins is not None:
        raise QueryError("histogram: give --bins or --edges, not both")
    if edges is not None:
        try:
            bins = [float(e) for e in edges.split(",") if e.strip()]
        except ValueError:
            raise QueryError(f"histogram: --edges must be numbers separated by commas, "
                             f"got {edges!r}") from None
    return _rows_report(histogram(obj["model"], obj["input"], score,
                                  10 if bins is None else bins, **obj["kw"]), title=score)


@_query_command("quantiles")
@click.argument("score")
@click.argument("qs", nargs=-1, type=float, required=True)
def query_quantiles(obj, score, qs):
    """Exact quantiles (0..1) of SCORE, e.g. `quantiles total 0.5 0.9 0.99`."""
    from leadscore_fast.queries import quantiles

    return _rows_report(quantiles(obj["model"], obj["input"], score, list(qs),
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
@input_options
@format_options("comparison")
@_errors_to_exit
def diff_cmd(old, new, input_path, segs, score, thresholds, id_column, show, as_of, threads,
             input_format, delimiter, null_values, report_format):
    """Replay NEW_MODEL against OLD_MODEL on INPUT: segment migration and threshold crossings.

    JSON: {"migration": [{segmentation, old, new, count}], "crossings": [{score, threshold,
    up, down, up_leads, down_leads}]} (at most --show leads each way). CSV: sections
    migration, crossings (the counts) and crossed (score, threshold, direction, the id
    column or row, previous, current)."""
    from leadscore_fast.queries import QueryError, crossings, migration

    old_m, new_m = _load_model(old), _load_model(new)
    source = open_input(input_path, input_format, delimiter, null_values)
    kw = {"as_of": _as_of(as_of), "threads": threads}
    segs = list(segs) or [g for g in new_m.segment_names if g in old_m.segment_names]
    moves = {seg: migration(old_m, new_m, source, seg, **kw) for seg in segs}
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
    crossed = []
    for name, t in checks:
        if name not in old_m.score_names:
            raise QueryError(f"diff: score {name!r} is not in the old model {old_m.name!r}")
        crossed.append(crossings(old_m, new_m, source, score=name, threshold=t,
                                 id_column=id_column, **kw))
    emit(_diff_report(moves, crossed, show), report_format)


def _diff_report(moves, crossed, show) -> Report:
    migration = [{"segmentation": seg, **r} for seg, pairs in moves.items()
                 for r in pairs.to_pylist()]
    counts = [{"score": c.score, "threshold": c.threshold, "up": c.n_up, "down": c.n_down}
              for c in crossed]
    leads = [{"score": c.score, "threshold": c.threshold, "direction": d, **r}
             for c in crossed for d, rows in (("up", c.up), ("down", c.down))
             for r in rows.slice(0, show).to_pylist()]
    document = {"migration": migration,
                "crossings": [{**n, "up_leads": c.up.slice(0, show).to_pylist(),
                               "down_leads": c.down.slice(0, show).to_pylist()}
                              for n, c in zip(counts, crossed)]}

    def draw(out):
        for seg, pairs in moves.items():
            _print_migration(out, seg, pairs)
        for c in crossed:
            out.print(f"{c.score} crossing {c.threshold:g}: {c.n_up:,} up, {c.n_down:,} down")
            for direction, rows in (("up", c.up), ("down", c.down)):
                if show and rows.num_rows:
                    _print_table(out, rows.slice(0, show),
                                 title=f"{direction} (first {min(show, rows.num_rows)})")

    return Report(document, [Section("migration", migration,
                                     ["segmentation", "old", "new", "count"]),
                             Section("crossings", counts, ["score", "threshold", "up", "down"]),
                             Section("crossed", leads, ["score", "threshold", "direction"])],
                  draw)


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
        _print_table(console, nonzero, title=f"{seg}: old → new")
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


if __name__ == "__main__":  # pragma: no cover
    main()
