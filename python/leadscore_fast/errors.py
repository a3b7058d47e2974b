"""The error hierarchy. The classes are created once in the Rust bindings and re-exported here;
Python-only failures (unreadable input files) add ``DataError``."""
from __future__ import annotations

from leadscore_fast._engine import (  # noqa: F401  (re-exports)
    ExpressionError,
    LeadscoreError,
    ModelError,
    ProgramError,
    SchemaError,
    TypeCheckError,
)


class DataError(LeadscoreError):
    """Input data that cannot be read: a missing, corrupt or unsupported file or object."""


__all__ = [
    "LeadscoreError",
    "ModelError",
    "ExpressionError",
    "TypeCheckError",
    "SchemaError",
    "ProgramError",
    "DataError",
]
