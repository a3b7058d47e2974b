"""Latency of a CompiledModel embedded in a service: ``score_one`` (one lead as a dict) and a
1,000-row ``score_batch``, medians over many calls in one warm process:

    python benchmarks/embedding_latency.py [--calls 5000]

Both go through the runner's batch path (runner._start_batch), whichever executor that picks.
"""
from __future__ import annotations

import argparse
import statistics
import time

import leadscore_fast as lf
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads


def median_us(fn, calls: int) -> float:
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    args = ap.parse_args()
    leads = generate_leads(10_000, seed=1)
    cm = lf.compile(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), leads.schema)
    rows = leads.to_pylist()
    batch = leads.slice(0, 1000).combine_chunks().to_batches()[0]
    cm.score_one(rows[0])
    cm.score_batch(batch)
    it = iter(range(10 ** 9))
    one = median_us(lambda: cm.score_one(rows[next(it) % len(rows)]), args.calls)
    thousand = median_us(lambda: cm.score_batch(batch), max(args.calls // 5, 100))
    print(f"score_one median {one:.0f} us; score_batch of 1,000 rows median {thousand:.0f} us")


if __name__ == "__main__":
    main()
