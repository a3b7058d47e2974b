"""A directory of Parquet files, or a glob of them, as one source (pyarrow.dataset).

Hive-style directories (``country=US/part-0.parquet``) add their keys as columns. The files
are read in sorted path order, so a dataset reads the same rows in the same order each time.
``parts()`` lists the files with their paths relative to the dataset's root, which the bulk
path uses to write a directory output with the same layout.
"""
from __future__ import annotations

import glob as _glob
import os
from typing import Iterator

import pyarrow as pa

from leadscore_fast.sources.base import Source, project
from leadscore_fast.sources.files import SLICE_ROWS, describe

__all__ = ["DatasetSource", "is_glob"]


def is_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _data_error(message: str):
    from leadscore_fast.errors import DataError

    return DataError(message)


class DatasetSource(Source):
    """Parquet files under ``path`` (a directory) or matching ``path`` (a glob)."""

    def __init__(self, path, *, format: str | None = None):
        import pyarrow.dataset as ds

        self.path = self.name = os.fspath(path)
        if format not in (None, "parquet"):
            raise _data_error(f"{self.path}: directories and globs are read as Parquet, "
                              f"not {format}")
        if is_glob(self.path):
            files = sorted(f for f in _glob.glob(self.path, recursive=True) if os.path.isfile(f))
            root = _static_prefix(self.path)
        else:
            root = self.path
            files = sorted(os.path.join(d, f) for d, _, names in os.walk(self.path)
                           for f in names if not f.startswith((".", "_")))
        if not files:
            raise _data_error(f"{self.path}: no Parquet files found")
        self.root, self.files = root, files
        try:
            self.dataset = ds.dataset(files, format="parquet", partitioning="hive",
                                      partition_base_dir=root)
            self.schema = self.dataset.schema
        except (pa.ArrowException, OSError, ValueError) as e:
            raise _data_error(f"{self.path}: cannot read as a Parquet dataset: {describe(e)}") \
                from None
        part = self.dataset.partitioning
        self.partition_columns = list(part.schema.names) if part is not None else []

    decodes = True

    def num_rows(self) -> int | None:
        try:
            return sum(f.metadata.num_rows for f in self.dataset.get_fragments())
        except Exception:  # only a progress bar's total
            return None

    def _batches(self, columns) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.dataset.to_batches(columns=columns, batch_size=SLICE_ROWS):
                yield project(batch, columns)
        except (pa.ArrowException, OSError, ValueError) as e:
            raise _data_error(f"{self.path}: cannot read: {describe(e)}") from None

    def parts(self):
        """(path relative to the root, Source of that file's rows with the dataset's schema)."""
        for frag in self.dataset.get_fragments():
            yield os.path.relpath(frag.path, self.root), _FragmentSource(self, frag)


class _FragmentSource(Source):
    """One file of a dataset, with the dataset's columns (partition keys included)."""

    def __init__(self, parent: DatasetSource, fragment):
        self.parent, self.fragment = parent, fragment
        self.name, self.schema = fragment.path, parent.schema

    def num_rows(self) -> int | None:
        return self.fragment.metadata.num_rows

    def _batches(self, columns) -> Iterator[pa.RecordBatch]:
        import pyarrow.dataset as ds

        scanner = ds.Scanner.from_fragment(self.fragment, schema=self.schema, columns=columns,
                                           batch_size=SLICE_ROWS)
        try:
            for batch in scanner.to_batches():
                yield project(batch, columns)
        except (pa.ArrowException, OSError, ValueError) as e:
            raise _data_error(f"{self.name}: cannot read: {describe(e)}") from None


def _static_prefix(pattern: str) -> str:
    """The directory part of a glob before its first wildcard."""
    parts = []
    for part in pattern.split(os.sep):
        if is_glob(part):
            break
        parts.append(part)
    return os.sep.join(parts) or "."
