"""The scoring model: dataclasses, the YAML/dict loader with structural validation, a fluent
Python builder, and the serialisations (to_dict / to_yaml / to_engine_json).

Structural checks live here (keys, names, numbers, shapes); everything that needs the data
schema or expression semantics (unknown columns, types, score order) is the Rust compiler's.
Positions (line/col) are carried but never compared: a model built in Python equals the
same model loaded from YAML.
"""
from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from leadscore_fast.expr import Expr, col, lit, to_expr_text
from leadscore_fast.as_of import iso_utc
from leadscore_fast.suggest import did_you_mean
from leadscore_fast.yaml_source import (Loaded, Pos, load_yaml, load_yaml_file,
                                        located, model_error)

__all__ = ["Model", "Score", "Rule", "SegmentCase", "Segmentation", "Bands", "Src", "as_model"]


# -- the model's parts ---------------------------------------------------------------------

@dataclass(frozen=True)
class Src:
    """Expression text and where it starts in the model source (0 = unknown)."""
    text: str
    line: int = field(default=0, compare=False)
    col: int = field(default=0, compare=False)

    def to_json(self) -> dict:
        return {"text": self.text, "line": self.line, "col": self.col}

    def __str__(self) -> str:
        return self.text


@dataclass
class Rule:
    """Adds ``points`` (clamped to [floor, cap]) where ``when`` is TRUE (always, if None)."""
    name: str
    points: Src
    when: Src | None = None
    cap: float | None = None
    floor: float | None = None
    line: int = field(default=0, compare=False)


@dataclass
class Score:
    """Either a sum of ``rules`` or a derived ``expr``; optionally clamped to ``range``."""
    name: str
    rules: list[Rule] | None = None
    expr: Src | None = None
    range: tuple[float, float] | None = None
    line: int = field(default=0, compare=False)

    @property
    def derived(self) -> bool:
        return self.expr is not None


@dataclass
class SegmentCase:
    """One label of a segmentation; ``when`` None is the default case."""
    label: str
    when: Src | None = None
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Bands:
    """Shorthand: ``labels[i]`` for ``edges[i-1] <= score < edges[i]``; a NULL score gets NULL."""
    score: str
    edges: tuple[float, ...]
    labels: tuple[str, ...]

    def cases(self, where: Src | None = None, line: int = 0) -> list[SegmentCase]:
        at = dict(line=where.line, col=where.col) if where else {}
        score = col(self.score)
        cases = [SegmentCase(self.labels[i + 1], Src((score >= lit(edge)).text, **at), line)
                 for i, edge in reversed(list(enumerate(self.edges)))]
        # The lowest band is "has a score", so a NULL score matches nothing and stays NULL.
        cases.append(SegmentCase(self.labels[0], Src(score.is_not_null().text, **at), line))
        return cases


@dataclass
class Segmentation:
    """An ordered list of cases; the first whose ``when`` is TRUE labels the lead.

    A matrix segmentation has no cases: its labels are ``a-b`` for every label pair of two
    earlier segmentations (the engine computes them; NULL when either is NULL)."""
    name: str
    cases: list[SegmentCase]
    bands: Bands | None = None  # kept so to_dict/to_yaml write the shorthand back
    line: int = field(default=0, compare=False)
    matrix: tuple[str, str] | None = None


# -- reading plain values (from YAML or a dict) with validation ----------------------------

_MODEL_KEYS = ("name", "description", "as_of", "scores", "segments")
_SCORE_KEYS = ("rules", "expr", "range")
_RULE_KEYS = ("name", "when", "points", "cap", "floor")
_CASE_KEYS = ("name", "when")
_BANDS_KEYS = ("score", "edges", "labels")
_SHORTHANDS = ("bands", "matrix")


def _kind(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple)):
        return "a list"
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}"


class _Reader:
    """Turns plain values into model parts; every failure is a ModelError naming the place."""

    def __init__(self, source: str, loaded: Loaded | None = None):
        self.source = source
        self.loaded = loaded

    def pos(self, path: tuple, key: bool = False) -> Pos | None:
        return self.loaded.pos(path, key) if self.loaded else None

    def line(self, path: tuple, key: bool = False) -> int:
        pos = self.pos(path, key)
        return pos.line if pos else 0

    def fail(self, path: tuple, message: str, key: bool = False):
        raise model_error(located(self.source, self.pos(path, key), message))

    def mapping(self, value, path: tuple, allowed: tuple, what: str) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"{what} must be a mapping, got {_kind(value)}")
        for key in value:
            if key not in allowed:
                hint = did_you_mean(str(key), allowed) or \
                    f" (expected one of: {', '.join(allowed)})"
                self.fail(path + (key,), f"unknown key {key!r} in {what}{hint}", key=True)
        return value

    def name(self, value, path: tuple, what: str) -> str:
        if isinstance(value, str) and value.strip():
            return value.strip()
        # YAML turns plain `no`, `on`, `2024` into bool/int: a name is the text as written.
        pos = self.pos(path)
        if pos is not None and pos.raw and path in self.loaded.positions:
            return pos.raw
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return str(value)
        self.fail(path, f"{what} must be a non-empty name, got {_kind(value)}")

    def expr(self, value, path: tuple, what: str) -> Src:
        try:
            text = to_expr_text(value)
        except (TypeError, ValueError) as e:
            detail = str(e) if isinstance(value, (str, float)) else f"got {_kind(value)}"
            self.fail(path, f"{what} must be an expression: {detail}")
        pos = self.pos(path) if self.loaded and path in self.loaded.positions else None
        return Src(text, pos.line, pos.col) if pos else Src(text)

    def number(self, value, path: tuple, what: str) -> float:
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value)):
            self.fail(path, f"{what} must be a number, got {_kind(value)}")
        return int(value) if isinstance(value, numbers.Integral) else float(value)

    # -- parts -------------------------------------------------------------------------------
    def score(self, name: str, value, path: tuple) -> Score:
        what = f"score {name!r}"
        self.mapping(value, path, _SCORE_KEYS, what)
        if "rules" in value and "expr" in value:
            self.fail(path + ("expr",), f"{what} has both 'rules' and 'expr': a score is either "
                      "a sum of rules or a derived expression", key=True)
        if value.get("rules") is None and value.get("expr") is None:
            self.fail(path, f"{what} needs 'rules' (a list of rules) or 'expr' (a derived score)")
        rng = None
        if value.get("range") is not None:
            rng = self.range(value["range"], path + ("range",), what)
        line = self.line(path, key=True)
        if value.get("expr") is not None:
            return Score(name, expr=self.expr(value["expr"], path + ("expr",), f"{what}: expr"),
                         range=rng, line=line)
        rules = value["rules"]
        if not isinstance(rules, list) or not rules:
            self.fail(path + ("rules",), f"{what}: 'rules' must be a non-empty list of rules, "
                      f"got {_kind(rules)}")
        return Score(name, rules=[self.rule(r, path + ("rules", i), what, i)
                                  for i, r in enumerate(rules)], range=rng, line=line)

    def range(self, value, path: tuple, what: str) -> tuple:
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            self.fail(path, f"{what}: range must be [lo, hi], got {_kind(value)}")
        lo = self.number(value[0], path + (0,), f"{what}: range lo")
        hi = self.number(value[1], path + (1,), f"{what}: range hi")
        if lo > hi:
            self.fail(path, f"{what}: range lo {lo} is greater than hi {hi}")
        return (lo, hi)

    def rule(self, value, path: tuple, score_what: str, index: int) -> Rule:
        what = f"{score_what}, rule #{index + 1}"
        self.mapping(value, path, _RULE_KEYS, what)
        if value.get("name") is None:
            self.fail(path, f"{what} has no 'name'")
        name = self.name(value["name"], path + ("name",), f"{what} name")
        what = f"{score_what}, rule {name!r}"
        if value.get("points") is None:
            self.fail(path, f"{what} is missing 'points'")
        points = self.expr(value["points"], path + ("points",), f"{what}: points")
        when = (None if value.get("when") is None
                else self.expr(value["when"], path + ("when",), f"{what}: when"))
        bounds = {k: None if value.get(k) is None
                  else self.number(value[k], path + (k,), f"{what}: {k}") for k in ("cap", "floor")}
        if bounds["cap"] is not None and bounds["floor"] is not None \
                and bounds["floor"] > bounds["cap"]:
            self.fail(path + ("floor",), f"{what}: floor {bounds['floor']} is greater than "
                      f"cap {bounds['cap']}")
        return Rule(name, points, when, bounds["cap"], bounds["floor"], self.line(path))

    def segmentation(self, name: str, value, path: tuple) -> Segmentation:
        what = f"segmentation {name!r}"
        line = self.line(path, key=True)
        if isinstance(value, dict) and "matrix" in value:
            self.mapping(value, path, ("matrix",), what)
            pair = value["matrix"]
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                got = (f"{len(pair)} names" if isinstance(pair, (list, tuple))
                       else _kind(pair))
                self.fail(path + ("matrix",), f"{what}: matrix must name two earlier "
                          f"segmentations, e.g. [grade, tier], got {got}")
            pair = tuple(self.name(v, path + ("matrix", i), f"{what}: matrix entry")
                         for i, v in enumerate(pair))
            if pair[0] == pair[1]:
                self.fail(path + ("matrix",), f"{what}: matrix names {pair[0]!r} twice; it "
                          "crosses two different segmentations")
            return Segmentation(name, [], None, line, pair)
        if isinstance(value, dict) and "bands" in value:
            self.mapping(value, path, ("bands",), what)
            bands = self.bands(value["bands"], path + ("bands",), what)
            where = self.expr(bands.score, path + ("bands", "score"), what)
            return Segmentation(name, bands.cases(where, line), bands, line)
        if isinstance(value, dict):
            keys = [str(k) for k in value]
            hint = did_you_mean(keys[0], _SHORTHANDS) if len(keys) == 1 else ""
            self.fail(path, f"{what} must be a list of cases, {{bands: ...}} or {{matrix: [a, b]}}"
                      f", got a mapping with keys {', '.join(map(repr, keys))}{hint}")
        if not isinstance(value, list) or not value:
            self.fail(path, f"{what} must be a non-empty list of cases, got {_kind(value)}")
        cases = [self.case(c, path + (i,), what, i) for i, c in enumerate(value)]
        self.check_cases(cases, path, what)
        return Segmentation(name, cases, None, line)

    def case(self, value, path: tuple, seg_what: str, index: int) -> SegmentCase:
        if not isinstance(value, dict):  # a bare label is a default case: `- cold`
            return SegmentCase(self.name(value, path, f"{seg_what}, case #{index + 1}"),
                               None, self.line(path))
        what = f"{seg_what}, case #{index + 1}"
        self.mapping(value, path, _CASE_KEYS, what)
        if value.get("name") is None:
            self.fail(path, f"{what} has no 'name' (its label)")
        label = self.name(value["name"], path + ("name",), f"{what} name")
        when = (None if value.get("when") is None
                else self.expr(value["when"], path + ("when",), f"{seg_what}, case {label!r}"))
        return SegmentCase(label, when, self.line(path))

    def check_cases(self, cases: list[SegmentCase], path: tuple, what: str) -> None:
        seen: set[str] = set()
        for i, case in enumerate(cases):
            if case.label in seen:
                self.fail(path + (i,), f"{what}: duplicate label {case.label!r}")
            seen.add(case.label)
            if case.when is None and i + 1 < len(cases):
                self.fail(path + (i + 1,), f"{what}: case {cases[i + 1].label!r} comes after the "
                          f"default case {case.label!r} (no 'when') and can never match")

    def bands(self, value, path: tuple, what: str) -> Bands:
        self.mapping(value, path, _BANDS_KEYS, f"{what} bands")
        for key in _BANDS_KEYS:
            if value.get(key) is None:
                self.fail(path, f"{what}: bands needs '{key}'")
        score = self.name(value["score"], path + ("score",), f"{what}: bands score")
        edges, labels = value["edges"], value["labels"]
        if not isinstance(edges, (list, tuple)) or not edges:
            self.fail(path + ("edges",), f"{what}: bands edges must be a non-empty list of "
                      f"numbers, got {_kind(edges)}")
        edges = tuple(self.number(e, path + ("edges", i), f"{what}: bands edge")
                      for i, e in enumerate(edges))
        for i in range(1, len(edges)):
            if edges[i] <= edges[i - 1]:
                self.fail(path + ("edges", i), f"{what}: bands edges must be strictly "
                          f"increasing, but {edges[i]} follows {edges[i - 1]}")
        if not isinstance(labels, (list, tuple)) or len(labels) != len(edges) + 1:
            n = len(labels) if isinstance(labels, (list, tuple)) else _kind(labels)
            self.fail(path + ("labels",), f"{what}: bands needs {len(edges) + 1} labels for "
                      f"{len(edges)} edges (one more label than edges), got {n}")
        labels = tuple(self.name(v, path + ("labels", i), f"{what}: bands label")
                       for i, v in enumerate(labels))
        for i, label in enumerate(labels):
            if label in labels[:i]:
                self.fail(path + ("labels", i), f"{what}: duplicate label {label!r}")
        return Bands(score, edges, labels)

    def as_of(self, value, path: tuple) -> str | None:
        if value is None:
            return None
        try:
            return iso_utc(value, "as_of")
        except ValueError as e:
            self.fail(path, str(e))


# -- the model -------------------------------------------------------------------------------

class Model:
    """A scoring model: named scores (rules or derived) and segmentations.

    Build it fluently (each method returns the model)::

        Model("b2b", as_of="2026-11-01T00:00:00Z")
            .score("fit", range=(0, 100))
            .rule("target industry", when=col("industry").isin("software", "fintech"), points=15)
            .rule("visits", points=5 * col("pricing_visits"), cap=25)
            .derived("total", 0.6 * col("fit") + 0.4 * col("engagement"))
            .segments("tier", [("hot", col("total") >= 80), ("warm", "total >= 40"), ("cold", None)])
            .bands("band", "total", edges=[40, 80], labels=["cold", "warm", "hot"])
            .bands("grade", "fit", edges=[25, 50, 75], labels=["D", "C", "B", "A"])
            .matrix("priority", "grade", "band")          # labels A-hot ... D-cold

    or load it with :meth:`from_yaml`, :meth:`from_yaml_string`, :meth:`from_dict`.
    """

    def __init__(self, name: str = "model", *, as_of=None, description: str | None = None,
                 source: str = "<python>"):
        self.source = source
        self._reader = _Reader(source)
        self.name = self._reader.name(name, ("name",), "model name")
        self.as_of: str | None = self._reader.as_of(as_of, ("as_of",))
        self.description = description
        self.scores: list[Score] = []
        self.segmentations: list[Segmentation] = []
        self._open: Score | None = None  # the rules score that .rule() appends to

    # -- builder ---------------------------------------------------------------------------
    def score(self, name: str, *, range=None, rules: Iterable | None = None) -> Model:
        """Start a rules score; the following :meth:`rule` calls add to it."""
        name = self._reader.name(name, (), "score name")
        rng = None if range is None else self._reader.range(range, (), f"score {name!r}")
        score = Score(name, rules=[], range=rng)
        self._add_score(score)
        self._open = score
        for r in rules or ():
            if isinstance(r, Rule):
                self._open.rules.append(r)
            else:
                self.rule(**r)
        return self

    def rule(self, name: str, points=None, *, when=None, cap=None, floor=None) -> Model:
        """Add a rule to the score opened by the last :meth:`score` call."""
        if self._open is None:
            raise model_error(f"{self.source}: rule({name!r}) must follow score(...): rules "
                              "belong to the score opened last")
        d = {"name": name, "points": points, "when": when, "cap": cap, "floor": floor}
        self._open.rules.append(self._reader.rule(d, (), f"score {self._open.name!r}",
                                                  len(self._open.rules)))
        return self

    def derived(self, name: str, expr, *, range=None) -> Model:
        """Add a score computed from earlier scores/columns, e.g. ``0.6 * fit + 0.4 * eng``."""
        self._open = None
        self._add_score(self._reader.score(self._reader.name(name, (), "score name"),
                                           {"expr": expr, "range": range}, ()))
        return self

    def segments(self, name: str, cases) -> Model:
        """Add a segmentation from ``[(label, when), ...]`` (``when`` None = default), a
        ``{label: when}`` dict, or :class:`SegmentCase` objects; first match wins."""
        self._open = None
        if isinstance(cases, dict):
            cases = list(cases.items())
        plain = []
        for c in cases:
            if isinstance(c, SegmentCase):
                plain.append({"name": c.label, "when": c.when.text if c.when else None})
            elif isinstance(c, (tuple, list)) and len(c) == 2:
                plain.append({"name": c[0], "when": c[1]})
            else:
                plain.append(c)  # a bare label or a {name, when} dict
        name = self._reader.name(name, (), "segmentation name")
        self._add_segmentation(self._reader.segmentation(name, plain, ()))
        return self

    def bands(self, name: str, score: str | Expr, edges, labels) -> Model:
        """Segment on a score's value: ``labels[i]`` for ``edges[i-1] <= score < edges[i]``."""
        self._open = None
        score = score.text.strip('"') if isinstance(score, Expr) else score
        name = self._reader.name(name, (), "segmentation name")
        d = {"bands": {"score": score, "edges": list(edges), "labels": list(labels)}}
        self._add_segmentation(self._reader.segmentation(name, d, ()))
        return self

    def matrix(self, name: str, a: str, b: str) -> Model:
        """Cross two earlier segmentations: labels ``a_label-b_label`` (e.g. ``A-hot``) for
        every pair, in ``a``'s then ``b``'s label order; NULL where either is NULL."""
        self._open = None
        name = self._reader.name(name, (), "segmentation name")
        self._add_segmentation(self._reader.segmentation(name, {"matrix": [a, b]}, ()))
        return self

    def _taken(self, name: str) -> str | None:
        if any(s.name == name for s in self.scores):
            return "score"
        if any(g.name == name for g in self.segmentations):
            return "segmentation"
        return None

    def _add_score(self, score: Score, path: tuple = ()) -> None:
        if (kind := self._taken(score.name)) is not None:
            self._reader.fail(path, f"duplicate name {score.name!r}: already a {kind} "
                              "(score and segmentation names become output columns)", key=True)
        self.scores.append(score)

    def _add_segmentation(self, seg: Segmentation, path: tuple = (),
                          later: Iterable[str] = ()) -> None:
        if (kind := self._taken(seg.name)) is not None:
            self._reader.fail(path, f"duplicate name {seg.name!r}: already a {kind} "
                              "(score and segmentation names become output columns)", key=True)
        if seg.matrix is not None:
            self._check_matrix(seg, path, list(later))
        self.segmentations.append(seg)

    def _check_matrix(self, seg: Segmentation, path: tuple, later: list[str]) -> None:
        """A matrix crosses segmentations defined above it (the engine needs their labels)."""
        earlier = self.segment_names
        for i, other in enumerate(seg.matrix):
            if other in earlier:
                continue
            where = path + ("matrix", i) if path else ()
            what = f"segmentation {seg.name!r}: matrix over"
            if other == seg.name:
                self._reader.fail(where, f"{what} itself")
            if other in later:
                self._reader.fail(where, f"{what} {other!r}, which is defined below it; move "
                                  f"{other!r} above {seg.name!r}")
            if other in self.score_names:
                self._reader.fail(where, f"{what} {other!r}, which is a score, not a "
                                  f"segmentation; use bands to segment a score first")
            hint = did_you_mean(other, earlier) or \
                f" (segmentations above it: {', '.join(map(repr, earlier)) or 'none'})"
            self._reader.fail(where, f"{what} unknown segmentation {other!r}{hint}")

    # -- loading -----------------------------------------------------------------------------
    @classmethod
    def from_yaml(cls, path) -> Model:
        return cls._from_loaded(load_yaml_file(path), default_name=Path(path).stem)

    @classmethod
    def from_yaml_string(cls, text: str, source: str = "<string>") -> Model:
        return cls._from_loaded(load_yaml(text, source))

    @classmethod
    def from_dict(cls, d: dict, source: str = "<dict>") -> Model:
        return cls._build(d, _Reader(source))

    @classmethod
    def _from_loaded(cls, loaded: Loaded, default_name: str = "model") -> Model:
        return cls._build(loaded.value, _Reader(loaded.source, loaded), default_name)

    @classmethod
    def _build(cls, d, r: _Reader, default_name: str = "model") -> Model:
        if d is None or d == {}:
            r.fail((), "empty model: expected a mapping with 'scores'")
        r.mapping(d, (), _MODEL_KEYS, "the model")
        m = cls.__new__(cls)
        m.source, m._reader, m._open = r.source, r, None
        m.name = r.name(d["name"], ("name",), "model name") if d.get("name") is not None \
            else default_name
        m.as_of = r.as_of(d.get("as_of"), ("as_of",))
        desc = d.get("description")
        if desc is not None and not isinstance(desc, str):
            r.fail(("description",), f"description must be text, got {_kind(desc)}")
        m.description = desc
        m.scores, m.segmentations = [], []
        scores = d.get("scores")
        if not scores:
            r.fail(("scores",) if "scores" in d else (), "empty model: it defines no scores")
        if not isinstance(scores, dict):
            r.fail(("scores",), f"scores must be a mapping of score name to score, "
                   f"got {_kind(scores)}")
        for name, value in scores.items():
            path = ("scores", name)
            name = r.name(name, path, "score name")
            m._add_score(r.score(name, value, path), path)
        segments = d.get("segments")
        if segments is not None and not isinstance(segments, dict):
            r.fail(("segments",), f"segments must be a mapping of segmentation name to cases, "
                   f"got {_kind(segments)}")
        items = list((segments or {}).items())
        for i, (name, value) in enumerate(items):
            path = ("segments", name)
            seg = r.segmentation(r.name(name, path, "segmentation name"), value, path)
            m._add_segmentation(seg, path, later=[str(k) for k, _ in items[i + 1:]])
        return m

    # -- validation and output --------------------------------------------------------------
    def validate(self) -> Model:
        """Whole-model structural checks (the parts were checked as they were added)."""
        if not self.scores:
            raise model_error(f"{self.source}: empty model {self.name!r}: it defines no scores")
        for s in self.scores:
            if s.rules is not None and not s.rules:
                raise model_error(located(self.source, Pos(s.line, 0) if s.line else None,
                                          f"score {s.name!r} has no rules"))
        return self

    @property
    def score_names(self) -> list[str]:
        return [s.name for s in self.scores]

    @property
    def segment_names(self) -> list[str]:
        return [g.name for g in self.segmentations]

    def to_dict(self) -> dict:
        """Plain values in the YAML layout; ``Model.from_dict(m.to_dict()) == m``."""
        d: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            d["description"] = self.description
        if self.as_of is not None:
            d["as_of"] = self.as_of
        d["scores"] = {s.name: _score_dict(s) for s in self.scores}
        if self.segmentations:
            d["segments"] = {g.name: _segmentation_dict(g) for g in self.segmentations}
        return d

    def to_yaml(self) -> str:
        """YAML text; ``Model.from_yaml_string(m.to_yaml()) == m``."""
        import yaml

        class Dumper(yaml.SafeDumper):
            pass

        def short_lists_inline(dumper, data):
            # range/edges/labels read best as `[0, 100]`; rule and case lists stay blocks.
            flow = all(not isinstance(v, (dict, list)) for v in data)
            return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)

        Dumper.add_representer(list, short_lists_inline)
        return yaml.dump(self.to_dict(), Dumper=Dumper, sort_keys=False, allow_unicode=True,
                         width=1_000_000, default_flow_style=False)

    def to_engine_json(self) -> str:
        """The model as the Rust engine reads it (ARCHITECTURE.md §1)."""
        self.validate()

        def src(s: Src | None):
            return None if s is None else s.to_json()

        scores = [{"name": s.name, "line": s.line,
                   "range": list(s.range) if s.range is not None else None,
                   "rules": None if s.rules is None else [
                       {"name": r.name, "line": r.line, "when": src(r.when),
                        "points": src(r.points), "cap": r.cap, "floor": r.floor}
                       for r in s.rules],
                   "expr": src(s.expr)} for s in self.scores]
        segments = [{"name": g.name, "line": g.line, "matrix": list(g.matrix)}
                    if g.matrix is not None else
                    {"name": g.name, "line": g.line,
                     "cases": [{"label": c.label, "line": c.line, "when": src(c.when)}
                               for c in g.cases]} for g in self.segmentations]
        return json.dumps({"name": self.name, "source": self.source, "as_of": self.as_of,
                           "scores": scores, "segments": segments})

    def __eq__(self, other) -> bool:
        if not isinstance(other, Model):
            return NotImplemented
        return ((self.name, self.as_of, self.description, self.scores, self.segmentations)
                == (other.name, other.as_of, other.description, other.scores,
                    other.segmentations))

    __hash__ = None  # mutable (the builder appends)

    def __repr__(self) -> str:
        return (f"Model({self.name!r}, scores={self.score_names!r}, "
                f"segments={self.segment_names!r})")


def _number_or_text(text: str):
    """A points text that is a plain number goes back to YAML as a number, if that round-trips."""
    for parse in (int, float):
        try:
            value = parse(text)
        except ValueError:
            continue
        if lit(value).text == text:
            return value
    return text


def _score_dict(s: Score) -> dict:
    d: dict[str, Any] = {}
    if s.range is not None:
        d["range"] = list(s.range)
    if s.expr is not None:
        d["expr"] = s.expr.text
        return d
    rules = []
    for r in s.rules or ():
        rd: dict[str, Any] = {"name": r.name}
        if r.when is not None:
            rd["when"] = r.when.text
        rd["points"] = _number_or_text(r.points.text)
        for key in ("cap", "floor"):
            if getattr(r, key) is not None:
                rd[key] = getattr(r, key)
        rules.append(rd)
    d["rules"] = rules
    return d


def _segmentation_dict(g: Segmentation):
    if g.matrix is not None:
        return {"matrix": list(g.matrix)}
    if g.bands is not None:
        return {"bands": {"score": g.bands.score, "edges": list(g.bands.edges),
                          "labels": list(g.bands.labels)}}
    return [{"name": c.label, **({"when": c.when.text} if c.when is not None else {})}
            for c in g.cases]


def as_model(model) -> "Model":
    """A Model from a Model, a dict in the YAML layout, a path to a YAML file, or a
    CompiledModel (its model)."""
    if isinstance(model, Model):
        return model
    inner = getattr(model, "model", None)
    if isinstance(inner, Model):  # a CompiledModel
        return inner
    if isinstance(model, dict):
        return Model.from_dict(model)
    if isinstance(model, (str, os.PathLike)):
        return Model.from_yaml(model)
    raise TypeError(f"expected a Model, a dict or a path to a YAML model, "
                    f"got {type(model).__name__}")
