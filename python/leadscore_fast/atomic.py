"""Names for outputs written atomically: a file is written under a temporary name beside its
target, then renamed over it. Nothing heavy imported here (no pyarrow): the Rust bulk path
uses it in processes that never load pyarrow."""
from __future__ import annotations

import os

__all__ = ["temp_name", "reserve"]


def temp_name(path: str, suffix: str = "tmp") -> str:
    """A hidden name beside ``path``, unique to this call."""
    directory = os.path.dirname(os.path.abspath(path))
    return os.path.join(directory, f".{os.path.basename(path)}.{os.urandom(4).hex()}.{suffix}")


def reserve(path: str) -> str:
    """Create an empty temporary file beside ``path`` (O_EXCL reserves the name; 0o666 lets
    the umask decide permissions, as for any new file) and return its name. OSError when the
    directory is not writable."""
    tmp = temp_name(path)
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    return tmp
