"""Compile time of a 1,000-rule model (target: well under 50 ms), as a benchmark.

Runs as a plain test in CI (benchmark disabled) and still checks the program."""
import json

import pyarrow as pa
import pytest

from leadscore_fast import _engine
from leadscore_fast.schema import schema_kinds

SCHEMA = pa.schema([("visits", pa.int32()), ("revenue", pa.float64()), ("industry", pa.string()), ("active", pa.bool_())])


def thousand_rule_model() -> str:
    rules = []
    for i in range(1000):
        when = [
            f"visits >= {i % 17}",
            f"revenue BETWEEN {i} AND {i * 10 + 5}",
            f"industry IN ('i{i % 20}', 'i{(i + 3) % 20}')",
            f"active AND visits % {i % 7 + 2} = 0",
        ][i % 4]
        rules.append({"name": f"r{i}", "when": {"text": when}, "points": {"text": f"{(i % 11) - 3} + visits * 0.{i % 9 + 1}"}, "cap": 50})
    return json.dumps({"name": "big", "scores": [{"name": "s", "rules": rules}],
                       "segments": [{"name": "tier", "cases": [{"label": "hot", "when": {"text": "s > 100"}}, {"label": "cold"}]}]})


@pytest.mark.benchmark(group="compile")
def test_compile_1000_rules(benchmark):
    model, schema = thousand_rule_model(), json.dumps(schema_kinds(SCHEMA))
    program = benchmark(_engine.compile, model, schema)
    assert program.n_insns > 1000
    assert len(program.lookups) == 5  # one table per distinct IN list (i ≡ 2 mod 4 gives 5)
