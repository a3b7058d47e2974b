"""Where numba writes its on-disk kernel cache (``@njit(cache=True)``).

numba reads ``NUMBA_CACHE_DIR`` once, when it is first imported, so ``ensure_cache_dir()`` must
run before ``import numba`` anywhere in the process: ``vm/kernel.py`` calls it first thing, and
``leadscore_fast/__init__.py`` must never import numba (it imports lazily). An existing
``NUMBA_CACHE_DIR`` is honoured. Otherwise numba caches next to the package (``__pycache__``),
which fails on read-only installs (site-packages owned by root, zipapps, containers), so there
we point it at a per-user cache directory.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def user_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    if base:
        root = Path(base)
    elif sys.platform == "win32":
        root = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        root = Path.home() / "Library" / "Caches"
    else:
        root = Path.home() / ".cache"
    return root / "leadscore_fast" / "numba"


def _writable(d: Path) -> bool:
    target = d / "__pycache__"
    probe = target if target.exists() else d
    return os.access(probe, os.W_OK | os.X_OK)


def ensure_cache_dir() -> str | None:
    """Set ``NUMBA_CACHE_DIR`` if needed; return the directory numba will use (None = its
    default next to the sources)."""
    existing = os.environ.get("NUMBA_CACHE_DIR")
    if existing:
        return existing
    if _writable(_PACKAGE_DIR):
        return None
    d = user_cache_dir()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None  # numba then just runs without an on-disk cache
    os.environ["NUMBA_CACHE_DIR"] = str(d)
    if "numba" in sys.modules:  # imported by someone else first: make it re-read the env
        from numba.core import config

        config.reload_config()
    return str(d)
