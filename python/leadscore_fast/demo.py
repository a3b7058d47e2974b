"""End-to-end demo: ``python -m leadscore_fast.demo [--rows N] [--seed S]``.

Generates synthetic leads, compiles the reference model, scores them and shows what a user
looks at first: score distributions, tiers with their conversion rates, the top leads; then
rescores a seeded SQLite lead table in place (demo_db.py).
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

import leadscore_fast
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

INSN_BYTES = 6 * 8  # one instruction = 6 little-endian int64 words


def _fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds / 1e6:,.1f}M rows/s" if seconds > 0 else "n/a"


def _codes(col: pa.ChunkedArray, labels: list[str]) -> np.ndarray:
    """Segment label index per row (-1 = NULL), whatever the dictionary layout per chunk."""
    idx = pc.index_in(col.cast(pa.string()), value_set=pa.array(labels, pa.string()))
    return pc.fill_null(idx, -1).to_numpy()


def _distribution_table(scores: pa.Table, names: list[str]) -> Table:
    t = Table(title="Score distributions", title_justify="left")
    t.add_column("score")
    for h in ("min", "mean", "p50", "p90", "max", "nulls"):
        t.add_column(h, justify="right")
    for name in names:
        col = scores.column(name)
        v = col.to_numpy()  # float64: NULLs arrive as NaN
        v = v[~np.isnan(v)]
        stats = [np.nan] * 5
        if v.size:
            stats = [v.min(), v.mean(), *np.percentile(v, [50, 90]), v.max()]
        t.add_row(name, *(f"{x:,.2f}" for x in stats), f"{col.null_count:,}")
    return t


def _segment_table(name: str, labels: list[str], codes: np.ndarray, converted) -> Table:
    t = Table(title=f"Segmentation '{name}'", title_justify="left")
    for h, j in (("segment", "left"), ("leads", "right"), ("share", "right"),
                 ("conversion", "right"), ("lift", "right")):
        t.add_column(h, justify=j)
    base = converted.mean() if converted is not None and converted.size else np.nan
    for k, label in [*enumerate(labels), (-1, "(none)")]:
        mask = codes == k
        count = int(mask.sum())
        if k == -1 and count == 0:
            continue
        rate = converted[mask].mean() if converted is not None and count else np.nan
        t.add_row(label, f"{count:,}", f"{count / max(len(codes), 1):.1%}",
                  "-" if np.isnan(rate) else f"{rate:.1%}",
                  "-" if np.isnan(rate) or not base else f"{rate / base:.2f}x")
    return t


def _top_table(leads: pa.Table, scores: pa.Table, by: str, names: list[str], seg_names,
               k: int = 10) -> Table:
    order = pc.sort_indices(scores.select([by]), sort_keys=[(by, "descending")])[:k]
    cols = [c for c in ("lead_id", "industry", "job_title", "country") if c in leads.column_names]
    t = Table(title=f"Top {k} leads by {by}", title_justify="left")
    for c in cols:
        t.add_column(c)
    for c in names:
        t.add_column(c, justify="right")
    for c in seg_names:
        t.add_column(c)
    left = leads.select(cols).take(order).to_pylist()
    right = scores.select(names + seg_names).take(order).to_pylist()
    for a, b in zip(left, right):
        t.add_row(*(str(a[c]) for c in cols), *(f"{b[c]:.2f}" if b[c] is not None else "NULL"
                                                 for c in names), *(str(b[c]) for c in seg_names))
    return t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m leadscore_fast.demo", description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000, help="leads to generate")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None, help="scoring threads (default: all)")
    ap.add_argument("--db-rows", type=int, default=200_000,
                    help="leads in the SQLite table rescored in place (0: skip that part)")
    args = ap.parse_args(argv)
    console = Console()
    t_start = time.perf_counter()

    t0 = time.perf_counter()
    leads = generate_leads(args.rows, seed=args.seed)
    t_gen = time.perf_counter() - t0
    console.print(f"[bold]Generated[/] {leads.num_rows:,} synthetic leads "
                  f"({leads.nbytes / 1e6:,.0f} MB Arrow) in {t_gen:.2f}s")

    t0 = time.perf_counter()
    model = leadscore_fast.Model.from_yaml_string(REFERENCE_MODEL_YAML, source="<reference>")
    program = leadscore_fast.compile(model, leads.schema)
    t_compile = time.perf_counter() - t0
    n_insns = len(program.code) // INSN_BYTES
    n_f, n_i, n_b = program.n_regs
    console.print(f"[bold]Compiled[/] model '{program.name}' in {t_compile * 1e3:.1f} ms: "
                  f"{n_insns} instructions ({len(program.code):,} bytes), "
                  f"{len(program.consts_f) + len(program.consts_i)} constants, "
                  f"registers f/i/b {n_f}/{n_i}/{n_b}, {len(program.columns)} columns read")

    # The first call loads (or, on a fresh install, JIT-compiles) the VM: show it apart.
    t0 = time.perf_counter()
    leadscore_fast.score(model, leads.slice(0, min(4096, leads.num_rows)), threads=args.threads)
    t_warm = time.perf_counter() - t0
    t0 = time.perf_counter()
    scores = leadscore_fast.score(model, leads, threads=args.threads)
    t_score = time.perf_counter() - t0
    console.print(f"[bold]Scored[/] {leads.num_rows:,} leads in {t_score:.3f}s "
                  f"([green]{_fmt_rate(leads.num_rows, t_score)}[/]); "
                  f"first call (VM load/JIT) {t_warm:.2f}s")
    console.print()

    score_names = list(program.scores)
    seg_names = [s["name"] for s in program.segments]
    console.print(_distribution_table(scores, score_names))
    converted = None
    if "converted" in leads.column_names:
        converted = leads.column("converted").to_numpy(zero_copy_only=False).astype(float)
    for seg in program.segments:
        codes = _codes(scores.column(seg["name"]), list(seg["labels"]))
        console.print(_segment_table(seg["name"], list(seg["labels"]), codes, converted))
    by = "total" if "total" in score_names else score_names[-1]
    console.print(_top_table(leads, scores, by, score_names, seg_names))
    if args.db_rows > 0:
        from leadscore_fast import demo_db

        console.print()
        demo_db.run(console, model, leads.slice(0, min(args.db_rows, leads.num_rows)),
                    threads=args.threads)
    console.print(f"[bold]Total time[/] {time.perf_counter() - t_start:.2f}s "
                  f"(generate {t_gen:.2f}s, compile {t_compile * 1e3:.1f} ms, "
                  f"score {t_score:.3f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
