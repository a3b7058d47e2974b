"""``leadscore score``: bulk rescoring of a file, a directory or a glob into a file or a
directory, with the three stages (decode, score, encode) overlapping on their own threads,
a progress bar and a summary (text, or JSON for scripts)."""
from __future__ import annotations

import json
import time

import click

from leadscore_fast.cli_common import (as_of_option_value, console, errors_to_exit,
                                       legacy_input_options, open_input, progress, table)

__all__ = ["score_cmd"]


@click.command("score")
@click.argument("model", metavar="MODEL")
@click.argument("input_path", metavar="INPUT")
@click.option("-o", "--output", required=True, metavar="OUTPUT",
              help="Output file (.parquet, .csv, .csv.gz, .arrow, .feather), or a directory "
              "for a directory input (same layout and partitions); written atomically.")
@click.option("--keep", multiple=True, metavar="COL",
              help="Input column to copy to the output (repeatable), e.g. --keep lead_id.")
@click.option("--as-of", metavar="TS", help="Reference time for days_since() (ISO-8601; "
              "default: the model's as_of, else now, UTC).")
@click.option("--threads", type=click.IntRange(min=1), help="Worker threads (default: all).")
@click.option("--executor", type=click.Choice(["auto", "native", "interpreter", "fused"]),
              help="What runs the bytecode: auto (default, or $LEADSCORE_EXECUTOR) picks per "
              "batch; native (Rust, no warm-up), interpreter (numba) or fused (LLVM kernels "
              "where the model allows) force one. Every executor gives the same results.")
@click.option("--compression", default="snappy", show_default=True,
              type=click.Choice(["snappy", "zstd", "lz4", "gzip", "brotli", "none"]),
              help="Parquet output compression.")
@click.option("--output-format", metavar="FMT",
              type=click.Choice(["parquet", "csv", "csv.gz", "ipc", "arrow"]),
              help="Output format, overriding OUTPUT's extension.")
@click.option("--engine", type=click.Choice(["local", "dask"]), default="local",
              show_default=True, help="local: this process; dask: a local Dask cluster of "
              "--workers processes (a Parquet dataset directory into a directory).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N",
              help="Dask worker processes (--engine dask; default: the cores).")
@legacy_input_options
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar and no summary.")
@errors_to_exit
def score_cmd(model, input_path, output, keep, as_of, threads, executor, compression,
              output_format, engine, workers, input_format, delimiter, null_values, as_json,
              quiet):
    """Score INPUT with MODEL and write the scores and segments to OUTPUT."""
    from leadscore_fast.malloc import keep_freed_memory
    from leadscore_fast.model import Model

    m = Model.from_yaml(model)
    as_of = as_of_option_value(as_of)
    keep_freed_memory()
    if engine == "local" and workers is None and _score_native(
            m, input_path, output, keep, as_of, threads, executor, compression, input_format,
            output_format, delimiter, null_values, as_json, quiet):
        return
    from leadscore_fast.vm.fused import ROWS_RUN

    src = open_input(input_path, input_format, delimiter, null_values)
    ran_before = dict(ROWS_RUN)
    clock = _Clock()
    stats = _Stats(m.score_names, m.segment_names)
    err = console(stderr=True)
    total = src.num_rows()
    small = total is not None and total <= 1 << 16
    kw = dict(keep=list(keep), as_of=as_of, threads=threads, executor=executor)
    if engine == "dask":
        return _score_dask(m, src, input_path, output, output_format, compression, kw,
                           workers, stats, clock, err, quiet or as_json or small, as_json,
                           quiet)
    if workers is not None:
        raise click.UsageError("--workers is for --engine dask")
    with progress(err, quiet or as_json or small or not err.is_terminal, total) as advance:
        def watched(scored):
            for batch in scored:
                stats.add(batch)
                clock.tick(batch.num_rows)
                advance(batch.num_rows)
                yield batch
        if _mirrors(src, output, output_format):
            rows = _score_parts(m, src, output, compression, kw, watched)
        else:
            rows = _score_file(m, src, output, output_format, compression, kw, watched)
    ran = {k: ROWS_RUN[k] - ran_before[k] for k in ROWS_RUN}
    summary = stats.summary(rows, clock, output, _engine_note(ran))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif not quiet:
        stats.print(err, summary)


def _score_native(m, input_path, output, keep, as_of, threads, executor, compression,
                  input_format, output_format, delimiter, null_values, as_json, quiet) -> bool:
    """A Parquet file into a Parquet file in Rust end to end (parquet_native.py); False
    where the Python path must score it (nothing written then)."""
    from leadscore_fast import parquet_native

    if not parquet_native.takes(input_path, output, input_format=input_format,
                                output_format=output_format, executor=executor,
                                delimiter=delimiter, null_values=null_values):
        return False
    import sys

    from leadscore_fast import _engine

    clock = _Clock()
    bar = not (quiet or as_json) and sys.stderr.isatty()
    total = _engine.parquet_file_info(str(input_path))[1] if bar else None
    bar = bar and total is not None and total > 1 << 16
    summary_wanted = not (quiet or as_json)
    err = console(stderr=True) if bar else None
    if summary_wanted and err is None:
        _import_in_background("rich.console", "rich.table")
    with progress(err, not bar, total) as advance:
        def on_batch(rows):
            clock.tick(rows)
            advance(rows)
        got = parquet_native.score_file(m, input_path, output, keep=list(keep), as_of=as_of,
                                        threads=threads, compression=compression,
                                        on_batch=on_batch)
    if got is None:
        return False
    stats = _Stats.from_native(got)
    summary = stats.summary(got["rows"], clock, output, _ENGINE_NAMES["native"])
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif not quiet:
        stats.print(err or console(stderr=True), summary)
    return True


def _import_in_background(*modules: str) -> None:
    """Import ``modules`` on a thread of their own: the summary's rich tables load while Rust
    scores with the GIL released, instead of after (about 30 ms of a run). A failure is left
    for the import that needs the module to report."""
    import importlib
    import threading

    def load():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # noqa: BLE001 - the later import reports it
                return
    threading.Thread(target=load, name="leadscore-imports", daemon=True).start()


def _score_dask(m, src, input_path, output, output_format, compression, kw, workers, stats,
                clock, err, no_bar, as_json, quiet):
    """--engine dask: the dataset's files scored on a local Dask cluster (cli_dask.py)."""
    import os

    from leadscore_fast.as_of import pinned
    from leadscore_fast.cli_dask import score_dataset
    from leadscore_fast.errors import DataError

    if not _mirrors(src, output, output_format):
        raise DataError("--engine dask rescores a Parquet dataset (a directory or a glob) "
                        "into a directory: give OUTPUT without a file extension")
    workers = workers or max(1, len(os.sched_getaffinity(0)))
    with progress(err, no_bar or not err.is_terminal, src.num_rows()) as advance:
        def on_part(rows):
            clock.tick(rows)
            advance(rows)
        rows = score_dataset(m, src, input_path, output, keep=kw["keep"],
                             as_of=pinned(kw["as_of"], m), compression=compression,
                             workers=workers, stats=stats, on_part=on_part)
    summary = stats.summary(rows, clock, output, f"dask, {workers} worker processes")
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    elif not quiet:
        stats.print(err, summary)


def _mirrors(src, output, output_format) -> bool:
    """A directory or glob input written to a path without a file extension: a directory
    output with the input's layout."""
    from leadscore_fast.sources import DatasetSource
    from leadscore_fast.sources.files import FORMATS

    if not isinstance(src, DatasetSource) or output_format is not None:
        return False
    return not any(str(output).lower().endswith(ext) for ext in FORMATS)


def _score_file(m, src, output, output_format, compression, kw, watched) -> int:
    import pyarrow as pa

    from leadscore_fast.pipeline import prefetch
    from leadscore_fast.scoring import score
    from leadscore_fast.sinks import write_output

    scored = score(m, src, stream=True, **kw)
    stream = prefetch(watched(scored), name="leadscore-score")  # the writer runs here
    return write_output(pa.RecordBatchReader.from_batches(scored.schema, stream), output,
                        format=output_format, compression=compression)


def _score_parts(m, src, output, compression, kw, watched) -> int:
    """Each file of the dataset scored into the same relative path under ``output``.
    Partition keys live in the paths, so they are not repeated inside the files."""
    from leadscore_fast.pipeline import prefetch
    from leadscore_fast.scoring import score
    from leadscore_fast.sinks import write_parts

    kw = dict(kw, keep=[k for k in kw["keep"] if k not in src.partition_columns])

    def parts():
        for rel, part in src.parts():
            scored = score(m, part, stream=True, **kw)
            yield rel, _reader(scored.schema, prefetch(watched(scored), name="leadscore-score"))
    return write_parts(parts(), output, compression=compression)


def _num(x):
    return None if x is None else float(x)


def _reader(schema, batches):
    import pyarrow as pa

    return pa.RecordBatchReader.from_batches(schema, batches)


class _Clock:
    """Wall time of the run, and the rate after the first batch: the first batch carries the
    compiles (model, kernels), which a rate in rows/s should not."""

    def __init__(self):
        self.start = time.perf_counter()
        self.first = None  # (time, rows) when the first batch was out
        self.rows = 0

    def tick(self, rows: int) -> None:
        self.rows += rows
        if self.first is None:
            self.first = (time.perf_counter(), self.rows)

    def rate(self, end: float) -> float:
        if self.first is not None and self.rows > self.first[1] and end > self.first[0]:
            return (self.rows - self.first[1]) / (end - self.first[0])
        return self.rows / (end - self.start) if end > self.start else float("inf")


_ENGINE_NAMES = {"fused": "fused kernel", "interpreted": "interpreter", "native": "native executor"}


def _engine_note(ran: dict) -> str:
    """Which path scored the rows: the fused kernel, the interpreter, the native executor (a
    program runs fused once it is hot, see README "How it works"), or which share of them."""
    used = {k: v for k, v in ran.items() if v}
    if len(used) <= 1:
        return next((_ENGINE_NAMES[k] for k in used), "")
    total = sum(used.values())
    return ", ".join(f"{_ENGINE_NAMES[k]} for {v:,} of {total:,} rows" for k, v in used.items())


class _Stats:
    """Per-score min/mean/max and per-segment label counts, accumulated batch by batch. The
    summary lists each segmentation's labels in its label order (the segment column's
    dictionary), every label, then unassigned leads (None) if any, as ``leadscore segment``."""

    def __init__(self, scores: list[str], segments: list[str]):
        self.scores = {s: [None, None, 0.0, 0] for s in scores}  # min, max, sum, count
        self.segments: dict[str, dict] = {g: {} for g in segments}
        self.labels: dict[str, list] = {g: [] for g in segments}

    @classmethod
    def from_native(cls, got: dict) -> "_Stats":
        """The stats of a Rust bulk run (parquet_native.score_file's summary)."""
        program = got["program"]
        stats = cls(list(program.scores), [g["name"] for g in program.segments])
        for name, (lo, hi, total, n) in zip(program.scores, got["scores"]):
            stats.scores[name] = [lo if n else None, hi if n else None, total, n]
        for seg, counts in zip(program.segments, got["segments"]):
            name, labels = seg["name"], seg["labels"]
            stats.labels[name] = list(labels)
            tally = {label: c for label, c in zip(labels, counts) if c}
            if counts[-1]:
                tally[None] = counts[-1]
            stats.segments[name] = tally
        return stats

    def add(self, batch) -> None:
        """Fold one output batch in (over the column buffers: this runs on the scoring thread,
        beside decoding and encoding, so it must cost little; and no ``to_numpy``, which
        imports pandas for arrays with NULLs)."""
        names = batch.schema.names
        for name, acc in self.scores.items():
            if name not in names:
                continue
            arr = batch.column(names.index(name))
            n = len(arr) - arr.null_count
            if not n:
                continue
            lo, hi, total = _min_max_sum(arr)
            acc[0] = lo if acc[0] is None else min(acc[0], lo)
            acc[1] = hi if acc[1] is None else max(acc[1], hi)
            acc[2] += float(total)
            acc[3] += n
        for name, counts in self.segments.items():
            if name not in names:
                continue
            arr = batch.column(names.index(name))
            labels = arr.dictionary.to_pylist()
            order = self.labels[name]
            order += [x for x in labels if x not in order]
            if arr.null_count:
                counts[None] = counts.get(None, 0) + arr.null_count
            for code, c in _code_counts(arr.indices):
                counts[labels[code]] = counts.get(labels[code], 0) + c

    def merge(self, other: _Stats) -> None:
        """Fold in another part's statistics (--engine dask: one per file)."""
        for name, (lo, hi, total, n) in other.scores.items():
            acc = self.scores[name]
            if n:
                acc[0] = lo if acc[0] is None else min(acc[0], lo)
                acc[1] = hi if acc[1] is None else max(acc[1], hi)
                acc[2] += total
                acc[3] += n
        for name, order in other.labels.items():
            self.labels[name] += [x for x in order if x not in self.labels[name]]
        for name, counts in other.segments.items():
            mine = self.segments[name]
            for label, n in counts.items():
                mine[label] = mine.get(label, 0) + n

    def summary(self, rows: int, clock: _Clock, output, engine: str) -> dict:
        end = time.perf_counter()
        return {
            "rows": rows, "seconds": round(end - clock.start, 4),
            "rows_per_second": round(clock.rate(end)),
            "first_batch_seconds": round(clock.first[0] - clock.start, 4) if clock.first
            else None,
            "engine": engine, "output": str(output),
            "scores": {name: {"min": _num(lo), "mean": (total / n if n else None),
                              "max": _num(hi),
                              "non_null": n}
                       for name, (lo, hi, total, n) in self.scores.items()},
            "segments": {name: [{"segment": label, "leads": counts.get(label, 0),
                                 "share": counts.get(label, 0) / rows if rows else None}
                                for label in self.labels[name] + [None] * (None in counts)]
                         for name, counts in self.segments.items()},
        }

    def print(self, err, s: dict) -> None:
        err.print(f"scored {s['rows']:,} rows in {s['seconds']:.2f} s "
                  f"({s['rows_per_second']:,} rows/s{', ' + s['engine'] if s['engine'] else ''})"
                  f" → {s['output']}", highlight=False, soft_wrap=True)
        if s["scores"]:
            t = table("score", "min", "mean", "max")
            for name, v in s["scores"].items():
                cells = ("-", "-", "-") if not v["non_null"] else (
                    f"{v['min']:.2f}", f"{v['mean']:.2f}", f"{v['max']:.2f}")
                t.add_row(name, *cells)
            err.print(t)
        for name, rows in s["segments"].items():
            t = table(name, "leads", "share")
            for r in rows:
                share = f"{100 * r['share']:.1f}%" if r["share"] is not None else "-"
                t.add_row("(none)" if r["segment"] is None else str(r["segment"]),
                          f"{r['leads']:,}", share)
            err.print(t)


def _min_max_sum(arr) -> tuple:
    """Min, max (NaN skipped) and sum of a float64 array's non-NULL values. numpy over the
    buffer when there are no NULLs or NaNs (the common case, and no pyarrow.compute import,
    ~40 ms of start-up); Arrow's kernels otherwise."""
    import numpy as np
    import pyarrow as pa

    if arr.null_count == 0 and pa.types.is_float64(arr.type) and len(arr):
        vals = np.frombuffer(arr.buffers()[1], np.float64, len(arr), arr.offset * 8)
        lo, hi = vals.min(), vals.max()
        if not (np.isnan(lo) or np.isnan(hi)):
            return float(lo), float(hi), float(vals.sum())
    import pyarrow.compute as pc

    bounds = pc.min_max(arr)
    return bounds["min"].as_py(), bounds["max"].as_py(), float(pc.sum(arr).as_py())


def _code_counts(indices) -> list:
    """(code, count) of a dictionary array's non-NULL indices."""
    import numpy as np
    import pyarrow as pa

    if indices.null_count == 0 and pa.types.is_integer(indices.type) and len(indices):
        codes = np.frombuffer(indices.buffers()[1], indices.type.to_pandas_dtype(), len(indices),
                              indices.offset * indices.type.bit_width // 8)
        if codes.min() >= 0:
            tally = np.bincount(codes)
            return [(int(c), int(k)) for c, k in enumerate(tally) if k]
    import pyarrow.compute as pc

    tally = pc.value_counts(indices.drop_null())
    return list(zip(tally.field("values").to_pylist(), tally.field("counts").to_pylist()))
