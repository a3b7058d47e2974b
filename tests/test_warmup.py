"""python -m leadscore_fast.warmup: compiles (and caches) both kernel variants."""
from __future__ import annotations

import pytest


def test_warm_up_compiles_both_kernel_variants():
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast import warmup
    from leadscore_fast.vm import kernel

    assert warmup.warm_up() > 0
    assert kernel.run_block_core.signatures
    assert kernel.run_block_full.signatures


def test_a_new_process_loads_the_kernel_from_the_cache(tmp_path):
    """The second process must not compile again (numba keys its cache on the closure of
    run_block's variants: a regression here costs every process the full cold start)."""
    import json
    import os
    import subprocess
    import sys

    pytest.importorskip("leadscore_fast._engine")
    script = (
        "import json, leadscore_fast as lf\n"
        "from leadscore_fast.synthetic import REFERENCE_MODEL_YAML, generate_leads\n"
        "from leadscore_fast.vm import kernel\n"
        "lf.score(lf.Model.from_yaml_string(REFERENCE_MODEL_YAML), generate_leads(100))\n"
        "s = kernel.run_block_core.stats\n"
        "print(json.dumps([sum(s.cache_hits.values()), sum(s.cache_misses.values())]))\n")
    # the interpreter only: a fresh process would otherwise score a fusable model fused
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), LEADSCORE_FUSED="0",
               LEADSCORE_EXECUTOR="interpreter")
    runs = [json.loads(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                      capture_output=True, text=True).stdout.splitlines()[-1])
            for _ in range(2)]
    assert runs[0] == [0, 1]  # compiled and saved
    assert runs[1] == [1, 0]  # loaded
