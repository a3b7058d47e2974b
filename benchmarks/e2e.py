"""Whole-process, end-to-end bulk rescoring: ``make bench-e2e`` /

    python benchmarks/e2e.py [--rows 10000000] [--repeat 3] [--scaling 1e6,1e7,3e7] [--huge]
                             [--postgres] [--profile]

What users feel: a file in, a file out, each contender one fresh process, timed wall-clock with
the peak RSS of that process (``os.wait4`` rusage, taken by a small launcher process: see
``e2e_peers.launch``). Issue 10's "Speed" targets are ratios measured in the same run, with the
runs interleaved (A B C D, B C D A, ...):

    leadscore score MODEL in.parquet -o out.parquet --keep lead_id
    Polars    scan_parquet(in).select(<peers.py's hand-written model>, lead_id).sink_parquet(out)
    DuckDB    COPY (SELECT <model>, lead_id FROM read_parquet(in)) TO out (FORMAT parquet),
              with peers.py's hand-written SQL and with leadscore_fast.to_sql's
    pyarrow   read only the model's columns + lead_id (iter_batches, or read_row_group) and
              write the file leadscore writes (its columns, codec, dictionary columns and
              row-group size, values sampled from its output), no scoring: the I/O floor

Before any timing every contender runs once on the same file and its output is checked against
leadscore's (scores and tiers, workloads.assert_agree); that run also fills the numba and
fused-kernel caches. The page cache cannot be dropped here, so the input is read once before
every round: all contenders see a warm page cache. Outputs go to the page cache too (no fsync)
and are deleted after each run.

``--scaling`` repeats the measurement at other sizes (per-row time and peak RSS should stay
flat); ``--huge`` adds 100M rows (written by streaming 1M-row blocks, never held in memory).
``--postgres`` starts a throwaway PostgreSQL server (tests/postgres_server.py) and times
``leadscore rescore`` on a 1M-lead table against the same ADBC driver copying the data out and
in, and against PostgreSQL running the model as one UPDATE; it skips with a printed reason while
``leadscore rescore`` or ``to_sql(..., dialect="postgres")`` do not exist.
``--profile`` samples one ``leadscore score`` run with py-spy: read / score / stats / write.

Input files are cached in benchmarks/.data/ (``--data-dir``). Writes into ``--out-dir``
(benchmarks/results/): e2e.md (tables), e2e.json (raw runs, git-ignored), e2e.png (plot).
"""
from __future__ import annotations

import argparse
import base64
import datetime as dt
import gc
import importlib.util
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from runinfo import load_average, log, version  # noqa: E402

PEERS_SCRIPT = HERE / "e2e_peers.py"
SEED = 20261101
BLOCK = 1_000_000          # rows per generated block (and per input row group)
OUTPUTS = ["fit", "engagement", "total"]
THRESHOLDS = (40.0, 25.0)  # the reference model's tier thresholds (float noise allowance)
KEY = "lead_id"
SETTLE_S = 0.3             # pause before each run: peers' worker threads spin on after exit
LS = "leadscore"
PYARROW = "pyarrow baseline"
PYARROW_RG = "pyarrow row groups"


def _rows_arg(text: str) -> list[int]:
    if text.strip().lower() in ("", "none", "0"):
        return []
    return [int(float(x)) for x in text.replace("_", "").split(",") if x.strip()]


# ------------------------------------------------------------------ input data
def ensure_input(rows: int, data_dir: Path) -> Path:
    """``rows`` synthetic leads as Parquet, cached: blocks of 1M rows (``generate_leads(n,
    seed=SEED + k)``, lead_id renumbered 1..rows), each block one row group, written by
    streaming: never more than one block in memory."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from leadscore_fast.synthetic import generate_leads

    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"leads-{rows}-s{SEED}.parquet"
    if path.exists():
        try:
            if pq.ParquetFile(path).metadata.num_rows == rows:
                return path
        except Exception:  # a torn file from an interrupted run: write it again
            pass
    log(f"writing {rows:,} synthetic leads to {path} (once; cached)")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    writer = None
    try:
        for k, lo in enumerate(range(0, max(rows, 1), BLOCK)):
            n = min(BLOCK, rows - lo)
            t = generate_leads(n, seed=SEED + k)
            ids = pa.array(np.arange(lo + 1, lo + n + 1, dtype=np.int64))
            t = t.set_column(t.schema.get_field_index(KEY), KEY, ids)
            if writer is None:
                writer = pq.ParquetWriter(tmp, t.schema)
            writer.write_table(t, row_group_size=BLOCK)
            del t
        writer.close()
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def warm_page_cache(path: Path) -> float:
    """Read every byte of ``path`` once (the page cache cannot be dropped here, so make it warm
    for everyone instead); returns seconds taken."""
    t = time.perf_counter()
    with open(path, "rb", buffering=0) as f:
        while f.read(8 << 20):
            pass
    return time.perf_counter() - t


# ------------------------------------------------------------------ running one process
@dataclass
class Run:
    wall_s: float
    rss_mb: float
    cpu_s: float
    anon_mb: float
    file_mb: float
    out_mb: float
    stdout: str = ""
    stderr: str = ""


def run_process(argv: list[str], out_path: Path | None, *, env=None, timeout: float = 7200
                ) -> Run:
    """Run ``argv`` as a fresh process through the launcher (e2e_peers.launch: spawn to reap
    wall time, rusage, peak RssAnon / RssFile; its own RSS, ~11 MB, is the floor of ru_maxrss).
    stdout/stderr go to files: no pipe to drain while timing."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile(suffix=".json", delete=False) as res:
        res.close()
        p = subprocess.Popen([sys.executable, "-S", str(PEERS_SCRIPT), "launch", res.name,
                              *map(str, argv)], stdout=out, stderr=err, env=env, cwd=ROOT,
                             start_new_session=True)
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)  # the launcher and the contender
            p.wait()
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode(errors="replace")
        stderr = err.read().decode(errors="replace")
        try:
            with open(res.name, encoding="utf-8") as f:
                r = json.load(f)
        except (OSError, ValueError):
            r = None
        finally:
            os.unlink(res.name)
    if p.returncode != 0 or r is None:
        raise RuntimeError(f"{' '.join(map(str, argv))} exited {p.returncode}:\n"
                           f"{(stderr or stdout)[-3000:]}")
    out_mb = 0.0
    if out_path is not None and out_path.exists():
        out_mb = out_path.stat().st_size / 1e6
    return Run(r["wall_s"], r["maxrss_kb"] / 1024, r["utime_s"] + r["stime_s"],
               r["rss_anon_kb"] / 1024, r["rss_file_kb"] / 1024, out_mb, stdout, stderr)


def leadscore_exe() -> list[str]:
    """The ``leadscore`` console script of this interpreter (not a pyenv shim: that would add
    a bash + pyenv start to every run)."""
    here = Path(sys.executable).with_name("leadscore")
    if here.exists():
        return [str(here)]
    found = shutil.which("leadscore")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from leadscore_fast.cli import main; "
            "sys.exit(main())"]


def child_env() -> dict:
    """The children import the same leadscore_fast as this process (a source checkout too),
    with its bytecode cached as an installed package has it: the peers' site-packages are
    compiled at install, and PYTHONDONTWRITEBYTECODE (set on some machines) would otherwise
    charge leadscore alone for compiling its sources in every run."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "python"),
                                                      env.get("PYTHONPATH")]))
    return env


# ------------------------------------------------------------------ the contenders
@dataclass
class Contender:
    name: str
    how: str                     # short, for the table
    command: str                 # exact, for the notes
    argv: object                 # (in_path, out_path) -> list[str]
    scores: bool = True          # its output has real scores to check
    info: bool = False           # not a target peer


@dataclass
class Setup:
    """Everything the contenders share, prepared once in this process: the model file, the
    Polars plan, the SQL files, the output shape (from leadscore's output)."""
    work: Path
    model_path: Path
    model: object
    schema: object
    polars_plan: Path
    duckdb_hand: Path
    duckdb_tosql: Path
    shape_batches: Path
    shape_rowgroups: Path
    ls_summary: dict = field(default_factory=dict)


class _Captured(Exception):
    pass


def polars_plan(path: Path) -> None:
    """peers.score_polars' hand-written expressions, captured (not copied): score_polars runs
    against a stand-in frame that records each ``select`` / ``with_columns`` and stops at
    ``collect``. The plan keeps lead_id in the first select and ends by turning the tier codes
    into an Enum of the labels (leadscore writes a dictionary string column)."""
    import polars as pl

    import peers

    steps: list = []

    class Frame:
        def lazy(self):
            return self

        def select(self, *exprs):
            steps.append(("select", list(exprs)))
            return self

        def with_columns(self, *exprs):
            steps.append(("with_columns", list(exprs)))
            return self

        def collect(self):
            raise _Captured

    try:
        peers.score_polars(Frame())
    except _Captured:
        pass
    if not steps or steps[0][0] != "select" or any(op not in ("select", "with_columns")
                                                   for op, _ in steps):
        raise RuntimeError("peers.score_polars no longer has the select/with_columns/collect "
                           "shape the e2e harness captures; update benchmarks/e2e.py")
    steps[0][1].append(pl.col(KEY))
    tiers = list(peers.TIERS)
    steps.append(("with_columns", [pl.col("tier").replace_strict(
        list(range(len(tiers))), tiers, return_dtype=pl.Enum(tiers))]))
    plan = {"steps": [{"op": op, "exprs": [base64.b64encode(e.meta.serialize(format="binary"))
                                           .decode() for e in exprs]} for op, exprs in steps]}
    path.write_text(json.dumps(plan))


def prepare(work: Path, sample_input: Path) -> Setup:
    import pyarrow.parquet as pq

    import peers
    import workloads as W
    from leadscore_fast.synthetic import REFERENCE_MODEL_YAML

    work.mkdir(parents=True, exist_ok=True)
    model_path = work / "reference.yaml"
    model_path.write_text(REFERENCE_MODEL_YAML)
    model = peers.load_model()
    schema = pq.read_schema(sample_input)
    s = Setup(work, model_path, model, schema, work / "polars.plan.json",
              work / "duckdb_hand.sql", work / "duckdb_tosql.sql", work / "shape_batches.json",
              work / "shape_rowgroups.json")
    polars_plan(s.polars_plan)
    s.duckdb_hand.write_text(peers.DUCKDB_SQL)
    s.duckdb_tosql.write_text(W.duckdb_sql(model, schema))
    return s


def contenders(s: Setup) -> list[Contender]:
    py, peer = sys.executable, str(PEERS_SCRIPT)
    ls = leadscore_exe()
    return [
        Contender(LS, "CLI", "leadscore score MODEL IN -o OUT --keep lead_id",
                  lambda i, o: ls + ["score", str(s.model_path), str(i), "-o", str(o),
                                     "--keep", KEY]),
        Contender("leadscore (Python path)", "CLI with LEADSCORE_BULK_NATIVE=0",
                  "LEADSCORE_BULK_NATIVE=0 leadscore score MODEL IN -o OUT --keep lead_id "
                  "(pyarrow reads and writes, the kernels score)",
                  lambda i, o: ["env", "LEADSCORE_BULK_NATIVE=0"] + ls + [
                      "score", str(s.model_path), str(i), "-o", str(o), "--keep", KEY],
                  info=True),
        Contender("Polars", "scan_parquet → sink_parquet, peers.py's expressions",
                  "pl.scan_parquet(IN).select(fit, engagement, lead_id).with_columns(total)"
                  ".with_columns(tier).with_columns(tier as Enum).sink_parquet(OUT)",
                  lambda i, o: [py, peer, "polars", str(i), str(o), str(s.polars_plan)]),
        Contender("DuckDB", "COPY, hand-written SQL (peers.py)",
                  "COPY (peers.DUCKDB_SQL over VIEW leads AS SELECT * FROM read_parquet(IN)) "
                  "TO OUT (FORMAT parquet)",
                  lambda i, o: [py, peer, "duckdb", str(i), str(o), str(s.duckdb_hand)]),
        Contender("DuckDB (to_sql)", "COPY, leadscore_fast.to_sql's SQL",
                  "COPY (to_sql(model, schema, relation='leads') + lead_id over the same view) "
                  "TO OUT (FORMAT parquet)",
                  lambda i, o: [py, peer, "duckdb", str(i), str(o), str(s.duckdb_tosql)]),
        Contender(PYARROW, "iter_batches(columns) → write_table, no scoring",
                  "ParquetFile(IN).iter_batches(columns=the model's + lead_id), gathered into "
                  "row groups → ParquetWriter.write_table(leadscore's output columns, codec, "
                  "dictionary columns, row-group size; values sampled from its output)",
                  lambda i, o: [py, peer, "pyarrow", str(i), str(o), str(s.shape_batches)],
                  scores=False),
        Contender(PYARROW_RG, "read_row_group(columns) → write_table, no scoring",
                  "ParquetFile(IN).read_row_group(i, columns=...) → ParquetWriter.write_table "
                  "(same outputs) per input row group",
                  lambda i, o: [py, peer, "pyarrow", str(i), str(o), str(s.shape_rowgroups)],
                  scores=False, info=True),
    ]


def write_shapes(s: Setup, ls_out: Path) -> None:
    """The no-scoring baselines write the file leadscore wrote, without scoring: the same
    columns in the same order, values from a sample of leadscore's own output (~1M rows), the
    same codec, dictionary-encoded columns and row-group size (read from its metadata)."""
    import pyarrow.parquet as pq

    f = pq.ParquetFile(ls_out)
    md = f.metadata
    names = f.schema_arrow.names
    shape = [[n, "keep" if n == KEY else "sample"] for n in names]
    sample = s.work / "ls_sample.parquet"
    t = pq.read_table(ls_out, columns=[n for n in names if n != KEY])
    pq.write_table(t.slice(0, min(t.num_rows, 1 << 20)), sample)
    del t
    compression, dictionary = "snappy", []
    if md.num_row_groups:
        rg = md.row_group(0)
        for i in range(rg.num_columns):
            col = rg.column(i)
            compression = col.compression.lower() if col.compression else compression
            if any("DICTIONARY" in e for e in col.encodings):
                dictionary.append(col.path_in_schema)
    groups = max([md.row_group(i).num_rows for i in range(md.num_row_groups)] or [1 << 20])
    writer = {"compression": "none" if compression == "uncompressed" else compression,
              "use_dictionary": dictionary, "row_group_rows": groups}
    columns = list(_model_columns(s))
    for mode, path in (("batches", s.shape_batches), ("rowgroups", s.shape_rowgroups)):
        path.write_text(json.dumps({"shape": shape, "columns": columns, "mode": mode,
                                    "sample": str(sample), "writer": writer}))


def _model_columns(s: Setup) -> list[str]:
    """The input columns the model reads, as the compiler says (else the reference spec's)."""
    try:
        import leadscore_fast as lf

        cols = [c["name"] if isinstance(c, dict) else c
                for c in lf.compile(s.model, s.schema).columns]
        if cols and all(isinstance(c, str) for c in cols):
            return list(dict.fromkeys(cols))
    except Exception:
        pass
    import workloads as W

    return W.reference_spec().columns()


# ------------------------------------------------------------------ checking outputs
def check_outputs(outs: dict[str, Path], cs: list[Contender], rows: int, check_max: int) -> dict:
    """Every scoring contender's output against leadscore's (rows, scores, tiers); the
    no-scoring ones for shape (names and types). Above ``check_max`` rows only row counts and
    schemas are compared (the outputs would have to be held in memory)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    import workloads as W

    ref_schema = pq.read_schema(outs[LS])
    result = {}
    want = None
    if rows <= check_max:
        want = W.normalize(pq.read_table(outs[LS], columns=OUTPUTS + ["tier", KEY]), OUTPUTS)
        assert len(want["total"]) == rows, (LS, len(want["total"]), rows)
    for c in cs:
        path = outs[c.name]
        n = pq.ParquetFile(path).metadata.num_rows
        assert n == rows, f"{c.name}: {n:,} rows written, expected {rows:,}"
        schema = pq.read_schema(path)
        names = sorted(schema.names)
        assert names == sorted(ref_schema.names), (c.name, schema.names, ref_schema.names)
        kinds = {f.name: _kind(f.type) for f in schema}
        ref_kinds = {f.name: _kind(f.type) for f in ref_schema}
        if kinds != ref_kinds:
            raise AssertionError(f"{c.name}: output types {kinds} differ from leadscore's "
                                 f"{ref_kinds}")
        if c.name == LS or not c.scores:
            result[c.name] = "shape" if not c.scores else "reference"
            continue
        if want is None:
            result[c.name] = "rows and schema only"
            continue
        got = W.normalize(pq.read_table(path, columns=OUTPUTS + ["tier", KEY]), OUTPUTS)
        W.assert_agree(got, want, OUTPUTS, c.name, THRESHOLDS)
        result[c.name] = "agrees"
        del got
    del pa
    return result


def _kind(t) -> str:
    import pyarrow as pa

    # A dictionary string column and a string one are the same in Parquet (UTF8 byte arrays,
    # dictionary-encoded pages); only the stored Arrow schema differs (DuckDB writes none).
    if pa.types.is_dictionary(t):
        return "string" if _stringy(t.value_type) else str(t)
    if _stringy(t):
        return "string"
    return str(t)


def _stringy(t) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(t) or pa.types.is_large_string(t)
            or getattr(pa.types, "is_string_view", lambda _: False)(t))


# ------------------------------------------------------------------ one size
def measure(s: Setup, cs: list[Contender], path: Path, rows: int, repeat: int, *,
            check_max: int, keep_outputs: Path | None = None) -> dict:
    """Check round (every contender once, outputs compared), then ``repeat`` interleaved
    rounds with the order rotated; the input's pages are made warm before every round."""
    env = child_env()
    outs = {c.name: s.work / f"out-{_slug(c.name)}.parquet" for c in cs}
    log(f"{rows:,} rows: check round (also fills the kernel caches)")
    warm = warm_page_cache(path)
    first: dict = {}
    by_name = {c.name: c for c in cs}
    ordered = [LS] + [c.name for c in cs if c.name != LS]  # leadscore first: its shape
    for name in ordered:
        c = by_name[name]
        r = run_process(c.argv(path, outs[name]), outs[name], env=env)
        first[name] = r.__dict__ | {"stdout": "", "stderr": ""}
        if name == LS:
            write_shapes(s, outs[LS])
            s.ls_summary = _ls_summary(r)
    checks = check_outputs(outs, cs, rows, check_max)
    log(f"  outputs: " + ", ".join(f"{k}: {v}" for k, v in checks.items()))
    if keep_outputs is not None:
        keep_outputs.mkdir(parents=True, exist_ok=True)
        for name, p in outs.items():
            shutil.move(str(p), keep_outputs / f"{rows}-{_slug(name)}.parquet")
    for p in outs.values():
        p.unlink(missing_ok=True)

    runs: dict[str, list] = {c.name: [] for c in cs}
    loads = []
    for k in range(repeat):
        warm_page_cache(path)
        order = ordered[k % len(ordered):] + ordered[:k % len(ordered)]
        loads.append(load_average())
        for name in order:
            gc.collect()
            time.sleep(SETTLE_S)
            r = run_process(by_name[name].argv(path, outs[name]), outs[name], env=env)
            outs[name].unlink(missing_ok=True)
            runs[name].append(r.__dict__ | {"stdout": "", "stderr": ""})
            if name == LS:
                s.ls_summary = _ls_summary(r)
        log(f"  round {k + 1}/{repeat}: " + ", ".join(
            f"{n} {runs[n][-1]['wall_s']:.2f}s/{runs[n][-1]['rss_mb']:.0f}MB" for n in order))
    return {"rows": rows, "file": str(path), "file_mb": path.stat().st_size / 1e6,
            "warm_read_s": warm, "repeat": repeat, "first": first, "runs": runs,
            "checks": checks, "loads": loads, "ls_summary": s.ls_summary,
            "summary": summarize(runs, rows)}


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _ls_summary(r: Run) -> dict:
    """leadscore's own closing line: rows, in-process seconds, engine."""
    text = r.stderr + r.stdout
    m = re.search(r"scored ([\d,]+) rows in ([\d.]+) s \(([^)]*)\)", text)
    if not m:
        return {"line": text.strip().splitlines()[0] if text.strip() else ""}
    return {"line": m.group(0), "rows": int(m.group(1).replace(",", "")),
            "inside_s": float(m.group(2)), "note": m.group(3), "wall_s": r.wall_s}


def summarize(runs: dict, rows: int) -> dict:
    out = {}
    for name, rs in runs.items():
        if not rs:
            continue
        walls = [r["wall_s"] for r in rs]
        med = statistics.median(walls)
        out[name] = {"median_s": med, "min_s": min(walls), "mrows_s": rows / med / 1e6,
                     "ns_row": med / max(rows, 1) * 1e9,
                     "rss_mb": max(r["rss_mb"] for r in rs),
                     "anon_mb": max(r["anon_mb"] for r in rs),
                     "file_mb": max(r["file_mb"] for r in rs),
                     "cpu_s": statistics.median(r["cpu_s"] for r in rs),
                     "cpu_pct": statistics.median(100 * r["cpu_s"] / r["wall_s"] for r in rs),
                     "out_mb": statistics.median(r["out_mb"] for r in rs)}
    return out


# ------------------------------------------------------------------ PostgreSQL
def _import_postgres_server():
    spec = importlib.util.spec_from_file_location("leadscore_postgres_server",
                                                  ROOT / "tests" / "postgres_server.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.PostgresServer


def _rescore_available() -> str | None:
    """None when ``leadscore rescore`` runs with --db/--table/--key, else why not."""
    help_text = _rescore_help()
    if not help_text.startswith("Usage"):
        return help_text
    missing = [opt for opt in ("--db", "--table", "--key") if opt not in help_text]
    if missing:
        return f"`leadscore rescore` lacks {', '.join(missing)}"
    return None


def _rescore_help() -> str:
    try:
        done = subprocess.run(leadscore_exe() + ["rescore", "--help"], capture_output=True,
                              text=True, timeout=120, env=child_env())
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"`leadscore rescore` could not run: {e}"
    if done.returncode != 0:
        return "`leadscore rescore` is not available yet: " + \
            ((done.stderr or done.stdout).strip().splitlines() or ["?"])[-1]
    return done.stdout.strip()


def _update_sql(model, schema, outputs: list[str]) -> str:
    """The model as one PostgreSQL UPDATE: to_sql(..., dialect="postgres") over a view of the
    model's columns + the key, joined back on the key. Raises while the dialect is missing."""
    import leadscore_fast as lf

    sel = lf.to_sql(model, schema, relation="leads_in", dialect="postgres", include_input=True)
    sets = ", ".join(f'{_ident(c)} = s.{_ident(c)}' for c in outputs)
    return (f'UPDATE "leads" AS t SET {sets}\nFROM (\n{sel.strip().rstrip(";")}\n) AS s\n'
            f'WHERE t.{_ident(KEY)} = s.{_ident(KEY)}')


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def postgres_part(s: Setup, rows: int, repeat: int, *, allow_partial: bool = False) -> dict:
    """--into against the ADBC copy floor; in-place write-back against one UPDATE."""
    reason = _rescore_available()
    if reason and not allow_partial:
        return {"skipped": reason}
    try:
        import adbc_driver_postgresql.dbapi as dbapi  # noqa: F401
    except ImportError as e:
        return {"skipped": f"adbc-driver-postgresql not installed: {e}"}
    try:
        PostgresServer = _import_postgres_server()
        server = PostgresServer()
    except Exception as e:  # no binaries, initdb failure
        return {"skipped": f"no PostgreSQL server: {e}"}
    try:
        return _postgres(s, server.uri, rows, repeat, rescore_missing=reason)
    finally:
        server.stop()


def _postgres(s: Setup, uri: str, rows: int, repeat: int, *, rescore_missing) -> dict:
    import adbc_driver_postgresql.dbapi as dbapi
    import pyarrow as pa
    import pyarrow.parquet as pq

    import leadscore_fast as lf
    import workloads as W
    from leadscore_fast.synthetic import generate_leads

    log(f"PostgreSQL: loading {rows:,} leads")
    src = generate_leads(rows, seed=SEED)
    want = W.normalize(lf.score(s.model, src, keep=[KEY]), OUTPUTS)
    plain = pa.table({f.name: (src.column(f.name).cast(f.type.value_type)
                               if pa.types.is_dictionary(f.type) else src.column(f.name))
                      for f in src.schema})
    cols = _model_columns(s)
    admin = dbapi.connect(uri, autocommit=True)

    def sql(text):
        with admin.cursor() as cur:
            cur.execute(text)

    with admin.cursor() as cur:
        try:
            cur.adbc_ingest("leads", plain, mode="create")
        except Exception:  # a driver without list columns: the model does not read them
            sql('DROP TABLE IF EXISTS "leads"')
            plain = plain.select([f.name for f in plain.schema
                                  if not pa.types.is_nested(f.type)])
            cur.adbc_ingest("leads", plain, mode="create")
    sql(f'ALTER TABLE "leads" ADD PRIMARY KEY ({_ident(KEY)})')
    sql('VACUUM ANALYZE "leads"')
    sql(f'CREATE VIEW "leads_in" AS SELECT {", ".join(_ident(c) for c in [KEY] + cols)} '
        'FROM "leads"')
    in_schema = plain.select([KEY] + cols).schema
    del src

    spec = json.loads(s.shape_batches.read_text())
    shape_path = s.work / "pg_copy.json"
    shape_path.write_text(json.dumps(dict(spec, columns=cols, table="leads", into="scores_copy",
                                          as_string=True)))
    outputs = [x[0] for x in spec["shape"] if x[1] != "keep"]
    out_types = {f.name: f.type for f in pq.read_schema(spec["sample"])}
    update_reason = None
    update_path = s.work / "pg_update.sql"
    try:
        update_path.write_text(_update_sql(s.model, in_schema, outputs))
    except Exception as e:
        update_reason = ("to_sql(..., dialect='postgres') is not available yet: "
                         f"{type(e).__name__}: {e}")
        log(f"  skipping the UPDATE peer: {update_reason}")

    py, peer, ls = sys.executable, str(PEERS_SCRIPT), leadscore_exe()
    help_text = _rescore_help() if rescore_missing is None else ""
    skipped = {}
    if rescore_missing:
        skipped["leadscore rescore"] = rescore_missing
    for opt in ("--into", "--in-database"):
        if rescore_missing is None and opt not in help_text:
            skipped[f"leadscore rescore {opt}"] = f"`leadscore rescore` has no {opt} yet"
    if update_reason:
        skipped["PostgreSQL UPDATE (to_sql)"] = update_reason
    base = ls + ["rescore", str(s.model_path), "--db", uri, "--table", "leads", "--key", KEY]
    cs: list[tuple[str, str, list, str | None, bool]] = []  # name, how, argv, read back, in place
    if rescore_missing is None and "leadscore rescore --into" not in skipped:
        cs.append(("leadscore rescore --into", "leadscore rescore ... --into scores_ls",
                   base + ["--into", "scores_ls"], "scores_ls", False))
    cs.append(("ADBC copy out + in", "SELECT model columns → fetch_arrow_table; adbc_ingest "
               "outputs (replace), no scoring", [py, peer, "pg-copy", uri, str(shape_path)],
               None, False))
    if rescore_missing is None:
        cs.append(("leadscore rescore (in place)", "leadscore rescore ... (write-back into "
                   "leads)", base, "leads", True))
    if update_reason is None:
        cs.append(("PostgreSQL UPDATE (to_sql)", "UPDATE leads FROM (to_sql postgres) "
                   "joined on lead_id", [py, peer, "pg-sql", uri, str(update_path)], "leads",
                   True))
    if rescore_missing is None and "leadscore rescore --in-database" not in skipped:
        cs.append(("leadscore rescore --in-database", "leadscore rescore ... --in-database",
                   base + ["--in-database"], "leads", True))

    def before(in_place: bool) -> None:
        # Every run starts from a compact table: an in-place run leaves a dead tuple per row,
        # which the next run would otherwise read past.
        sql('VACUUM FULL ANALYZE "leads"')

    def existing() -> set[str]:
        with admin.cursor() as cur:
            cur.execute("SELECT column_name FROM information_schema.columns "
                        "WHERE table_name = 'leads'")
            return {r[0] for r in cur.fetchall()}

    def ensure_columns() -> None:
        for c in outputs:
            typ = "double precision" if pa.types.is_floating(out_types[c]) else "text"
            sql(f'ALTER TABLE "leads" ADD COLUMN IF NOT EXISTS {_ident(c)} {typ}')

    def read_back(table: str):
        with admin.cursor() as cur:
            cur.execute(f'SELECT {_ident(KEY)}, {", ".join(_ident(c) for c in outputs)} '
                        f'FROM {_ident(table)}')
            return cur.fetch_arrow_table()

    env = child_env()
    checks, first = {}, {}
    log("PostgreSQL: check round")
    for name, _, argv, table, in_place in cs:
        if name == "PostgreSQL UPDATE (to_sql)":
            ensure_columns()  # leadscore creates its own; the UPDATE needs them to exist
        if in_place and set(outputs) <= existing():  # no contender passes on another's scores
            sql(f'UPDATE "leads" SET {", ".join(f"{_ident(c)} = NULL" for c in outputs)}')
        before(in_place)
        r = run_process(argv, None, env=env)
        first[name] = r.__dict__ | {"stdout": "", "stderr": ""}
        if table is None:
            with admin.cursor() as cur:
                cur.execute('SELECT count(*) FROM "scores_copy"')
                n = cur.fetchone()[0]
            assert n == rows, (name, n, rows)
            checks[name] = "row count"
            continue
        got = W.normalize(read_back(table), OUTPUTS)
        W.assert_agree(got, want, OUTPUTS, name, THRESHOLDS)
        checks[name] = "agrees"
    log("  " + ", ".join(f"{k}: {v}" for k, v in checks.items()))

    runs: dict[str, list] = {c[0]: [] for c in cs}
    for k in range(repeat):
        order = cs[k % len(cs):] + cs[:k % len(cs)]
        for name, _, argv, _, in_place in order:
            before(in_place)
            gc.collect()
            time.sleep(SETTLE_S)
            r = run_process(argv, None, env=env)
            runs[name].append(r.__dict__ | {"stdout": "", "stderr": ""})
        log(f"  PostgreSQL round {k + 1}/{repeat}: " + ", ".join(
            f"{c[0]} {runs[c[0]][-1]['wall_s']:.2f}s" for c in order))
    admin.close()
    return {"rows": rows, "repeat": repeat, "runs": runs, "first": first, "checks": checks,
            "how": {c[0]: c[1] for c in cs}, "summary": summarize(runs, rows),
            "skipped_contenders": skipped}


# ------------------------------------------------------------------ profile
PROFILE_RATE = 100


def profile_leadscore(s: Setup, path: Path, rows: int) -> dict:
    """Two ``leadscore score`` runs under py-spy, every Python thread: one with idle samples
    (where each thread's wall time goes, waits included) and one without (where it is on a
    CPU). A stack is put in a category by what it is doing, or which function it waits in.
    pyarrow's own C++ threads (Parquet decoding) are not Python threads: py-spy does not see
    them; their work shows as the wall time of the Python thread waiting on them."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {"skipped": "py-spy not installed (pip install py-spy)"}
    result = {"rows": rows, "rate": PROFILE_RATE}
    for mode, flags in (("wall", ["--idle"]), ("cpu", [])):
        raw = s.work / f"profile-{mode}.txt"
        out = s.work / "out-profile.parquet"
        warm_page_cache(path)
        argv = [spy, "record", "-r", str(PROFILE_RATE), "--threads", *flags, "-f", "raw",
                "-o", str(raw), "--"] + leadscore_exe() + [
                    "score", str(s.model_path), str(path), "-o", str(out), "--keep", KEY]
        try:
            r = run_process(argv, out, env=child_env())
        except RuntimeError as e:
            return {"skipped": f"py-spy failed: {str(e)[-400:]}"}
        finally:
            out.unlink(missing_ok=True)
        kept = s.work.parent / f"profile-{rows}-{mode}.txt"  # raw stacks, for a closer look
        shutil.copyfile(raw, kept)
        threads, imports = _parse_pyspy(raw.read_text().splitlines())
        result[mode] = {"wall_s": r.wall_s, "threads": threads, "imports": imports,
                        "ls_summary": _ls_summary(r), "raw": str(kept)}
    return result


def _parse_pyspy(lines: list[str]) -> tuple[dict, dict]:
    """py-spy ``--threads -f raw`` lines → ({thread: {category: samples}}, {import: samples})."""
    threads: dict[str, dict[str, int]] = {}
    imports: dict[str, int] = {}
    names = {}  # thread id → name (py-spy names a thread only once Python has)
    for line in lines:
        m = re.match(r"thread \((\w+)\): ([^;]+?)(?:;| \d+$)", line)
        if m:
            names[m.group(1)] = re.sub(r"^Thread-\d+ ", "", m.group(2))
    for line in lines:
        stack, _, n = line.rpartition(" ")
        if not stack:
            continue
        frames = stack.split(";")
        m = re.match(r"thread \((\w+)\)", frames[0])
        name = names.get(m.group(1), frames[0]) if m else frames[0]
        cats = threads.setdefault(name, {})
        cat = _category(frames[1:])
        cats[cat] = cats.get(cat, 0) + int(n)
        if cat == "startup: imports":
            key = _import_site(frames[1:])
            imports[key] = imports.get(key, 0) + int(n)
    order = sorted(threads, key=lambda t: (t != "MainThread", -sum(
        n for c, n in threads[t].items() if not c.startswith(("waiting", "no Python")))))
    return ({t: dict(sorted(threads[t].items(), key=lambda kv: -kv[1])) for t in order},
            dict(sorted(imports.items(), key=lambda kv: -kv[1])[:10]))


def _import_site(frames: list[str]) -> str:
    """'package ← the leadscore_fast line importing it' for a stack inside an import: the first
    module imported that is not leadscore_fast's own (numba, pandas, ...), else leadscore_fast."""
    def pkg_of(f: str) -> str:
        return f[len("<module> ("):].split("/")[0].split(".py")[0].split(":")[0]

    site = "(top level)"
    for f in frames:
        path = f[len("<module> ("):].rsplit(":", 1)[0] if f.startswith("<module> (") else ""
        if path and "<frozen" not in path and ("/" in path or path.endswith(".py")):
            pkg = pkg_of(f)
            if pkg != "leadscore_fast" and "leadscore_fast/" not in f:
                return f"{pkg} ← {site}"
        if "leadscore_fast/" in f or f.startswith("<module> (leadscore"):
            site = f
    return f"leadscore_fast (own modules) ← {site}"


# (category, substrings of a frame); a stack's category is its innermost matching frame,
# except imports, which claim the whole stack wherever they are, and waits (a leaf in
# threading / queue), named after the function that waits.
_CATEGORIES = [
    ("write: Parquet encode", ("ParquetWriter.", "_write_parquet (", "leadscore_fast/sinks")),
    ("summary stats", ("_Stats.",)),
    ("read: Parquet decode", ("iter_batches", "read_row_group", "_guarded (leadscore_fast/io",
                              "leadscore_fast/sources", "pyarrow/dataset")),
    ("score: kernel + binding", ("leadscore_fast/runner.py", "leadscore_fast/vm/",
                                 "leadscore_fast/scoring.py")),
    ("compile / JIT load", ("numba/", "llvmlite/", "leadscore_fast/compiler.py")),
    ("model load / CLI", ("leadscore_fast/model.py", "leadscore_fast/yaml_source.py",
                          "click/")),
]
_WAITS = ("(threading.py:", "(queue.py:")
# Leaf frames that wait inside C (a SimpleQueue.get, a future's result) with no Python frame
# below them: a VM worker idles in ``_Pool._work`` between blocks, and its samples there are
# the wait for work or for the GIL (its real work is the frames below: Kernel.run, ...).
_WAIT_LEAVES = ("_Pool._work (", "Pending.result (")


def _category(frames: list[str]) -> str:
    if not frames:
        return "no Python frame (start-up, shutdown)"
    if any("_find_and_load" in f for f in frames):
        return "startup: imports"
    if frames[-1].startswith(_WAIT_LEAVES):
        return f"waiting in {frames[-1].split(' (')[0]} (queue / GIL)"
    if any(w in frames[-1] for w in _WAITS):
        for f in reversed(frames):
            if not any(w in f for w in _WAITS):
                return f"waiting in {f.split(' (')[0]}"
        return "waiting"
    for f in reversed(frames):
        for cat, keys in _CATEGORIES:
            if any(k in f for k in keys):
                return cat
    return "other: " + frames[-1].split(" (")[0]


def profile_lines(prof: dict) -> list[str]:
    if prof.get("skipped"):
        return [f"Skipped: {prof['skipped']}", ""]
    rate = prof["rate"]
    wall, cpu = prof["wall"], prof["cpu"]
    lines = [f"py-spy at {rate} Hz, every Python thread, two runs on {prof['rows']:,} rows: "
             f"**wall** with idle samples ({wall['wall_s']:.2f} s under the profiler), "
             f"**CPU** without ({cpu['wall_s']:.2f} s)"
             + (f"; leadscore's own line: `{wall['ls_summary']['line']}`"
                if wall.get("ls_summary", {}).get("line") else "") + ". A thread's samples by "
             "the innermost frame that says what it is doing (imports claim the whole stack; "
             "a wait is named after the function waiting). pyarrow's C++ decode threads are "
             "not Python threads: their work shows as wall time of the thread waiting on them. "
             f"Raw stacks: `{wall['raw']}`, `{cpu['raw']}`.", "",
             "| thread | doing | wall s | CPU s | wall share |", "|---|---|---:|---:|---:|"]
    for t, cats in wall["threads"].items():
        cpu_cats = cpu["threads"].get(t, {})
        keys = list(cats) + [c for c in cpu_cats if c not in cats]
        for c in keys:
            w, u = cats.get(c, 0) / rate, cpu_cats.get(c, 0) / rate
            if max(w, u) < 0.02 * wall["wall_s"]:
                continue
            lines.append(f"| {t} | {c} | {w:.2f} | {u:.2f} | "
                         f"{100 * w / wall['wall_s']:.0f} % |")
    if wall.get("imports"):
        lines += ["", "Imports (wall), by the first package imported ← the leadscore_fast "
                  "line importing it:", ""]
        lines += [f"- {n / rate:.2f} s {k}" for k, n in wall["imports"].items()
                  if n / rate >= 0.02]
    return lines + [""]


# ------------------------------------------------------------------ targets
def targets(R: dict) -> list[tuple[str, str, str, bool | None]]:
    """(label, measured, goal, met) — ratios of medians (ratio of best runs in brackets)."""
    out = []
    main = R.get("main") or {}
    ms = main.get("summary", {})
    rows = main.get("rows", 0)

    def ratio(a, b, stat="median_s"):
        if a in ms and b in ms:
            return ms[a][stat] / ms[b][stat]
        return None

    def add(label, num, den, goal, op):
        r, rmin = ratio(num, den), ratio(num, den, "min_s")
        if r is None:
            out.append((label, "-", goal, None))
            return
        ok = r >= op[1] if op[0] == ">=" else r <= op[1] if op[0] == "<=" else r < op[1]
        out.append((label, f"{r:.2f} (min/min {rmin:.2f})", goal, ok))

    size = f"{rows / 1e6:g}M rows"
    add(f"Polars / leadscore ({size})", "Polars", LS, ">= 2", (">=", 2.0))
    add(f"DuckDB COPY / leadscore ({size}, hand-written SQL)", "DuckDB", LS, ">= 2.5",
        (">=", 2.5))
    add(f"DuckDB COPY (to_sql) / leadscore ({size})", "DuckDB (to_sql)", LS, ">= 2.5",
        (">=", 2.5))
    floor, other = ((PYARROW, PYARROW_RG) if R.get("baseline", "batches") == "batches"
                    else (PYARROW_RG, PYARROW))
    add(f"leadscore / {floor} ({size})", LS, floor, "<= 1.25", ("<=", 1.25))
    r = ratio(LS, other)
    if r is not None:
        out.append((f"leadscore / {other} ({size})", f"{r:.2f}", "(info)", None))
    sc = scaling_points(R, LS)
    if len(sc) >= 2:
        ns = [p["ns_row"] for p in sc]
        growth = ns[-1] / min(ns)
        out.append((f"leadscore per-row time, {sc[-1]['rows'] / 1e6:g}M rows / fastest size "
                    f"({', '.join(_pt(p) for p in sc)})",
                    f"{growth:.2f}", "<= 1.15 (flat)", growth <= 1.15))
        rss = [p["rss_mb"] for p in sc]
        out.append((f"leadscore peak RSS, largest / smallest over {len(sc)} sizes",
                    f"{max(rss) / min(rss):.2f} ({min(rss):.0f}-{max(rss):.0f} MB)",
                    "<= 1.5 (flat)", max(rss) / min(rss) <= 1.5))
        out.append((f"leadscore peak RSS at {sc[-1]['rows'] / 1e6:g}M rows (MB)",
                    f"{rss[-1]:.0f}", "< 1024", rss[-1] < 1024))
    pg = R.get("postgres") or {}
    ps = pg.get("summary", {})

    def pg_add(label, num, den, goal, op):
        if num in ps and den in ps:
            r = ps[num]["median_s"] / ps[den]["median_s"]
            ok = r <= op[1] if op[0] == "<=" else r < op[1]
            out.append((label, f"{r:.2f}", goal, ok))
        else:
            why = pg.get("skipped") or "; ".join(pg.get("skipped_contenders", {}).values()) \
                or "not run (--postgres)"
            out.append((label, f"skipped: {why}", goal, None))
    n = pg.get("rows", 1_000_000)
    pg_add(f"rescore --into / ADBC copy out + in (PostgreSQL, {n / 1e6:g}M leads)",
           "leadscore rescore --into", "ADBC copy out + in", "<= 1.5", ("<=", 1.5))
    pg_add(f"rescore in place / PostgreSQL UPDATE (to_sql) ({n / 1e6:g}M leads)",
           "leadscore rescore (in place)", "PostgreSQL UPDATE (to_sql)", "< 1", ("<", 1.0))
    return out


def _pt(p: dict) -> str:
    return f"{p['rows'] / 1e6:g}M {p['ns_row']:.0f} ns"


def scaling_points(R: dict, name: str) -> list[dict]:
    pts = []
    for rows, m in sorted(R.get("scaling", {}).items(), key=lambda kv: int(kv[0])):
        if name in m["summary"]:
            pts.append(dict(m["summary"][name], rows=int(rows)))
    return pts


# ------------------------------------------------------------------ writing the report
def _mrows(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.2f}"


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def size_table(m: dict, how: dict, ref_name: str = LS) -> list[str]:
    ms = m["summary"]
    ref = ms.get(ref_name, {}).get("median_s")
    lines = ["| implementation | how | median s | min s | Mrows/s | peak RSS MB | "
             f"(anon / file MB) | CPU % | output MB | ratio to {ref_name} |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, x in sorted(ms.items(), key=lambda kv: kv[1]["median_s"]):
        ratio = fmt_ratio(x["median_s"] / ref) if ref else "-"
        lines.append(f"| {name} | {how.get(name, '')} | {x['median_s']:.3f} | {x['min_s']:.3f} "
                     f"| {_mrows(x['mrows_s'])} | {x['rss_mb']:.0f} | {x['anon_mb']:.0f} / "
                     f"{x['file_mb']:.0f} | {x['cpu_pct']:.0f} | {x['out_mb']:.0f} | {ratio} |")
    return lines + [""]


def env_lines(R: dict) -> list[str]:
    v = R["versions"]
    return [f"- date: {R['date']}; total benchmark time {R['elapsed_s']:.0f} s",
            f"- machine: {R['machine']}",
            f"- load average (1, 5, 15 min) before: {R['load_before']}; after: "
            f"{R['load_after']}" + (f"; per round: {' | '.join(R['main']['loads'])}"
                                    if R.get("main") else ""),
            "- " + ", ".join(f"{k} {x}" for k, x in v.items())] + \
        ([f"- note: {R['note']}"] if R.get("note") else [])


def env_lines_short(R: dict) -> list[str]:
    return [f"- machine: {R['machine']}; load average before: {R['load_before']}",
            "- " + ", ".join(f"{k} {x}" for k, x in R["versions"].items())]


def write_outputs(R: dict, out_dir: Path, cs: list[Contender], plot: bool) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    how = {c.name: c.how for c in cs}
    main = R.get("main")
    md = ["# End-to-end bulk rescoring: Parquet → Parquet (and PostgreSQL), whole processes",
          "",
          f"Issue 10's \"Speed\" targets. The reference model (16 rules) on synthetic leads; "
          "each contender is one fresh process, timed wall-clock from spawn to exit, with the "
          "peak RSS of that process (`ru_maxrss`, taken by a small launcher process whose own "
          "~11 MB is the floor; anon / file = peak RssAnon / RssFile from /proc: heap against "
          "mapped files, i.e. shared libraries and memory-mapped input). CPU % = (user + "
          f"sys) / wall, of {100 * (os.cpu_count() or 1)} % on {os.cpu_count()} cores. Runs "
          f"are interleaved, order rotated per round, {SETTLE_S} s settle before each; medians "
          f"of {R['repeat']} rounds. "
          "**Warm page cache**: the page cache cannot be dropped here, so the input file is "
          "read once before every round and every contender reads it from memory; outputs "
          "are written to the page cache (no fsync) and deleted after each run. Before timing, "
          "every contender ran once and its output was checked against leadscore's (scores "
          "and tiers; the no-scoring baselines for names and types).", "",
          *env_lines(R), "", "## Targets", "",
          "| target | measured: ratio of medians | goal | met |", "|---|---:|---|:-:|"]
    for label, value, goal, ok in R["targets"]:
        md.append(f"| {label} | {value} | {goal} | "
                  f"{'-' if ok is None else 'yes' if ok else '**no**'} |")
    md.append("")
    if main:
        md += [f"## Parquet → Parquet, {main['rows']:,} rows", "",
               f"Input: {main['file_mb']:.0f} MB, {main['rows'] // BLOCK or 1} row groups, "
               f"16 columns (the model reads 12). Checks: "
               + ", ".join(f"{k} {v}" for k, v in main["checks"].items()) + ".", "",
               *size_table(main, how)]
        if main.get("ls_summary", {}).get("line"):
            x = main["ls_summary"]
            extra = (f" — of {x['wall_s']:.2f} s wall for the process: the rest is start-up "
                     "(interpreter, imports, model load)" if "inside_s" in x else "")
            md += [f"leadscore's own summary line (last run): `{x['line']}`{extra}", ""]
        md += ["Exactly what runs:", ""]
        md += [f"- **{c.name}**: `{c.command}`" for c in cs if c.name in main["summary"]]
        md += ["- Polars' expressions are `peers.score_polars`' own (captured, not copied), "
               "DuckDB's hand-written SQL is `peers.DUCKDB_SQL`; both were checked against "
               "leadscore on this file. The no-scoring baselines write the file leadscore wrote "
               "minus the scoring: its columns, codec, dictionary columns and row-group size, "
               "with values from a ~1M-row sample of its output (read once per process, sliced "
               "per batch), so compression and encoding cost the same.", ""]
    if R.get("scaling"):
        md += ["## Rows scaling", "",
               "| rows | implementation | median s | ns/row | Mrows/s | peak RSS MB | "
               "(anon / file MB) | ratio to leadscore |",
               "|---:|---|---:|---:|---:|---:|---:|---:|"]
        for rows, m in sorted(R["scaling"].items(), key=lambda kv: int(kv[0])):
            ref = m["summary"].get(LS, {}).get("median_s")
            for name, x in sorted(m["summary"].items(), key=lambda kv: kv[1]["median_s"]):
                ratio = fmt_ratio(x["median_s"] / ref) if ref else "-"
                md.append(f"| {int(rows):,} | {name} | {x['median_s']:.3f} | {x['ns_row']:.0f}"
                          f" | {_mrows(x['mrows_s'])} | {x['rss_mb']:.0f} | {x['anon_mb']:.0f} / "
                          f"{x['file_mb']:.0f} | {ratio} |")
        fit = R.get("scaling_fit", {})
        if fit:
            md += ["", "Least-squares fit of median time against rows (fixed cost + per-row "
                   "cost): " + "; ".join(f"{k}: {v['fixed_s']:.2f} s + {v['ns_row']:.0f} ns/row"
                                         for k, v in fit.items()) + "."]
        md.append("")
    pg = R.get("postgres")
    md += ["## PostgreSQL", ""]
    if not pg:
        md += ["Not run (pass `--postgres`).", ""]
    elif pg.get("skipped"):
        md += [f"Skipped: {pg['skipped']}", ""]
    else:
        md += [f"{pg['rows']:,}-lead table (PRIMARY KEY lead_id) on a throwaway local server "
               "(tests/postgres_server.py: fsync off). Every run starts from "
               "`VACUUM FULL ANALYZE leads` (untimed). Peak RSS and CPU are the client "
               "process's; the server's work shows only in the wall time. Checks: "
               + ", ".join(f"{k} {v}" for k, v in pg["checks"].items()) + ".", "",
               *size_table(pg, pg["how"], "leadscore rescore (in place)")]
        for k, v in pg.get("skipped_contenders", {}).items():
            md.append(f"- {k}: skipped: {v}")
        md.append("")
    prof = R.get("profile")
    if prof:
        md += ["## Where `leadscore score`'s time goes", "", *profile_lines(prof)]
    md += ["## Reproduce", "", "```bash",
           "make bench-e2e   # = python benchmarks/e2e.py --rows 10000000 --repeat 3 "
           "--scaling 1e6,1e7,3e7", "python benchmarks/e2e.py --huge --postgres --profile  "
           "# + 100M rows, PostgreSQL, a py-spy profile", "```", "",
           f"Command line of this run: `{R['argv']}`", ""]
    written = [out_dir / "e2e.md", out_dir / "e2e.json"]
    written[0].write_text("\n".join(md))
    written[1].write_text(json.dumps(R, indent=1, default=str))
    if plot:
        png = plot_scaling(R, out_dir / "e2e.png")
        if png:
            written.append(png)
    return written


def plot_scaling(R: dict, path: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no e2e.png (pip install matplotlib)")
        return None
    sizes = R.get("scaling") or ({str(R["main"]["rows"]): R["main"]} if R.get("main") else {})
    if not sizes:
        return None
    names = list(next(iter(sizes.values()))["summary"])
    from matplotlib.ticker import FuncFormatter

    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(15, 4.4))
    for name in names:
        pts = sorted((int(r), m["summary"][name]) for r, m in sizes.items()
                     if name in m["summary"])
        xs = [p[0] for p in pts]
        style = dict(marker="o", lw=2.5 if name == LS else 1.2, zorder=3 if name == LS else 2)
        a1.plot(xs, [p[1]["median_s"] for p in pts], label=name, **style)
        a2.plot(xs, [p[1]["ns_row"] for p in pts], label=name, **style)
        a3.plot(xs, [p[1]["rss_mb"] for p in pts], label=name, **style)
    rows_fmt = FuncFormatter(lambda x, _: f"{x / 1e6:g}M" if x >= 1e6 else f"{x / 1e3:g}k")
    for a in (a1, a2, a3):
        a.set_xscale("log")
        a.xaxis.set_major_formatter(rows_fmt)
        a.xaxis.set_minor_formatter(FuncFormatter(lambda *_: ""))
        a.set_xticks(sorted(int(r) for r in sizes))
        a.set_xlabel("rows")
        a.grid(True, which="both", alpha=0.3)
    a1.set_yscale("log")
    a1.set_ylabel("s")
    a1.set_title("wall time, whole process")
    a2.set_yscale("log")
    a2.set_ylabel("ns per row")
    a2.set_title("time per row (start-up included)")
    a3.axhline(1024, color="grey", ls="--", lw=1)
    a3.text(min(int(r) for r in sizes), 1024, " 1 GB", va="bottom", color="grey")
    a3.set_ylabel("MB")
    a3.set_title("peak RSS of the process")
    a1.legend(fontsize=8)
    fig.suptitle("Parquet → Parquet, reference model, fresh process per run "
                 f"(medians of {R['repeat']}, {os.cpu_count()} cores)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def scaling_fit(R: dict) -> dict:
    """time = fixed + per_row * rows, least squares over the scaling sizes, per contender."""
    import numpy as np

    out = {}
    names = {n for m in R.get("scaling", {}).values() for n in m["summary"]}
    for name in sorted(names):
        pts = scaling_points(R, name)
        if len(pts) < 2:
            continue
        x = np.array([p["rows"] for p in pts], float)
        y = np.array([p["median_s"] for p in pts])
        slope, icpt = np.polyfit(x, y, 1)
        out[name] = {"fixed_s": float(icpt), "ns_row": float(slope * 1e9)}
    return out


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    global SETTLE_S
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=lambda s: int(float(s.replace("_", ""))),
                    default=10_000_000, help="rows of the main measurement (default 10M)")
    ap.add_argument("--repeat", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--scaling", type=_rows_arg, default=_rows_arg("1e6,1e7,3e7"),
                    help="row counts for the scaling table, e.g. 1e6,1e7,3e7 (default); "
                    "'none' to skip")
    ap.add_argument("--huge", action="store_true", help="add 100M rows to --scaling")
    ap.add_argument("--scaling-contenders", default="all",
                    help="comma list of contender names for the scaling sizes (default all)")
    ap.add_argument("--contenders", default="all",
                    help="comma list of contender names to run (default all; leadscore always)")
    ap.add_argument("--baseline", choices=["batches", "rowgroups"], default="batches",
                    help="which no-scoring pyarrow floor the 1.25x target uses: iter_batches "
                    "(default) or read_row_group; both are measured")
    ap.add_argument("--postgres", action="store_true",
                    help="also the PostgreSQL part (1M-lead table; see the module docstring)")
    ap.add_argument("--pg-rows", type=lambda s: int(float(s)), default=1_000_000)
    ap.add_argument("--pg-without-leadscore", action="store_true",
                    help="run the PostgreSQL peers even while `leadscore rescore` is missing "
                    "(to try the harness)")
    ap.add_argument("--profile", action="store_true",
                    help="py-spy one `leadscore score` run on --rows: read / score / write")
    ap.add_argument("--profile-only", action="store_true",
                    help="only the py-spy profile on --rows (prints it; writes e2e_profile.md)")
    ap.add_argument("--check-max-rows", type=lambda s: int(float(s)), default=10_000_000,
                    help="compare scores only up to this many rows (above: rows and schema)")
    ap.add_argument("--data-dir", type=Path, default=HERE / ".data",
                    help="where input files are cached (default benchmarks/.data)")
    ap.add_argument("--out-dir", type=Path, default=HERE / "results")
    ap.add_argument("--keep-outputs", type=Path, default=None,
                    help="keep the check round's outputs here (the tests compare them)")
    ap.add_argument("--settle", type=float, default=SETTLE_S,
                    help=f"seconds of pause before each timed run (default {SETTLE_S})")
    ap.add_argument("--no-plot", action="store_true")
    ap.add_argument("--note", default="", help="a line on the machine's state for the report")
    args = ap.parse_args(argv)

    SETTLE_S = args.settle
    import leadscore_fast  # noqa: F401  (fail early, before generating data)
    import peers

    reason = peers.vm_unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    started = time.perf_counter()
    scaling = sorted(set(args.scaling + ([100_000_000] if args.huge else [])))
    R = {"date": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
         "argv": " ".join(["python benchmarks/e2e.py"] + (argv if argv is not None
                                                          else sys.argv[1:])),
         "machine": f"{platform.platform()}, {platform.processor() or platform.machine()}, "
                    f"{os.cpu_count()} cores, "
                    f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
         "versions": {"python": platform.python_version(),
                      **{d: version(d) for d in ("leadscore_fast", "pyarrow", "polars",
                                                  "duckdb", "numba",
                                                  "adbc-driver-postgresql")}},
         "load_before": load_average(), "repeat": args.repeat, "note": args.note, "scaling": {},
         "baseline": args.baseline}
    args.data_dir.mkdir(parents=True, exist_ok=True)
    main_path = ensure_input(args.rows, args.data_dir)
    work = Path(tempfile.mkdtemp(prefix="e2e-", dir=args.data_dir))
    try:
        s = prepare(work, main_path)
        all_cs = contenders(s)

        def pick(spec: str) -> list[Contender]:
            if spec == "all":
                return all_cs
            want = {x.strip() for x in spec.split(",")} | {LS}
            unknown = want - {c.name for c in all_cs}
            if unknown:
                raise SystemExit(f"unknown contenders {sorted(unknown)}; have "
                                 f"{[c.name for c in all_cs]}")
            return [c for c in all_cs if c.name in want]

        cs = pick(args.contenders)
        if args.profile_only:
            prof = profile_leadscore(s, main_path, args.rows)
            text = "\n".join([f"# Where `leadscore score`'s time goes ({R['date']})", "",
                              *env_lines_short(R), "", *profile_lines(prof)])
            args.out_dir.mkdir(parents=True, exist_ok=True)
            (args.out_dir / "e2e_profile.md").write_text(text)
            print(text)
            return 0
        R["main"] = measure(s, cs, main_path, args.rows, args.repeat,
                            check_max=args.check_max_rows, keep_outputs=args.keep_outputs)
        if args.rows in scaling:
            R["scaling"][str(args.rows)] = R["main"]
        scs = [c for c in pick(args.scaling_contenders) if c in cs]
        for n in scaling:
            if n == args.rows:
                continue
            path = ensure_input(n, args.data_dir)
            R["scaling"][str(n)] = measure(s, scs, path, n, args.repeat,
                                           check_max=args.check_max_rows)
        if R["scaling"]:
            R["scaling_fit"] = scaling_fit(R)
        if args.postgres:
            R["postgres"] = postgres_part(s, args.pg_rows, args.repeat,
                                          allow_partial=args.pg_without_leadscore)
            if R["postgres"].get("skipped"):
                log(f"PostgreSQL part skipped: {R['postgres']['skipped']}")
        if args.profile:
            log("profiling one leadscore score run with py-spy")
            R["profile"] = profile_leadscore(s, main_path, args.rows)
        R["load_after"] = load_average()
        R["elapsed_s"] = time.perf_counter() - started
        R["targets"] = targets(R)
        for path in write_outputs(R, args.out_dir, all_cs, plot=not args.no_plot):
            log(f"wrote {path}")
        for label, value, goal, ok in R["targets"]:
            verdict = "" if ok is None else " met" if ok else " NOT met"
            print(f"{label}: {value} (goal {goal}){verdict}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
