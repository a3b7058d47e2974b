"""The full comparison: ``make bench`` / ``python benchmarks/report.py [--rows N] [--runs R]``.

For every workload (benchmarks/workloads.py) it first checks that every peer computes the same
scores and tiers as leadscore, then times them in interleaved rounds in this one process (so
drifting machine load hits everyone alike) and reports medians and ratios to leadscore.
Also: rows scaling (100k .. N in-process, 10·N by streaming), rules scaling (1 .. 1,000), threads
(1 .. all cores), nulls (0 / 5 / 50 %), cold start (fresh process, empty numba cache) and a
profile of where leadscore's time goes. Writes into benchmarks/results/:

    report.md            every table
    README_section.md    the ready-to-paste README "Performance" section
    rows.png rules.png speedup.png threads.png
    results.json         the raw timings (git-ignored)
"""
from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python"))  # a source checkout works without installing

import numpy as np  # noqa: E402

import peers  # noqa: E402
from runinfo import load_average, log, version  # noqa: E402
import workloads as W  # noqa: E402

from leadscore_fast.synthetic import generate_leads  # noqa: E402

SEED = 20261101
LS = "leadscore"
LS_INTERP = "leadscore, interpreter"
PY_SAMPLE = 20_000


# ------------------------------------------------------------------ timing
class Peer:
    """A contender: ``fn()`` scores the whole table; ``scale`` > 1 marks a sample timing that is
    extrapolated (plain Python); ``note`` goes into the table."""

    def __init__(self, fn, note="", scale=1.0, check=None, outputs=True):
        self.fn, self.note, self.scale, self.check, self.outputs = fn, note, scale, check, outputs


def check_all(peers_: dict, spec: W.Spec, rows: int) -> None:
    """Every peer against leadscore (the sample peer against leadscore's first rows)."""
    outs = spec.outputs
    th = (spec.hot, spec.warm)
    want = W.normalize(peers_[LS].fn(), outs)
    for name, p in peers_.items():
        if name == LS:
            continue
        if not p.outputs:
            p.fn()  # warm (JIT) only
            continue
        got = W.normalize((p.check or p.fn)(), outs)
        n = len(got["total"])
        W.assert_agree(got, {k: v[:n] for k, v in want.items()}, outs, name, th)
    log(f"  {spec.name}: {len(peers_) - 1} peers agree with leadscore on {rows:,} rows")


# Pause before each timed run: Polars' and DuckDB's worker threads keep spinning for a while
# after a query returns, and measured 30-40 % off whichever peer ran right after them.
SETTLE_S = 0.3


def interleaved(peers_: dict, runs: int) -> dict:
    times = {name: [] for name in peers_}
    names = list(peers_)
    for r in range(runs):
        k = r % len(names)  # rotate the order: no peer always runs right after the same one
        for name in names[k:] + names[:k]:
            p = peers_[name]
            gc.collect()
            time.sleep(SETTLE_S)
            t = time.perf_counter()
            p.fn()
            times[name].append((time.perf_counter() - t) * p.scale)
    return times


def median(ts) -> float:
    return statistics.median(ts)


# ------------------------------------------------------------------ contenders
def reference_peers(table, rows, *, full: bool) -> dict:
    import duckdb

    model = peers.load_model()
    spec = W.reference_spec()
    out = {LS: Peer(lambda: peers.score_vm(model, table, keep=["lead_id"]))}
    out[LS_INTERP] = Peer(lambda: peers.score_interpreted(model, table, keep=["lead_id"]),
                          "bytecode interpreter only (executor=\"interpreter\")")
    out["numba hand-fused"] = Peer(lambda: peers.score_numba(table), "hand-written")
    if peers.cython_unavailable() is None:
        out["Cython hand-written"] = Peer(lambda: peers.score_cython(table),
                                          "hand-written, OpenMP")
    else:
        log(f"  skipping Cython: {peers.cython_unavailable()}")
    arrays = peers.numpy_arrays(table)
    if full:
        out["numexpr"] = Peer(lambda: peers.score_numexpr(arrays), "hand-written")
        out["NumPy"] = Peer(lambda: peers.score_numpy(arrays), "generic translator")
    pl_df = peers.polars_frame(table)
    out["Polars"] = Peer(lambda: peers.score_polars(pl_df), "hand-written")
    con = duckdb.connect()
    out["DuckDB"] = Peer(lambda: peers.score_duckdb(table, con), "hand-written SQL")
    sql = W.duckdb_sql(model, table.schema)
    out["DuckDB (to_sql)"] = Peer(lambda: W.score_duckdb(con, table, sql), "leadscore's SQL")
    if full:
        pd_df = peers.pandas_frame(table)
        out["pandas"] = Peer(lambda: peers.score_pandas(pd_df), "hand-written")
        sample = table.slice(0, min(PY_SAMPLE, rows))
        out["plain Python"] = Peer(lambda: peers.score_python(sample),
                                   f"{sample.num_rows:,}-row sample, extrapolated",
                                   scale=rows / max(1, sample.num_rows))
    out["memory read"] = Peer(lambda: peers.memory_read(table, peers.REFERENCE_COLUMNS),
                              "sum of every buffer read", outputs=False)
    del spec
    return out


def generic_peers(spec: W.Spec, table, rows, *, numpy_ok: bool, python_ok: bool) -> dict:
    import duckdb

    model = spec.model()
    cols = spec.columns()
    out = {LS: Peer(lambda: peers.score_vm(model, table, keep=["lead_id"]))}
    pl_df = W.polars_frame(table, cols)
    out["Polars"] = Peer(lambda: W.score_polars(spec, pl_df), "generic translator")
    con = duckdb.connect()
    sql = W.duckdb_sql(model, table.schema)
    out["DuckDB (to_sql)"] = Peer(lambda: W.score_duckdb(con, table, sql), "leadscore's SQL")
    if numpy_ok:
        arrays = W.numpy_prepare(table, cols)
        out["NumPy"] = Peer(lambda: W.score_numpy(spec, arrays),
                            "generic translator (strings: pyarrow.compute)")
    if python_ok:
        sample = table.slice(0, min(PY_SAMPLE // 10, rows))
        out["plain Python"] = Peer(lambda: W.score_python(spec, sample),
                                   f"{sample.num_rows:,}-row sample, extrapolated",
                                   scale=rows / max(1, sample.num_rows))
    out["memory read"] = Peer(lambda: peers.memory_read(table, cols), "sum of every buffer read",
                              outputs=False)
    return out


def run_workload(name, spec, table, peers_, runs) -> dict:
    check_all(peers_, spec, table.num_rows)
    times = interleaved(peers_, runs)
    med = {k: median(v) for k, v in times.items()}
    log(f"  {name}: " + ", ".join(f"{k} {v:.3f}s" for k, v in med.items()))
    return {"workload": name, "spec": spec.name, "rules": spec.n_rules, "rows": table.num_rows,
            "runs": runs, "times": times, "median": med,
            "notes": {k: p.note for k, p in peers_.items()}}


# ------------------------------------------------------------------ extra measurements
def stream_score(model, table, repeat: int) -> float:
    """Score ``repeat`` passes over ``table`` as one RecordBatchReader (stream=True, results
    consumed batch by batch and dropped): rows = repeat * table rows, memory stays flat."""
    import pyarrow as pa

    import leadscore_fast as lf

    batches = table.to_batches()
    reader = pa.RecordBatchReader.from_batches(
        table.schema, (b for _ in range(repeat) for b in batches))
    t = time.perf_counter()
    rows = 0
    for out in lf.score(model, reader, stream=True):
        rows += out.num_rows
    assert rows == repeat * table.num_rows
    return time.perf_counter() - t


def profile_leadscore(model, table) -> dict:
    """Where score() spends its time on the reference model: column binding, lookup tables,
    the kernel, and the rest (output arrays, Table assembly)."""
    import importlib

    import leadscore_fast as lf
    from leadscore_fast.vm import executor, pool

    # score() is built on runner.py (or, before it, did the binding itself in scoring.py)
    try:
        mod = importlib.import_module("leadscore_fast.runner")
    except ImportError:
        mod = importlib.import_module("leadscore_fast.scoring")
    acc = {"bind columns": 0.0, "lookup tables": 0.0, "kernel": 0.0}

    def timed(key, fn):
        def wrapper(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                acc[key] += time.perf_counter() - t
        return wrapper

    # the kernel: starting it, and waiting for its result (batches run ahead overlap the
    # caller's binding of the next batch, so this is the caller's wait, not the threads' work)
    patches = [(mod, "bind_array", "bind columns"), (executor, "start", "kernel"),
               (pool.Pending, "result", "kernel"),
               (getattr(mod, "Prepared", None), "table", "lookup tables")]
    saved = []
    for obj, attr, key in patches:
        if obj is not None and hasattr(obj, attr):
            saved.append((obj, attr, getattr(obj, attr)))
            setattr(obj, attr, timed(key, getattr(obj, attr)))
    try:
        lf.score(model, table)  # warm
        for k in acc:
            acc[k] = 0.0
        reps = 3
        t = time.perf_counter()
        for _ in range(reps):
            lf.score(model, table)
        total = (time.perf_counter() - t) / reps
    finally:
        for obj, attr, fn in saved:
            setattr(obj, attr, fn)
    out = {k: v / reps for k, v in acc.items()}
    out["outputs + rest"] = total - sum(out.values())
    out["total"] = total
    return out


def threads_scaling(model, table, runs) -> dict:
    import duckdb
    import numba

    cores = os.cpu_count() or 1
    counts = sorted({1, *[c for c in (2, 4, 8, 16) if c < cores], cores})
    con = duckdb.connect()
    res = {}
    for th in counts:
        def numba_fn():
            numba.set_num_threads(th)
            try:
                return peers.score_numba(table)
            finally:
                numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

        def duck_fn():
            con.execute(f"SET threads = {th}")
            return peers.score_duckdb(table, con)

        ps = {LS: Peer(lambda: peers.score_vm(model, table, threads=th)),
              "numba hand-fused": Peer(numba_fn), "DuckDB": Peer(duck_fn)}
        times = interleaved(ps, runs)
        res[th] = {k: median(v) for k, v in times.items()}
        log(f"  threads {th}: " + ", ".join(f"{k} {v:.3f}s" for k, v in res[th].items()))
    con.execute(f"SET threads = {cores}")
    return res


COLD_CHILD = peers.COLD_START  # the same child script the cold-start benchmark runs


def _child(code_or_args, cache_dir) -> tuple[float, str]:
    import leadscore_fast

    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    root = os.path.dirname(os.path.dirname(os.path.abspath(leadscore_fast.__file__)))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [root, env.get("PYTHONPATH")]))
    args = [sys.executable, *code_or_args] if isinstance(code_or_args, list) else \
        [sys.executable, "-c", code_or_args]
    t = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return wall, proc.stdout.strip().splitlines()[-1]


def cold_start(cold_runs: int = 3, warm_runs: int = 3) -> dict:
    """Fresh interpreters with a temporary NUMBA_CACHE_DIR: empty (compiles the kernel; the
    median of ``cold_runs``, each with a new empty cache), then warm (loads it); and
    `python -m leadscore_fast.warmup` filling an empty cache."""
    res = {}
    cold = []
    for _ in range(cold_runs - 1):
        with tempfile.TemporaryDirectory(prefix="ls-numba-") as d:
            wall, line = _child(COLD_CHILD, d)
            cold.append(dict(json.loads(line), wall_s=wall))
    with tempfile.TemporaryDirectory(prefix="ls-numba-") as d:
        wall, line = _child(COLD_CHILD, d)
        cold.append(dict(json.loads(line), wall_s=wall))
        res["empty cache"] = {k: median(c[k] for c in cold) for k in cold[0]}
        res["empty cache"]["runs_total_s"] = [c["total_s"] for c in cold]
        log(f"  cold start, empty cache: {res['empty cache']}")
        warm = [dict(json.loads(_child(COLD_CHILD, d)[1])) for _ in range(warm_runs)]
        res["warm cache"] = {k: median(w[k] for w in warm) for k in warm[0]}
        log(f"  cold start, warm cache: {res['warm cache']}")
    with tempfile.TemporaryDirectory(prefix="ls-numba-") as d:
        wall, line = _child(["-m", "leadscore_fast.warmup"], d)
        res["warmup command"] = {"wall_s": wall, "message": line}
        after = json.loads(_child(COLD_CHILD, d)[1])
        res["after warmup"] = after
        log(f"  warmup {wall:.1f}s, then first score {after}")
    return res


# ------------------------------------------------------------------ main
def main(argv=None) -> int:
    # a hot model's fused kernel compiles in the call that makes it hot (the agreement check
    # before the timed runs), not on a background thread beside them
    os.environ.setdefault("LEADSCORE_FUSE_BACKGROUND", "0")
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=10_000_000, help="rows for the main tables")
    ap.add_argument("--runs", type=int, default=5, help="interleaved rounds (reference model)")
    ap.add_argument("--runs-heavy", type=int, default=3,
                    help="interleaved rounds for the 200/1,000-rule, string and null workloads")
    ap.add_argument("--stream-repeat", type=int, default=10,
                    help="the streaming row point is this many passes over --rows")
    ap.add_argument("--heavy-rows", type=int, default=1_000_000,
                    help="rows for the string-heavy model and the rules curve (incl. the 200- "
                         "and 1,000-rule workloads): their peers take minutes per run at 10M "
                         "on 2 cores; per-row cost is flat (see the rows table)")
    ap.add_argument("--numpy-max-rules", type=int, default=200,
                    help="skip the generic NumPy peer above this many rules (it makes ~5 "
                         "full-length temporaries per rule)")
    ap.add_argument("--skip", nargs="*", default=[],
                    choices=["cold", "stream", "threads", "rules", "nulls", "rows", "heavy",
                             "profile"])
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--note", default="", help="a line on the machine's state for the report")
    ap.add_argument("--from-json", type=Path, default=None,
                    help="re-render report.md, README_section.md and the plots from a "
                         "results.json (no measuring)")
    args = ap.parse_args(argv)
    if args.from_json:
        R = _intkeys(json.loads(args.from_json.read_text()))
        args.out.mkdir(parents=True, exist_ok=True)
        args.note = args.note or R.get("note", "")
        write_outputs(R, args)
        return 0

    reason = peers.vm_unavailable()
    if reason:
        print(reason, file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    R = {"rows": args.rows, "runs": args.runs, "runs_heavy": args.runs_heavy,
         "load_before": load_average(), "date": f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
         "workloads": {}, "rows_scaling": {}, "rules_scaling": {}, "nulls": {}}
    model = peers.load_model()
    N = args.rows

    if "cold" not in args.skip:  # first, while nothing else of ours is running
        log("cold start")
        R["cold"] = cold_start()

    # -- the reference model at N rows, every peer
    log(f"reference model, {N:,} rows")
    table = generate_leads(N, seed=SEED)
    R["workloads"]["reference"] = run_workload("reference", W.reference_spec(), table,
                                               reference_peers(table, N, full=True), args.runs)
    if "profile" not in args.skip:
        R["profile"] = profile_leadscore(model, table)
        log(f"  profile: {R['profile']}")
    if "threads" not in args.skip:
        log("threads")
        R["threads"] = threads_scaling(model, table, args.runs_heavy)
    if "stream" not in args.skip and args.stream_repeat > 1:
        log(f"streaming {args.stream_repeat} x {N:,} rows")
        ts = [stream_score(model, table, args.stream_repeat) for _ in range(2)]
        R["stream"] = {"rows": N * args.stream_repeat, "times": ts, "median": median(ts)}
        log(f"  stream: {ts}")

    # -- decay at N rows (reuses the table); string-heavy at --heavy-rows
    if "heavy" not in args.skip:
        spec = W.decay_spec()
        log("decay model")
        R["workloads"]["decay"] = run_workload(
            "decay", spec, table, generic_peers(spec, table, N, numpy_ok=True, python_ok=True),
            args.runs_heavy)
    del table
    gc.collect()
    if "heavy" not in args.skip:
        n = min(args.heavy_rows, N)
        log(f"string-heavy model, {n:,} rows")
        spec = W.string_heavy_spec()
        table = generate_leads(n, seed=SEED, high_cardinality=True)
        R["workloads"]["string-heavy"] = run_workload(
            "string-heavy", spec, table,
            generic_peers(spec, table, n, numpy_ok=True, python_ok=True), args.runs_heavy)
        del table
        gc.collect()

    # -- nulls
    if "nulls" not in args.skip:
        for rate in (0.0, 0.5):  # 5 % is the reference run above
            log(f"nulls {rate:.0%}")
            t = generate_leads(N, seed=SEED, null_rate=rate)
            ps = reference_peers(t, N, full=False)
            ps.pop("DuckDB (to_sql)", None)
            R["nulls"][rate] = run_workload(f"nulls {rate:.0%}", W.reference_spec(), t, ps,
                                            args.runs_heavy)
            del t, ps
            gc.collect()

    # -- rows scaling (reference): smaller sizes in-process, N from above, stream beyond
    if "rows" not in args.skip:
        for n in (100_000, 1_000_000):
            if n >= N:
                continue
            log(f"rows {n:,}")
            t = generate_leads(n, seed=SEED)
            ps = reference_peers(t, n, full=False)
            ps.pop("DuckDB (to_sql)", None)
            R["rows_scaling"][n] = run_workload(f"rows {n:,}", W.reference_spec(), t, ps,
                                                args.runs)["median"]
            del t, ps
            gc.collect()
    R["rows_scaling"][N] = R["workloads"]["reference"]["median"]

    # -- rules scaling at --heavy-rows; its 200- and 1,000-rule points are the workloads
    if "rules" not in args.skip:
        n = min(args.heavy_rows, N)
        t = generate_leads(n, seed=SEED)
        for n_rules in (1, 10, 100, 200, 1000):
            spec = W.generated_spec(n_rules)
            log(f"rules {n_rules} at {n:,} rows")
            ps = generic_peers(spec, t, n, numpy_ok=n_rules <= args.numpy_max_rules,
                               python_ok=n_rules in (200, 1000))
            if n_rules not in (200, 1000):
                ps.pop("memory read")
            w = run_workload(f"rules-{n_rules}", spec, t, ps, args.runs_heavy)
            R["rules_scaling"][n_rules] = {k: v for k, v in w["median"].items()
                                           if k not in ("memory read", "plain Python")}
            if n_rules in (200, 1000):
                R["workloads"][f"rules-{n_rules}"] = w
        R["rules_rows"] = n
        del t
        gc.collect()

    R["load_after"] = load_average()
    R["note"] = args.note
    R["elapsed_s"] = time.perf_counter() - started
    (args.out / "results.json").write_text(json.dumps(R, indent=1, default=str))
    write_outputs(R, args)
    log(f"done in {R['elapsed_s']:.0f}s; written to {args.out}")
    return 0


# ------------------------------------------------------------------ writing
def _intkeys(obj):
    """JSON turned int/float dict keys into strings: turn numeric ones back."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            try:
                k = int(k) if str(k).lstrip("-").isdigit() else float(k)
            except (TypeError, ValueError):
                pass
            out[k] = _intkeys(v)
        return out
    if isinstance(obj, list):
        return [_intkeys(v) for v in obj]
    return obj


_STYLE = {}


def _style(name: str) -> dict:
    """Stable, distinct colour/marker per implementation; leadscore thick and black."""
    if name == LS:
        return {"color": "black", "lw": 2.5, "marker": "o", "zorder": 5}
    if name not in _STYLE:
        i = len(_STYLE)
        _STYLE[name] = {"color": f"C{i % 10}", "marker": "sv^<>dPXhp*"[i % 11], "lw": 1.2,
                        "ls": "--" if name == "memory read" else "-"}
    return _STYLE[name]


def env_lines(R, args) -> list[str]:
    import numba

    versions = ", ".join(f"{d} {version(d)}" for d in
                         ("leadscore_fast", "numpy", "numba", "pyarrow", "polars", "duckdb",
                          "pandas", "numexpr", "Cython"))
    return [
        f"- date: {R['date']}; total benchmark time {R['elapsed_s']:.0f} s",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores (numba threads {numba.get_num_threads()})",
        f"- load average (1, 5, 15 min) before: {R['load_before']}; after: {R['load_after']}",
        *([f"- note: {args.note}"] if args.note else []),
        f"- python {platform.python_version()}; {versions}",
    ]


def fmt_ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.0f}x"


def workload_table(w: dict) -> list[str]:
    med, rows = w["median"], w["rows"]
    ls = med[LS]
    lines = [f"**{w['workload']}** ({w['rules']} rules, {rows:,} rows, median of {w['runs']} "
             "interleaved runs; ratio = peer time / leadscore time, > 1 means leadscore is "
             "faster)", "",
             "| implementation | how | median s | min s | Mrows/s | ratio to leadscore |",
             "|---|---|---:|---:|---:|---:|"]
    for name, m in sorted(med.items(), key=lambda kv: kv[1]):
        lines.append(f"| {name} | {w['notes'].get(name, '')} | {m:.3f} | "
                     f"{min(w['times'][name]):.3f} | {rows / m / 1e6:,.1f} | "
                     f"{fmt_ratio(m / ls)} |")
    return lines + [""]


def targets(R) -> list[tuple[str, str, str, bool | None]]:
    out = []
    ref = R["workloads"].get("reference", {}).get("median", {})

    def ratio(wl, peer, inverse=False, stat="median"):
        w = R["workloads"].get(wl, {})
        if stat == "median":
            m = w.get("median", {})
        else:
            m = {k: min(v) for k, v in w.get("times", {}).items()}
        if peer not in m or LS not in m:
            return None
        return m[LS] / m[peer] if inverse else m[peer] / m[LS]

    def add(label, value, goal, ok):
        wl, peer, inverse = value
        med = ratio(wl, peer, inverse)
        best = ratio(wl, peer, inverse, "min")
        text = "-" if med is None else f"{med:.2f} (min/min {best:.2f})"
        out.append((label, text, goal, None if med is None else ok(med)))

    add("leadscore / numba hand-fused (reference)", ("reference", "numba hand-fused", True),
        "<= 1.25", lambda v: v <= 1.25)
    add("leadscore / Cython hand-written (reference)",
        ("reference", "Cython hand-written", True), "<= 1.25", lambda v: v <= 1.25)
    add("Polars / leadscore (reference)", ("reference", "Polars", False), ">= 4",
        lambda v: v >= 4)
    add("DuckDB / leadscore (reference, hand-written SQL)", ("reference", "DuckDB", False),
        ">= 6", lambda v: v >= 6)
    add("DuckDB (to_sql) / leadscore (reference)", ("reference", "DuckDB (to_sql)", False),
        ">= 6", lambda v: v >= 6)
    for wl in ("rules-200", "string-heavy"):
        add(f"Polars / leadscore ({wl})", (wl, "Polars", False), ">= 3", lambda v: v >= 3)
        add(f"DuckDB (to_sql) / leadscore ({wl})", (wl, "DuckDB (to_sql)", False), ">= 3",
            lambda v: v >= 3)
    add("leadscore / memory read (reference)", ("reference", "memory read", True),
        "<= 2.5", lambda v: v <= 2.5)
    add("Polars / leadscore (rules-1000)", ("rules-1000", "Polars", False), ">= 2",
        lambda v: v >= 2)
    # the interpreter alone (no fused kernel): what every program gets before it is hot
    if LS_INTERP in ref:
        for peer, label in (("memory read", "interpreter only / memory read (reference)"),
                            ("Polars", "Polars / interpreter only (reference)"),
                            ("DuckDB", "DuckDB / interpreter only (reference)")):
            if peer in ref:
                v = ref[LS_INTERP] / ref[peer] if peer == "memory read" else \
                    ref[peer] / ref[LS_INTERP]
                out.append((label, f"{v:.2f}", "(info)", None))
    cold = R.get("cold", {})
    if cold:
        first = cold["empty cache"]["total_s"]
        runs = cold["empty cache"].get("runs_total_s", [first])
        out.append(("cold start, empty numba cache: import + first score (s)",
                    f"{first:.1f} (runs {', '.join(f'{r:.1f}' for r in runs)})", "< 10 s",
                    first < 10))
        warm = cold["warm cache"]["total_s"]
        out.append(("cold start, warm cache: import + first score (s)", f"{warm:.2f}",
                    "(info)", None))
        out.append(("`python -m leadscore_fast.warmup` on an empty cache (s)",
                    f"{cold['warmup command']['wall_s']:.1f}", "fills the cache",
                    cold["after warmup"]["total_s"] < 2.0))
    return out


def target_lines(R) -> list[str]:
    lines = ["| target | measured: ratio of medians (ratio of best runs) | goal | met (medians) |",
             "|---|---:|---|:-:|"]
    for label, value, goal, ok in targets(R):
        lines.append(f"| {label} | {value} | {goal} | "
                     f"{'-' if ok is None else 'yes' if ok else '**no**'} |")
    return lines + [""]


def write_outputs(R, args) -> None:
    out = args.out
    plots = make_plots(R, out)
    md = [f"# leadscore_fast benchmarks ({R['rows']:,} rows)", "",
          "Produced by `make bench` (`python benchmarks/report.py`). Every peer was first checked "
          "to compute the same scores (rtol 1e-9, atol 1e-9, identical NULLs) and tiers as "
          "leadscore on the same rows, then all were timed in interleaved rounds in one "
          "process. Polars/pandas/NumPy/numexpr are timed from a prepared frame (Arrow "
          "conversion not counted: generous to them); DuckDB scans the Arrow table. "
          "Plain Python runs on a sample and is extrapolated linearly.", "",
          "## Targets", "", *target_lines(R), "## Workloads", ""]
    for w in R["workloads"].values():
        md += workload_table(w)
    if R.get("profile"):
        p = R["profile"]
        md += ["## Where leadscore's time goes (reference model)", "",
               "| part | s | share |", "|---|---:|---:|"]
        md += [f"| {k} | {v:.3f} | {v / p['total']:.0%} |" for k, v in p.items() if k != "total"]
        md += [f"| total score() | {p['total']:.3f} | 100% |", ""]
    if R.get("threads"):
        ths = sorted(R["threads"])
        names = list(R["threads"][ths[0]])
        md += ["## Threads (reference model, median s)", "",
               "| threads | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
        md += [f"| {t} | " + " | ".join(f"{R['threads'][t][n]:.3f}" for n in names) + " |"
               for t in ths]
        md += ["", "Polars' thread pool is fixed when it is imported, so it is not in this "
               "table (it uses all cores everywhere else).", ""]
    md += rows_lines(R) + rules_lines(R)
    if R["nulls"]:
        md += ["## Nulls (reference model)", ""]
        for w in R["nulls"].values():
            md += workload_table(w)
    if R.get("cold"):
        c = R["cold"]
        md += ["## Cold start (fresh interpreter, 4,096-row first batch)", "",
               "| case | import s | first score s | total s |", "|---|---:|---:|---:|"]
        for k in ("empty cache", "warm cache", "after warmup"):
            md.append(f"| {k} | {c[k]['import_s']:.2f} | {c[k]['first_score_s']:.2f} | "
                      f"{c[k]['total_s']:.2f} |")
        md += ["", f"`python -m leadscore_fast.warmup` on an empty cache: "
               f"{c['warmup command']['wall_s']:.1f} s wall.", ""]
    md += ["## Environment", "", *env_lines(R, args), ""]
    (out / "report.md").write_text("\n".join(md))
    (out / "README_section.md").write_text(readme_section(R, args, plots))


def rows_lines(R) -> list[str]:
    rs = R["rows_scaling"]
    if not rs:
        return []
    sizes = sorted(rs, key=int)
    names = [n for n in rs[sizes[-1]] if all(n in rs[s] for s in sizes)]
    lines = ["## Rows scaling (reference model): ns per row", "",
             "| rows | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for s in sizes:
        lines.append(f"| {int(s):,} | " + " | ".join(f"{rs[s][n] / int(s) * 1e9:.1f}"
                                                     for n in names) + " |")
    if R.get("stream"):
        st = R["stream"]
        lines.append(f"| {st['rows']:,} (streamed) | {st['median'] / st['rows'] * 1e9:.1f} | "
                     + " | ".join("-" for _ in names[1:]) + " |")
        lines += ["", f"The {st['rows']:,}-row point is leadscore alone, `score(..., "
                  f"stream=True)` over a RecordBatchReader that passes "
                  f"{st['rows'] // R['rows']} times over the {R['rows']:,}-row table (the "
                  "whole table would not fit next to every peer on this 24 GiB machine); "
                  "results are consumed batch by batch and dropped."]
    return lines + [""]


def rules_lines(R) -> list[str]:
    rs = R["rules_scaling"]
    if not rs:
        return []
    ks = sorted(rs, key=int)
    names = sorted({n for k in ks for n in rs[k]}, key=lambda n: (n != LS, n))
    lines = [f"## Rules scaling ({R.get('rules_rows', 0):,} rows, generated models, median s)",
             "", "| rules | " + " | ".join(names) + " |", "|---:|" + "---:|" * len(names)]
    for k in ks:
        lines.append(f"| {k} | " + " | ".join(f"{rs[k][n]:.3f}" if n in rs[k] else "-"
                                             for n in names) + " |")
    return lines + ["", "NumPy (generic translator) is left out above "
                    "--numpy-max-rules rules.", ""]


def readme_section(R, args, plots) -> str:
    ref = R["workloads"].get("reference")
    lines = ["## Performance", "",
             f"{R['rows']:,} synthetic leads (`leadscore_fast.synthetic.generate_leads`), "
             f"{os.cpu_count()} cores, medians of interleaved runs; every peer was first checked "
             "to produce the same scores and tiers. Ratio = peer time / leadscore time.", ""]
    if ref:
        lines += workload_table(ref)
    summary = ["| workload | rules | rows | leadscore s | " +
               " | ".join(("Polars", "DuckDB (to_sql)", "NumPy", "plain Python")) + " |",
               "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for key in ("rules-200", "rules-1000", "string-heavy", "decay"):
        w = R["workloads"].get(key)
        if not w:
            continue
        m = w["median"]
        cells = [fmt_ratio(m[p] / m[LS]) if p in m else "-"
                 for p in ("Polars", "DuckDB (to_sql)", "NumPy", "plain Python")]
        summary.append(f"| {key} | {w['rules']} | {w['rows']:,} | {m[LS]:.3f} | "
                       + " | ".join(cells) + " |")
    lines += ["Generated and string-heavy models (peers are generic translators of the same "
              "model; DuckDB runs `leadscore_fast.to_sql`):", "", *summary, ""]
    heavy = {w["rows"] for k, w in R["workloads"].items() if k != "reference"} - {R["rows"]}
    if heavy:
        lines += [f"The string-heavy and 200/1,000-rule workloads ran on {max(heavy):,} rows: "
                  "their peers take minutes per run at 10M rows on 2 cores, and per-row cost is "
                  "flat (rows scaling in `benchmarks/results/report.md`).", ""]
    lines += ["Targets:", "", *target_lines(R)]
    if "speedup" in plots:
        lines += ["![speed-up per peer](benchmarks/results/speedup.png)", ""]
    if "rows" in plots:
        lines += ["![time vs rows](benchmarks/results/rows.png) "
                  "![time vs rules](benchmarks/results/rules.png)", ""]
    lines += ["Reproduce (about "
              f"{R['elapsed_s'] / 60:.0f} minutes here; full tables in "
              "`benchmarks/results/report.md`):", "", "```bash",
              "make bench        # = python benchmarks/report.py --rows 10000000", "```", "",
              *env_lines(R, args), ""]
    return "\n".join(lines)


def make_plots(R, out: Path) -> set:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib not installed: no plots (pip install matplotlib)")
        return set()
    made = set()
    ref = R["workloads"].get("reference")
    if ref:
        med = {k: v for k, v in ref["median"].items() if k != LS}
        names = sorted(med, key=lambda k: med[k])
        vals = [med[k] / ref["median"][LS] for k in names]
        fig, ax = plt.subplots(figsize=(8, 4.5))
        bars = ax.barh(names, vals, color=["#999" if v < 1 else "#3b75af" for v in vals])
        ax.set_xscale("log")
        ax.axvline(1.0, color="k", lw=1)
        ax.bar_label(bars, labels=[f"{v:.2f}x" if v < 10 else f"{v:.0f}x" for v in vals],
                     padding=3, fontsize=8)
        ax.set_xlabel("peer time / leadscore time (log; > 1: leadscore faster)")
        ax.set_title(f"Reference model, {ref['rows']:,} rows, {os.cpu_count()} cores")
        fig.tight_layout()
        fig.savefig(out / "speedup.png", dpi=110)
        plt.close(fig)
        made.add("speedup")
    rs = R["rows_scaling"]
    if rs:
        sizes = sorted(rs, key=int)
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in [n for n in rs[sizes[-1]] if all(n in rs[s] for s in sizes)]:
            pts = [(int(s), rs[s][name]) for s in sizes]
            if name == LS and R.get("stream"):
                pts.append((R["stream"]["rows"], R["stream"]["median"]))
            ax.plot(*zip(*pts), **_style(name),
                    label=name + (" (largest: streamed)" if name == LS and R.get("stream")
                                  else ""))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rows")
        ax.set_ylabel("seconds (median)")
        ax.set_title("Reference model: time vs rows (per-row cost flat = slope 1)")
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "rows.png", dpi=110)
        plt.close(fig)
        made.add("rows")
    rl = R["rules_scaling"]
    if rl:
        ks = sorted(rl, key=int)
        names = sorted({n for k in ks for n in rl[k]}, key=lambda n: (n != LS, n))
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for name in names:
            pts = [(int(k), rl[k][name]) for k in ks if name in rl[k]]
            ax.plot(*zip(*pts), **_style(name), label=name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("rules in the model")
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"Time vs number of rules ({R.get('rules_rows', 0):,} rows)")
        ax.legend(fontsize=8)
        ax.grid(True, which="both", alpha=0.3)
        fig.tight_layout()
        fig.savefig(out / "rules.png", dpi=110)
        plt.close(fig)
        made.add("rules")
    if R.get("threads"):
        ths = sorted(R["threads"])
        fig, ax = plt.subplots(figsize=(6, 4))
        for name in R["threads"][ths[0]]:
            ax.plot(ths, [R["threads"][t][name] for t in ths], **_style(name), label=name)
        ax.set_xlabel("threads")
        ax.set_ylabel("seconds (median)")
        ax.set_title(f"Reference model, {R['rows']:,} rows: threads")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(out / "threads.png", dpi=110)
        plt.close(fig)
        made.add("threads")
    return made


if __name__ == "__main__":
    raise SystemExit(main())
