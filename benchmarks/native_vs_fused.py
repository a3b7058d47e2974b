"""Bulk scoring in memory: the native executor against the fused kernels on the reference
model, interleaved in one process, wall time and CPU time (every thread's) per run:

    python benchmarks/native_vs_fused.py [--rows 10000000] [--threads 2] [--repeat 7]

On a shared machine read the ratios, and the CPU-time ratio most: it leaves out the time a
run waits for a core other processes hold.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import leadscore_fast as lf
from leadscore_fast import runner
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

EXECUTORS = ("fused", "native")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    os.environ.setdefault("LEADSCORE_FUSE_BACKGROUND", "0")  # the kernel ready before timing
    table = generate_leads(args.rows, seed=1).combine_chunks()
    program = lf.compile(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), table.schema).program
    for ex in EXECUTORS:  # compile/load the fused kernel, warm the allocator
        runner.run(program, table, executor=ex, threads=args.threads)
    wall = {ex: [] for ex in EXECUTORS}
    cpu = {ex: [] for ex in EXECUTORS}
    for _ in range(args.repeat):
        for ex in EXECUTORS:
            w0, c0 = time.perf_counter(), time.process_time()
            runner.run(program, table, executor=ex, threads=args.threads)
            wall[ex].append(time.perf_counter() - w0)
            cpu[ex].append(time.process_time() - c0)
    w = {ex: statistics.median(v) for ex, v in wall.items()}
    c = {ex: statistics.median(v) for ex, v in cpu.items()}
    print(f"{args.rows:,} rows, {args.threads} threads, load average {os.getloadavg()[0]:.1f}")
    for ex in EXECUTORS:
        print(f"  {ex:6s} wall {w[ex]:.4f} s  cpu {c[ex]:.4f} s")
    print(f"  native / fused: wall {w['native'] / w['fused']:.2f}x, "
          f"cpu {c['native'] / c['fused']:.2f}x")


if __name__ == "__main__":
    main()
