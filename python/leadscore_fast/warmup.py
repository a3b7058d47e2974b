"""Fill the numba cache once (``python -m leadscore_fast.warmup`` or ``make warmup``).

The VM kernels are compiled with ``cache=True``: the first process pays the JIT compile, every
later one loads machine code from the cache directory (see ``vm/cache.py``; set
``NUMBA_CACHE_DIR`` to share it, e.g. in a container image build step).
"""
from __future__ import annotations

import sys
import time


def warm_up() -> float:
    """Run a small synthetic table through both kernel variants so they are compiled and
    cached: a score of the reference model (core opcodes: ``run_block_core``) and a top-k
    query (``run_block_full``, every opcode). Returns seconds."""
    from leadscore_fast import Model, score, synthetic, top_k

    start = time.perf_counter()
    leads = synthetic.generate_leads(1_000, seed=0)
    model = Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    score(model, leads)
    top_k(model, leads, 10, by="total")
    return time.perf_counter() - start


def main() -> int:
    seconds = warm_up()
    from leadscore_fast.vm import cache

    where = cache.ensure_cache_dir() or "next to the package sources"
    print(f"numba cache warm in {seconds:.1f} s ({where})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
