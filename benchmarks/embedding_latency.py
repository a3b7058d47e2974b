"""Latency of a CompiledModel embedded in a service: ``score_one`` (one lead as a dict), a
1,000-row ``score_batch``, and a fresh process's first score, with baselines measured in the
same run, interleaved (the machine is shared: read the ratios):

    python benchmarks/embedding_latency.py [--calls 5000] [--fresh 7]

- floor: a trivial pyarrow call (``batch.column(0)``), what any call into Arrow costs;
- score_batch: a RecordBatch (small_batch.py's one-call path) and the same rows as a
  RecordBatchReader (the runner's general path: sources, binding in Python, executor choice);
- fresh process: ``import leadscore_fast``, load the reference model's YAML file, compile it,
  score its first 1,000-row batch (read from an Arrow IPC file), against
  ``python -c "import pyarrow"`` (the floor a process pays anyway).
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import pyarrow as pa

import leadscore_fast as lf
from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads

FRESH = """
import time
t0 = time.perf_counter()
import pyarrow.ipc
import leadscore_fast as lf
batch = pyarrow.ipc.open_file({path!r}).get_batch(0)
cm = lf.compile(lf.Model.from_yaml({model!r}), batch.schema)
cm.score_batch(batch)
print(time.perf_counter() - t0)
"""


def median_us(fn, calls: int) -> float:
    ts = []
    for _ in range(calls):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1e6


def interleaved(cases: dict, calls: int, rounds: int = 5) -> dict:
    """Median per case over ``rounds`` rounds, each running every case ``calls`` times."""
    got = {name: [] for name in cases}
    for _ in range(rounds):
        for name, fn in cases.items():
            got[name].append(median_us(fn, calls))
    return {name: statistics.median(v) for name, v in got.items()}


def fresh_seconds(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, capture_output=True)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=5000)
    ap.add_argument("--fresh", type=int, default=7, help="fresh processes per contender")
    ap.add_argument("--baseline", metavar="PYTHONPATH",
                    help="also time the fresh process with this leadscore_fast (another "
                         "checkout's python/ directory), interleaved")
    args = ap.parse_args()
    leads = generate_leads(10_000, seed=1)
    cm = lf.compile(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), leads.schema)
    rows = leads.to_pylist()
    batch = leads.slice(0, 1000).combine_chunks().to_batches()[0]
    cm.score_one(rows[0])
    cm.score_batch(batch)
    cm.score_batch(pa.RecordBatchReader.from_batches(batch.schema, [batch]))
    it = iter(range(10 ** 9))
    one = interleaved({"floor": lambda: batch.column(0),
                       "score_one": lambda: cm.score_one(rows[next(it) % len(rows)])},
                      args.calls // 5)
    many = interleaved({"score_batch": lambda: cm.score_batch(batch),
                        "runner path": lambda: cm.score_batch(
                            pa.RecordBatchReader.from_batches(batch.schema, [batch]))},
                       max(args.calls // 25, 20))
    print(f"load average {os.getloadavg()[0]:.1f}")
    print(f"floor (batch.column(0)) {one['floor']:.2f} us")
    print(f"score_one median {one['score_one']:.1f} us")
    print(f"score_batch of 1,000 rows median {many['score_batch']:.0f} us "
          f"(the runner's path, same rows as a RecordBatchReader: {many['runner path']:.0f} us)")
    if args.fresh:
        with tempfile.TemporaryDirectory() as tmp:
            path, model = os.path.join(tmp, "leads.arrow"), os.path.join(tmp, "model.yaml")
            with open(model, "w") as f:
                f.write(REFERENCE_MODEL_YAML)
            with pa.ipc.new_file(path, batch.schema) as w:
                w.write_batch(batch)
            # Empty caches: fresh numba and fused-kernel cache directories for every process.
            # Bytecode (.pyc) is cached as an installed package has it (in tmp, not the tree).
            env = dict(os.environ, PYTHONPYCACHEPREFIX=os.path.join(tmp, "pyc"))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            code = FRESH.format(path=path, model=model)
            contenders = {"leadscore_fast": env}
            if args.baseline:
                contenders["baseline"] = dict(env, PYTHONPATH=args.baseline)
            times: dict = {name: [] for name in [*contenders, "import pyarrow"]}
            for name, e in contenders.items():
                fresh_seconds(code, e)  # writes the bytecode
            for k in range(args.fresh):
                for name, e in contenders.items():
                    caches = dict(e, NUMBA_CACHE_DIR=os.path.join(tmp, f"numba{name}{k}"),
                                  LEADSCORE_FUSED_CACHE=os.path.join(tmp, f"fused{name}{k}"))
                    times[name].append(fresh_seconds(code, caches))
                times["import pyarrow"].append(fresh_seconds("import pyarrow", env))
        med = {name: statistics.median(v) for name, v in times.items()}
        base = f"; the baseline {med['baseline']:.3f} s" if args.baseline else ""
        print(f"fresh process, import + compile + first 1,000-row score: median "
              f"{med['leadscore_fast']:.3f} s (python -c 'import pyarrow': "
              f"{med['import pyarrow']:.3f} s{base})")


if __name__ == "__main__":
    main()
