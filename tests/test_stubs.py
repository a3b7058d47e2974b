"""The committed type stub of the Rust extension must match the extension it describes."""
from pathlib import Path

import pytest

_engine = pytest.importorskip("leadscore_fast._engine")
from leadscore_fast import gen_stubs  # noqa: E402


def test_engine_stub_is_current():
    stub = Path(gen_stubs.__file__).with_name("_engine.pyi")
    assert stub.read_text() == gen_stubs.render(_engine), \
        "python/leadscore_fast/_engine.pyi is stale: run `make stubs`"
