"""The peers of the end-to-end benchmark (benchmarks/e2e.py), one per fresh process:

    python benchmarks/e2e_peers.py polars  IN OUT PLAN     Polars: scan_parquet → sink_parquet
    python benchmarks/e2e_peers.py duckdb  IN OUT SQLFILE  DuckDB: COPY (SELECT ...) TO OUT
    python benchmarks/e2e_peers.py pyarrow IN OUT SHAPE    read the model's columns, write
                                                          leadscore's output file, no scoring
    python benchmarks/e2e_peers.py pg-copy URI SHAPE       ADBC: model columns out, outputs in
    python benchmarks/e2e_peers.py pg-sql  URI SQLFILE     run one SQL statement (an UPDATE)
    python -S benchmarks/e2e_peers.py launch RESULT ARGV   run ARGV, write its wall time,
                                                          rusage and peak RSS to RESULT

Each imports only what it measures (no leadscore_fast, no numba): the harness prepares the model
as data beforehand, in its own process. PLAN is Polars' own binary serialisation of the
expressions (``Expr.meta.serialize``), SQLFILE is SQL text for the database to run, SHAPE is a
JSON description of the output columns; none is Python evaluated here.
"""
from __future__ import annotations

import base64
import json
import sys


def _load_json(path: str):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


# ------------------------------------------------------------------ Polars
def polars(src: str, out: str, plan_path: str) -> None:
    """``pl.scan_parquet(src)`` + the plan's steps (``select`` / ``with_columns``, each a list
    of serialised expressions) + ``sink_parquet(out)``: Polars' streaming engine, its defaults."""
    import io

    import polars as pl

    plan = _load_json(plan_path)
    lf = pl.scan_parquet(src)
    for step in plan["steps"]:
        exprs = [pl.Expr.deserialize(io.BytesIO(base64.b64decode(e)), format="binary")
                 for e in step["exprs"]]
        lf = getattr(lf, step["op"])(*exprs)
    lf.sink_parquet(out)


# ------------------------------------------------------------------ DuckDB
def duckdb(src: str, out: str, sql_path: str) -> None:
    """``COPY (<sql>) TO out (FORMAT parquet)`` where <sql> reads the view ``leads`` over
    ``read_parquet(src)`` (DuckDB inlines the view: projection pushdown into the scan)."""
    import duckdb as ddb

    with open(sql_path, encoding="utf-8") as f:
        sql = f.read().strip().rstrip(";")
    con = ddb.connect()
    con.execute(f"CREATE VIEW leads AS SELECT * FROM read_parquet({_sql_str(src)})")
    con.execute(f"COPY ({sql}) TO {_sql_str(out)} (FORMAT parquet)")
    con.close()


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# ------------------------------------------------------------------ output columns, no scoring
class _Outputs:
    """Columns like leadscore's output, without scoring. ``shape`` lists the output columns in
    order: ``["name", "keep"]`` is the input column of that name, ``["name", "sample"]`` a
    column of the ``sample`` file: up to ~1M rows of leadscore's own output (its values, so
    the same compressibility and dictionaries), read once at start and sliced per batch
    (cycled for longer batches). ``as_string`` turns dictionary columns into plain strings
    (a database table's text column)."""

    def __init__(self, spec: dict):
        import pyarrow as pa
        import pyarrow.parquet as pq

        self.shape = spec["shape"]
        names = [x[0] for x in self.shape if x[1] == "sample"]
        # ParquetFile.read, not pq.read_table: that goes through pyarrow.dataset (+0.3 s).
        t = pq.ParquetFile(spec["sample"]).read(columns=names).combine_chunks()
        if spec.get("as_string"):
            t = pa.table([c.cast(pa.string()) if pa.types.is_dictionary(c.type) else c
                          for c in t.columns], names=t.column_names)
        self.sample = {n: t.column(n).chunk(0) if t.column(n).num_chunks else
                       t.column(n).combine_chunks() for n in names}
        self.rows = t.num_rows

    def _column(self, name: str, n: int):
        import pyarrow as pa

        arr = self.sample[name]
        if n <= self.rows:
            return arr.slice(0, n)
        parts = [arr] * (n // self.rows) + [arr.slice(0, n % self.rows)]
        return pa.chunked_array(parts).combine_chunks()

    def batch(self, batch):
        import pyarrow as pa

        n = batch.num_rows
        cols = [batch.column(x[0]) if x[1] == "keep" else self._column(x[0], n)
                for x in self.shape]
        return pa.RecordBatch.from_arrays(cols, [x[0] for x in self.shape])

    def columns_kept(self) -> list[str]:
        return [x[0] for x in self.shape if x[1] == "keep"]


def pyarrow(src: str, out: str, shape_path: str) -> None:
    """Read only the model's columns (+ the kept ones) and write the output columns: the file
    leadscore writes (the same columns, values, codec, dictionary columns and row-group size,
    from ``spec["writer"]``), without the scoring.

    mode ``batches``: ``ParquetFile.iter_batches(columns=...)`` (pyarrow's default batch size
    and pre-buffering), batches gathered into row groups of ``row_group_rows``;
    mode ``rowgroups``: ``read_row_group(i, columns=...)``, one ``write_table`` each."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    spec = _load_json(shape_path)
    w = spec["writer"]
    outputs = _Outputs(spec)
    columns = list(dict.fromkeys(spec["columns"] + outputs.columns_kept()))
    f = pq.ParquetFile(src)
    writer = None
    group = max(1, int(w["row_group_rows"]))

    def write(batches) -> None:
        nonlocal writer
        t = pa.Table.from_batches(batches)
        if writer is None:
            writer = pq.ParquetWriter(out, t.schema, compression=w["compression"],
                                      use_dictionary=w["use_dictionary"])
        writer.write_table(t, row_group_size=group)

    try:
        if spec.get("mode", "batches") == "rowgroups":
            for i in range(f.num_row_groups):
                t = f.read_row_group(i, columns=columns)
                write([outputs.batch(b) for b in t.to_batches()])
        else:
            held, n = [], 0
            for batch in f.iter_batches(columns=columns):
                held.append(outputs.batch(batch))
                n += batch.num_rows
                if n >= group:
                    write(held)
                    held, n = [], 0
            if held:
                write(held)
    finally:
        if writer is not None:
            writer.close()


# ------------------------------------------------------------------ PostgreSQL through ADBC
def pg_copy(uri: str, shape_path: str) -> None:
    """The same ADBC driver copying the model's columns out (``SELECT cols FROM table``,
    ``fetch_arrow_table``) and output-shaped columns in (``adbc_ingest`` into a table replaced
    as a whole, one transaction): the floor of ``leadscore rescore --into``."""
    import pyarrow as pa
    from adbc_driver_postgresql import dbapi

    spec = _load_json(shape_path)
    outputs = _Outputs(spec)
    columns = list(dict.fromkeys(spec["columns"] + outputs.columns_kept()))
    with dbapi.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.execute(f"SELECT {', '.join(_ident(c) for c in columns)} "
                        f"FROM {_ident(spec['table'])}")
            table = cur.fetch_arrow_table().combine_chunks()
            batches = table.to_batches() or [pa.RecordBatch.from_pylist([], table.schema)]
            out = pa.Table.from_batches([outputs.batch(b) for b in batches])
            cur.adbc_ingest(spec["into"], out, mode="replace")
        conn.commit()


def pg_sql(uri: str, sql_path: str) -> None:
    """Run one statement (the model as one UPDATE) and commit."""
    from adbc_driver_postgresql import dbapi

    with open(sql_path, encoding="utf-8") as f:
        sql = f.read()
    with dbapi.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.execute(sql)
        conn.commit()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------ the launcher
def launch(result_path: str, *argv: str) -> int:
    """Spawn ``argv``, wait for it, write its wall time, rusage and peak RssAnon / RssFile to
    ``result_path`` (JSON); exit with its exit code. The harness runs every contender through
    this small process (``python -S``, stdlib only) because a child's ``ru_maxrss`` starts at
    the RSS of the process it was spawned from: spawned from the harness, with numba and
    Polars loaded, every contender would read at least ~270 MB."""
    import os
    import threading
    import time

    peaks = {"RssAnon:": 0, "RssFile:": 0}
    done = threading.Event()

    def poll(pid: int) -> None:  # /proc (Linux), 20 times a second
        path = f"/proc/{pid}/status"
        while not done.is_set():
            try:
                with open(path) as f:
                    for line in f:
                        key = line.split(None, 1)[0]
                        if key in peaks:
                            peaks[key] = max(peaks[key], int(line.split()[1]))
            except (OSError, ValueError, IndexError):
                return
            done.wait(0.05)

    t0 = time.perf_counter()
    pid = os.posix_spawnp(argv[0], list(argv), dict(os.environ))
    poller = threading.Thread(target=poll, args=(pid,), daemon=True)
    poller.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    done.set()
    poller.join()
    code = os.waitstatus_to_exitcode(status)
    kib = 1024 if sys.platform == "darwin" else 1  # ru_maxrss: bytes on macOS, KiB on Linux
    with open(result_path, "w", encoding="utf-8") as f:
        json.dump({"wall_s": wall, "maxrss_kb": ru.ru_maxrss / kib, "utime_s": ru.ru_utime,
                   "stime_s": ru.ru_stime, "rss_anon_kb": peaks["RssAnon:"],
                   "rss_file_kb": peaks["RssFile:"], "exit": code}, f)
    return code if code >= 0 else 128 - code


PEERS = {"polars": polars, "duckdb": duckdb, "pyarrow": pyarrow, "pg-copy": pg_copy,
         "pg-sql": pg_sql, "launch": launch}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in PEERS:
        print(__doc__, file=sys.stderr)
        return 2
    return PEERS[argv[0]](*argv[1:]) or 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
