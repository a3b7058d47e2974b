"""What every benchmark report records about its run: timestamped progress lines, package
versions and the machine's load average (shared by report.py and e2e.py)."""
from __future__ import annotations

import os
import sys
import time
from importlib import metadata

__all__ = ["log", "version", "load_average"]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "-"


def load_average() -> str:
    try:
        return ", ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"
