"""yaml_source.py: values plus the line/column of every scalar's text."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from leadscore_fast.as_of import iso_utc
from leadscore_fast.yaml_source import Pos, PositionLoader, load_yaml, load_yaml_file

TEXT = """\
name: m
as_of: 2026-11-01T00:00:00Z
scores:
  fit:
    rules:
      - name: plain
        when: industry = 'x'
        points: 15
      - name: quoted
        when: "  a > 1"
        points: '5 * b'
      - name: block
        when: |
          a > 1
            AND b < 2
        points: >-

          3 * c
      - {name: no, when: on, points: 1}
"""


@pytest.fixture(scope="module")
def loaded():
    return load_yaml(TEXT, "m.yaml")


def at(loaded, *path):
    p = loaded.positions[path]
    return p.line, p.col


def test_values(loaded):
    v = loaded.value
    assert v["name"] == "m"
    assert v["as_of"] == dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc)
    rules = v["scores"]["fit"]["rules"]
    assert rules[0] == {"name": "plain", "when": "industry = 'x'", "points": 15}
    assert rules[2]["when"] == "a > 1\n  AND b < 2\n"
    # YAML 1.1 booleans are values; the written text is kept for names
    assert rules[3]["name"] is False and loaded.positions[("scores", "fit", "rules", 3,
                                                           "name")].raw == "no"


def test_plain_scalar_positions(loaded):
    assert at(loaded, "name") == (1, 7)
    assert at(loaded, "scores", "fit", "rules", 0, "when") == (7, 15)
    assert at(loaded, "scores", "fit", "rules", 0, "points") == (8, 17)
    assert at(loaded, "scores", "fit", "rules", 3, "when") == (19, 26)


def test_quoted_scalar_positions_point_past_the_quote(loaded):
    # `"  a > 1"`: the quote is at col 15, the expression text at col 18
    assert at(loaded, "scores", "fit", "rules", 1, "when") == (10, 18)
    assert at(loaded, "scores", "fit", "rules", 1, "points") == (11, 18)


def test_block_scalar_positions_point_at_the_content(loaded):
    assert at(loaded, "scores", "fit", "rules", 2, "when") == (14, 11)
    assert at(loaded, "scores", "fit", "rules", 2, "points") == (18, 11)  # skips blank line


def test_mapping_and_key_positions(loaded):
    assert at(loaded, "scores", "fit", "rules", 1) == (9, 9)
    assert loaded.key_positions[("scores", "fit")] == Pos(4, 3, "fit")
    # nearest known parent for paths that were never in the file
    assert loaded.pos(("scores", "fit", "rules", 0, "cap")) == loaded.positions[
        ("scores", "fit", "rules", 0)]


def test_keys_stay_text():
    v = load_yaml("no: 1\n2024: 2\non: 3\n").value
    assert v == {"no": 1, "2024": 2, "on": 3}


def test_merge_keys():
    v = load_yaml("base: &b {x: 1, y: 2}\nd: {<<: *b, y: 3}\n").value
    assert v["d"] == {"x": 1, "y": 3}


@pytest.fixture
def ModelError():
    pytest.importorskip("leadscore_fast._engine")
    from leadscore_fast.errors import ModelError
    return ModelError


@pytest.mark.parametrize("text, where", [
    ("a: [1,\nb: 2\n", "bad.yaml:3:1:"),
    ("a: 1\n  b: 2\n", "bad.yaml:2:4:"),
    ("a: 'unterminated\n", "bad.yaml:2:"),
    ("a:\n\t- 1\n", "bad.yaml:2:1:"),
])
def test_broken_yaml_is_a_located_model_error(ModelError, text, where):
    with pytest.raises(ModelError) as e:
        load_yaml(text, "bad.yaml")
    msg = str(e.value)
    assert msg.startswith(where), msg
    assert "invalid YAML" in msg and "\n" not in msg
    assert e.value.__traceback__ is not None and e.value.__cause__ is None


def test_duplicate_keys_are_errors(ModelError):
    with pytest.raises(ModelError, match=r"^m\.yaml:3:3: .*duplicate key 'fit' \(first "
                                         r"defined at line 2\)"):
        load_yaml("scores:\n  fit: {}\n  fit: {}\n", "m.yaml")


def test_missing_file(ModelError, tmp_path):
    with pytest.raises(ModelError, match="nope.yaml: cannot read model"):
        load_yaml_file(tmp_path / "nope.yaml")


def test_iso_utc():
    assert iso_utc("2026-11-01T00:00:00Z") == "2026-11-01T00:00:00Z"
    assert iso_utc("2026-11-01") == "2026-11-01T00:00:00Z"
    assert iso_utc(dt.date(2026, 11, 1)) == "2026-11-01T00:00:00Z"
    assert iso_utc("2026-11-01T02:30:00+02:00") == "2026-11-01T00:30:00Z"
    assert iso_utc(dt.datetime(2026, 1, 2, 3, 4, 5, 250000)) == "2026-01-02T03:04:05.250000Z"
    with pytest.raises(ValueError, match="ISO-8601"):
        iso_utc("next tuesday")


UNICODE = """\
scores:
  fit:
    rules:
      - name: "ünïcode ☃☃☃☃☃☃☃☃☃☃☃☃"
        when: "country = 'Ærø'"
        points: 5
      - name: blk
        when: |
          a = 'ø'
           AND b
        points: 2
base: &b {x: 1, y: [1, 2.5, null, ~, yes, 2026-11-01]}
other:
  <<: *b
  y: 'own'
"""


def _model_texts():
    root = Path(__file__).resolve().parents[1]
    return [TEXT, UNICODE] + [p.read_text(encoding="utf-8") for p in sorted(root.glob("examples/*.yaml"))]


@pytest.mark.skipif(not hasattr(yaml, "CSafeLoader"), reason="PyYAML built without libyaml")
@pytest.mark.parametrize("text", _model_texts())
def test_libyaml_loads_what_the_python_parser_loads(text):
    """The fast (libyaml) loader gives the same values, positions and plain-scalar texts."""
    fast = load_yaml(text, "m.yaml", loader=yaml.CSafeLoader)
    slow = load_yaml(text, "m.yaml", loader=PositionLoader)
    assert fast.value == slow.value
    assert fast.positions == slow.positions
    assert fast.key_positions == slow.key_positions


def test_broken_yaml_is_reported_in_the_python_parsers_words(ModelError):
    """libyaml's parser fails it; the message is the one the pure-Python parser gives."""
    text = "scores:\n  fit:\n    rules:\n   - name: x\n"
    with pytest.raises(ModelError) as fast:
        load_yaml(text, "m.yaml")
    with pytest.raises(ModelError) as slow:
        load_yaml(text, "m.yaml", loader=PositionLoader)
    assert str(fast.value) == str(slow.value)
    assert "m.yaml:4:" in str(fast.value)
