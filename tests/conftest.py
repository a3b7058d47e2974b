"""Shared test setup: hypothesis profiles and the import path.

Profiles (select with HYPOTHESIS_PROFILE=...; default "ci"):
  ci        deterministic (derandomize), 300 examples per property test
  dev       random, 50 examples: quick local runs
  thorough  random, 2000 examples: hunting for bugs
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

_PY = Path(__file__).resolve().parents[1] / "python"
try:
    import leadscore_fast  # noqa: F401
except ImportError:  # running from a checkout without PYTHONPATH=python
    sys.path.insert(0, str(_PY))

_common = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much])
settings.register_profile("ci", max_examples=300, derandomize=True, database=None, **_common)
settings.register_profile("dev", max_examples=50, **_common)
settings.register_profile("thorough", max_examples=2000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

from postgres_server import postgres_uri  # noqa: E402,F401  (fixture: a real PostgreSQL server)
