"""Shared fixtures: one synthetic table per session, sized by whether benchmarks really run.

CI runs this directory as plain tests (pyproject's addopts has ``--benchmark-disable``), so a
disabled run uses a small table; a real benchmark run uses LEADSCORE_BENCH_ROWS or 10M rows.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # `import peers` from the tests

import peers  # noqa: E402

from leadscore_fast.synthetic import generate_leads  # noqa: E402

# A hot model's fused kernel compiles in the call that makes it hot, not on a background thread
# beside the timed runs: benchmarks measure the steady state (README "How it works").
os.environ.setdefault("LEADSCORE_FUSE_BACKGROUND", "0")

FULL_ROWS = 10_000_000
CI_ROWS = 50_000
SEED = 20261101


def benchmarks_enabled(config) -> bool:
    # pytest-benchmark's own rule: --benchmark-enable overrides a configured --benchmark-disable.
    try:
        return (not config.getoption("benchmark_disable")
                or bool(config.getoption("benchmark_enable")))
    except ValueError:  # pytest-benchmark not installed: nothing gets timed
        return False


@pytest.fixture(scope="session")
def bench_enabled(request) -> bool:
    return benchmarks_enabled(request.config)


@pytest.fixture(scope="session")
def bench_rows(bench_enabled) -> int:
    env = os.environ.get("LEADSCORE_BENCH_ROWS")
    if env:
        return int(env.replace("_", ""))
    return FULL_ROWS if bench_enabled else CI_ROWS


@pytest.fixture(scope="session")
def leads(bench_rows):
    return generate_leads(bench_rows, seed=SEED)


@pytest.fixture(scope="session")
def model():
    reason = peers.vm_unavailable()
    if reason:
        pytest.skip(reason)
    return peers.load_model()


@pytest.fixture(scope="session")
def reference(leads):
    """Scores everything is checked against: the VM's when it runs, else the numba peer's
    (which itself is checked against the literal Python peer on a slice)."""
    if peers.vm_unavailable() is None:
        return peers.score_vm(peers.load_model(), leads)
    return peers.score_numba(leads)
