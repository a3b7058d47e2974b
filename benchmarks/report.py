"""Core comparison report: ``python benchmarks/report.py [--rows N] [--runs R]``.

Scores the reference model on one synthetic table with the leadscore VM and each peer, checks
they agree, then times them in interleaved rounds (so drifting machine load hits everyone
alike) and writes a Markdown table with medians to benchmarks/results/core.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "python"))  # a source checkout works without installing

import peers  # noqa: E402

from leadscore_fast.synthetic import generate_leads  # noqa: E402

TARGETS = {"numba hand-fused": ("VM / numba", "<= 1.5"), "polars": ("polars / VM", ">= 3")}


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def _load() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _contenders(leads, with_pandas: bool):
    """name → zero-argument callable; frame conversions happen here, untimed (generous)."""
    import duckdb

    out = {}
    reason = peers.vm_unavailable()
    if reason is None:
        model = peers.load_model()
        out["leadscore VM"] = lambda: peers.score_vm(model, leads)
    else:
        print(f"{reason}; ratios use numba", file=sys.stderr)
    out["numba hand-fused"] = lambda: peers.score_numba(leads)
    pl_df = peers.polars_frame(leads)
    out["polars"] = lambda: peers.score_polars(pl_df)
    con = duckdb.connect()
    out["duckdb"] = lambda: peers.score_duckdb(leads, con)
    if with_pandas:
        pd_df = peers.pandas_frame(leads)
        out["pandas"] = lambda: peers.score_pandas(pd_df)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=5, help="interleaved timed rounds")
    ap.add_argument("--seed", type=int, default=20261101)
    ap.add_argument("--no-pandas", action="store_true", help="skip the slowest peer")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "core.md")
    ap.add_argument("--note", default="", help="a line on the machine's state for the report")
    args = ap.parse_args(argv)

    load_before = _load()
    t0 = time.perf_counter()
    leads = generate_leads(args.rows, seed=args.seed)
    print(f"generated {leads.num_rows:,} rows in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    fns = _contenders(leads, not args.no_pandas)
    base = "leadscore VM" if "leadscore VM" in fns else "numba hand-fused"

    # Check (this also warms every JIT and cache), then time.
    want = fns[base]()
    if base != "numba hand-fused":
        peers.assert_agree(want, peers.score_numba(leads))
    for name, fn in fns.items():
        if name != base:
            peers.assert_agree(peers.in_input_order(fn()), want)
    print("all implementations agree", file=sys.stderr)

    times = {name: [] for name in fns}
    for r in range(args.runs):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
        print(f"round {r + 1}/{args.runs} done", file=sys.stderr)
    med = {name: statistics.median(ts) for name, ts in times.items()}

    cold = None
    if base == "leadscore VM":
        peers.cold_start()  # warm the numba cache for the child
        cold = statistics.median(peers.cold_start()["total_s"] for _ in range(3))

    md = _markdown(args, leads.num_rows, med, times, base, cold, load_before)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(md)
    print(md)
    print(f"written to {args.out}", file=sys.stderr)
    return 0


def _markdown(args, rows, med, times, base, cold, load_before) -> str:
    import numba

    vm = med[base]
    lines = [
        f"# Core benchmark: reference model, {rows:,} rows",
        "",
        f"Median of {args.runs} interleaved runs; every implementation was first checked to "
        f"agree with `{base}` (rtol 1e-9, identical NULLs and tiers). Ratio = time / `{base}` "
        "time. Polars and pandas are timed from a prepared frame (conversion from Arrow not "
        "counted); DuckDB scans the Arrow table and returns rows without ORDER BY.",
        "",
        "| implementation | median s | min s | rows/s | ratio |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, m in sorted(med.items(), key=lambda kv: kv[1]):
        lines.append(f"| {name} | {m:.3f} | {min(times[name]):.3f} | {rows / m / 1e6:,.1f}M | "
                     f"{m / vm:.2f}x |")
    lines += ["", "| target | measured | goal |", "|---|---:|---|"]
    if base == "leadscore VM":
        for name, (label, goal) in TARGETS.items():
            if name in med:
                value = vm / med[name] if name == "numba hand-fused" else med[name] / vm
                lines.append(f"| {label} | {value:.2f} | {goal} |")
        if cold is not None:
            lines.append(f"| cold start (import + first 4096-row batch, warm cache) | "
                         f"{cold:.3f} s | < 1 s |")
    else:
        lines.append("| (leadscore VM not built: no targets measured) | - | - |")
    versions = ", ".join(f"{d} {_version(d)}" for d in
                         ("leadscore_fast", "numpy", "numba", "pyarrow", "polars", "duckdb",
                          "pandas"))
    lines += [
        "",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- machine: {platform.platform()}, {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores (numba threads {numba.get_num_threads()})",
        f"- load average (1, 5, 15 min) before: {load_before}; after: {_load()}",
        *([f"- note: {args.note}"] if args.note else []),
        f"- python {platform.python_version()}; {versions}",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
