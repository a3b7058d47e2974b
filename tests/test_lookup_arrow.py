"""Lookup tables filled from Arrow buffers (`Program.eval_lookups_arrow`, the runner's path)
equal those filled from a Python list (`eval_lookups`) for string and large_string arrays,
sliced arrays, NULLs and non-ASCII values."""
from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")

import leadscore_fast as lf  # noqa: E402
from leadscore_fast import _engine, synthetic  # noqa: E402
from leadscore_fast.schema import schema_kinds  # noqa: E402

PREDICATES = [
    "email_domain LIKE '%.io'", "email_domain ILIKE '%TECH%'", "email_domain LIKE '_a%'",
    "email_domain IN ('gmail.com', 'straße.de', '')", "starts_with(email_domain, 'da')",
    "lower(email_domain) LIKE '%é%'", "email_domain ILIKE 'STRASSE%' OR email_domain IS NULL",
    "CASE WHEN email_domain LIKE '%a%a%' THEN 1 ELSE 2 END = 1",
]
VALUES = ["gmail.com", "acme.io", "techco.de", "TECH.ai", "", None, "data.io", "straße.de",
          "STRASSE.de", "héllo.io", "ÉCOLE.fr", "日本.jp", "banana.com", "Kelvin\u212a.io", None]


@pytest.fixture(scope="module")
def program():
    leads = synthetic.generate_leads(100, seed=1, high_cardinality=True)
    d = json.loads(lf.Model.from_yaml_string(synthetic.REFERENCE_MODEL_YAML).to_engine_json())
    d["queries"] = [{"kind": "count", "name": f"q{i}", "expr": {"text": p, "line": 0, "col": 0}}
                    for i, p in enumerate(PREDICATES)]
    return _engine.compile(json.dumps(d), json.dumps(schema_kinds(leads.schema)))


def _tables(program):
    col = next(i for i, c in enumerate(program.columns) if c["name"] == "email_domain")
    tables = [t for t, lk in enumerate(program.lookups) if lk["column"] == col]
    assert len(tables) >= len(PREDICATES)
    return tables


@pytest.mark.parametrize("n", [len(VALUES), 20_000])  # the second is split over threads
@pytest.mark.parametrize("typ", [pa.string(), pa.large_string()])
def test_arrow_equals_list(program, typ, n):
    values = (VALUES * (n // len(VALUES) + 1))[:n]
    values = [v if v is None or i < len(VALUES) else f"{v}{i % 97}" for i, v in enumerate(values)]
    arr = pa.array(values, typ)
    tables = _tables(program)
    for a in (arr, arr.slice(3), arr.slice(1, len(arr) - 5), arr.slice(len(arr), 0)):
        got = program.eval_lookups_arrow(tables, a)
        want = program.eval_lookups(tables, a.to_pylist())
        for g, w in zip(got, want):
            g, w = np.frombuffer(g, np.float64), np.frombuffer(w, np.float64)
            assert g.shape == (len(a) + 1,)
            np.testing.assert_array_equal(g, w)


def test_arrow_rejects_other_types(program):
    with pytest.raises(TypeError):
        program.eval_lookups_arrow(_tables(program), pa.array([1, 2, 3]))
    with pytest.raises(TypeError):
        program.eval_lookups_arrow(_tables(program), ["a", "b"])  # no __arrow_c_array__
