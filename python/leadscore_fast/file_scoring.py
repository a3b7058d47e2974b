"""``lf.score_file``: score a file (or a Parquet dataset) into a file, atomically, in bounded
memory. A Parquet file into a Parquet file runs in Rust end to end (parquet_native.py);
anything else streams through ``score`` and ``write_output``."""
from __future__ import annotations

import os

__all__ = ["score_file"]


def score_file(model, input, output, *, keep=None, as_of=None, threads=None,  # noqa: A002
               executor=None, compression="snappy", input_format=None,
               output_format=None) -> int:
    """Score ``input`` (a file path, a directory or glob of Parquet files: whatever
    ``lf.source`` opens) with ``model`` and write the scores, segments and ``keep`` columns to
    ``output`` (format from its extension unless ``output_format``), atomically: a failure
    leaves no output, or the previous one. Returns the rows written. ``executor``: as
    ``lf.score``'s (the Rust path runs the native executor, which gives every executor's bits).
    """
    from leadscore_fast import parquet_native

    keep = [keep] if isinstance(keep, (str, os.PathLike)) else list(keep or [])
    if parquet_native.takes(input, output, input_format=input_format,
                            output_format=output_format, executor=executor):
        got = parquet_native.score_file(model, input, output, keep=keep, as_of=as_of,
                                        threads=threads, compression=compression)
        if got is not None:
            return got["rows"]
    from leadscore_fast.scoring import score
    from leadscore_fast.sinks import write_output
    from leadscore_fast.sources import open_source

    src = open_source(input, format=input_format)
    scored = score(model, src, keep=keep, as_of=as_of, threads=threads, executor=executor,
                   stream=True)
    return write_output(scored, output, format=output_format, compression=compression)
