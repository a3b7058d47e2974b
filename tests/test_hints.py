"""The hints a model writer gets for the usual mistakes (issue 12, "model-writing hints"), as
`leadscore check --schema` and `lf.compile` report them, with the position in the file."""
from __future__ import annotations

import pyarrow as pa
import pytest

pytest.importorskip("leadscore_fast._engine")
import leadscore_fast as lf  # noqa: E402
from leadscore_fast.model import Model  # noqa: E402

SCHEMA = pa.schema([("Lead Origin", pa.string()), ("Country", pa.string()), ("visits", pa.int64())])


def error_of(yaml_text: str) -> str:
    with pytest.raises(lf.errors.LeadscoreError) as e:
        lf.compile(Model.from_yaml_string(yaml_text, source="m.yaml"), SCHEMA)
    return str(e.value)


def rule(when: str) -> str:
    return f"name: m\nscores:\n  fit:\n    rules:\n      - name: r\n        when: {when}\n        points: 1\n"


def test_unquoted_column_with_a_space():
    msg = error_of(rule("Lead Origin = 'API'"))
    assert msg.startswith("m.yaml:6:20: unexpected 'Origin' after the expression: "
                          "did you mean \"Lead Origin\"? (a column name with spaces takes double quotes)"), msg


def test_string_in_double_quotes():
    msg = error_of(rule('Country = "India"'))
    assert "unknown column 'India' (\"India\" in double quotes is a column name; string literals take single quotes: 'India')" in msg
    assert msg.startswith("m.yaml:6:"), msg


def test_segmentation_used_before_it_is_defined():
    text = ("name: m\nscores:\n  fit:\n    rules:\n      - {name: r, when: visits > 2, points: 10}\n"
            "segments:\n  combo:\n    - {name: a, when: \"tier = 'hot'\"}\n    - {name: b}\n"
            "  tier:\n    - {name: hot, when: fit > 5}\n    - {name: cold}\n")
    msg = error_of(text)
    assert "segmentation 'tier' is used before it is defined" in msg and "move 'tier' above" in msg, msg
    assert msg.startswith("m.yaml:8:"), msg


@pytest.mark.parametrize("text, line, needle", [
    ("name: m\nscores:\n  fit:\n    rules:\n      - name: api\n        when: visits > 2\n       points: 10\n",
     7, "this line is indented differently from"),
    ("name: m\nscores:\n  fit:\n    rules:\n      - name: a\n        when: x: 1\n        points: 1\n",
     6, "quote an expression that contains ': '"),
    ("name: m\nscores:\n  fit:\n\trules: []\n", 4, "a tab in the indentation"),
    ("name: m\nscores:\n  fit:\n    rules:\n      - name: \"a\n", 6, "the file ends inside a quoted string"),
])
def test_yaml_errors_in_words(text, line, needle):
    with pytest.raises(lf.errors.ModelError) as e:
        Model.from_yaml_string(text, source="m.yaml")
    msg = str(e.value)
    assert msg.startswith(f"m.yaml:{line}:") and needle in msg and "[YAML: " in msg, msg
