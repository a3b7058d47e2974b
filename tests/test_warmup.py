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
