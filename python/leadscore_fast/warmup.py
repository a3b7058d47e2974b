"""Fill the kernel caches once (``python -m leadscore_fast.warmup`` or ``make warmup``).

The VM kernels are compiled with ``cache=True``: the first process pays the JIT compile, every
later one loads machine code from the cache directory (see ``vm/cache.py``; set
``NUMBA_CACHE_DIR`` to share it, e.g. in a container image build step).
"""
from __future__ import annotations

import contextlib
import os
import sys
import time


def warm_up() -> float:
    """Run a small synthetic table through both interpreter variants so they are compiled and
    cached: a score of the reference model (core opcodes: ``run_block_core``) and a top-k
    query (``run_block_full``, every opcode); then score it fused, which caches the reference
    model's fused kernel too (other models' kernels are cached the first time they fuse).
    Returns seconds."""
    from leadscore_fast import Model, score, synthetic, top_k

    start = time.perf_counter()
    leads = synthetic.generate_leads(1_000, seed=0)
    model = Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML)
    with _env(LEADSCORE_FUSED="0"):
        score(model, leads)
    top_k(model, leads, 10, by="total")
    with _env(LEADSCORE_FUSE_AFTER_ROWS="0", LEADSCORE_FUSE_BACKGROUND="0"):
        score(model, leads)
    return time.perf_counter() - start


@contextlib.contextmanager
def _env(**values):
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main() -> int:
    seconds = warm_up()
    from leadscore_fast.vm import cache, native

    where = cache.ensure_cache_dir() or "next to the package sources"
    print(f"numba cache warm in {seconds:.1f} s ({where}); fused kernels in {native.cache_dir()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
