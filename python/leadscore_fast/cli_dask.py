"""``leadscore score --engine dask``: a Parquet dataset directory rescored on a local Dask
cluster (``--workers`` processes, one thread each) through ``leadscore_fast.dask.score``.

One partition per input file; each task reads its file, scores it and writes it to the same
relative path under a temporary directory, which replaces OUTPUT only once every file is
written (as ``sinks.write_parts`` does). Each task also returns its output's statistics, so
the client shows progress as files finish and prints the usual summary.
"""
from __future__ import annotations

import os
import shutil

__all__ = ["score_dataset"]


def _read(spec):
    """One file of the dataset ``spec = (input, relative path)``, as pandas with Arrow dtypes."""
    import pandas as pd

    from leadscore_fast.sources import open_source

    path, rel = spec
    for r, part in open_source(path).parts():
        if r == rel:
            return part.read_all().to_pandas(types_mapper=pd.ArrowDtype)
    raise FileNotFoundError(f"{path}: {rel} is gone")


def _write(pdf, target, compression, labels, scores, segments):
    """Write a scored partition as the local engine does (segments as dictionaries over the
    labels, in label order); returns (rows, statistics)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from leadscore_fast.cli_score import _Stats
    from leadscore_fast.sinks import ROW_GROUP_ROWS, _write_parquet

    table = pa.Table.from_pandas(pdf, preserve_index=False)
    for name, values in labels.items():
        i = table.schema.get_field_index(name)
        dictionary = pa.array(values, pa.string())
        codes = pc.index_in(table.column(i), value_set=dictionary).cast(pa.int32())
        table = table.set_column(i, name, pa.chunked_array(
            [pa.DictionaryArray.from_arrays(c, dictionary) for c in codes.chunks],
            pa.dictionary(pa.int32(), pa.string())))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    batches = table.to_batches()
    stats = _Stats(scores, segments)
    for b in batches:
        stats.add(b)
    _write_parquet(target, table.schema, iter(batches), compression, ROW_GROUP_ROWS)
    return table.num_rows, stats


def score_dataset(m, src, input_path, output, *, keep, as_of, compression, workers,
                  stats, on_part) -> int:
    """Rescore the dataset ``src`` (opened from ``input_path``) into directory ``output``;
    ``on_part(rows)`` after each file, ``stats`` merges each file's statistics."""
    import dask
    import dask.dataframe as dd
    import distributed
    import pandas as pd

    from leadscore_fast import dask as ldask
    from leadscore_fast.compiled import CompiledModel
    from leadscore_fast.atomic import temp_name
    from leadscore_fast.sinks import _check_compression, _data_error, _swap_in

    compression = _check_compression(compression)
    keep = [k for k in keep if k not in src.partition_columns]
    rels = [rel for rel, _part in src.parts()]
    meta = src.schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
    ddf = dd.from_map(_read, [(str(input_path), rel) for rel in rels], meta=meta)
    cm = CompiledModel(m, src.schema)  # a missing column fails here, before the cluster
    scored = ldask.score(ddf, cm, keep=keep, as_of=as_of)
    labels = {g["name"]: list(g["labels"]) for g in cm.program.segments}
    output = os.fspath(output).rstrip(os.sep) or os.sep
    if os.path.exists(output) and not os.path.isdir(output):
        raise _data_error(f"{output}: exists and is not a directory (a directory input writes "
                          "a directory output)")
    tmp = temp_name(output)
    os.mkdir(tmp)
    rows = 0
    try:
        tasks = [dask.delayed(_write)(part, os.path.join(tmp, rel), compression, labels,
                                      cm.score_names, cm.segment_names)
                 for part, rel in zip(scored.to_delayed(), rels)]
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                      dashboard_address=":0", silence_logs=50) as cluster, \
                distributed.Client(cluster) as client:
            for future in distributed.as_completed(client.compute(tasks)):
                n, part_stats = future.result()
                rows += n
                stats.merge(part_stats)
                on_part(n)
        _swap_in(tmp, output)
        return rows
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
