"""YAML loading that remembers where every value came from.

PyYAML's constructors throw positions away, so we compose the node graph with a SafeLoader
subclass and build the plain Python values ourselves, recording for each path (a tuple of
mapping keys and sequence indexes) the 1-based line/column where the value's *text* starts
and, for mapping entries, where the key is. The model loader uses these to point errors and
compiled expressions back at the file.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

__all__ = ["Pos", "Loaded", "PositionLoader", "load_yaml", "load_yaml_file", "model_error"]

Path_ = tuple  # a path into the loaded value: ("scores", "fit", "rules", 0, "when")


@dataclass(frozen=True)
class Pos:
    line: int  # 1-based; 0 = unknown
    col: int   # 1-based; 0 = unknown
    raw: str | None = None  # a plain scalar's text as written (so `no` can stay a name)


@dataclass
class Loaded:
    value: Any
    source: str
    positions: dict = field(default_factory=dict)      # path → Pos of the value
    key_positions: dict = field(default_factory=dict)  # path → Pos of the mapping key

    def pos(self, path: Path_, key: bool = False) -> Pos:
        """Position of the value at ``path`` (or of its key); falls back to the nearest parent."""
        table = self.key_positions if key else self.positions
        while path:
            if path in table:
                return table[path]
            path = path[:-1]
        return self.positions.get((), Pos(0, 0))


def model_error(message: str):
    """A ModelError instance; imported lazily because the classes live in the Rust extension."""
    from leadscore_fast.errors import ModelError

    return ModelError(message)


def located(source: str, pos: Pos | None, message: str) -> str:
    if pos is not None and pos.line:
        return f"{source}:{pos.line}:{pos.col}: {message}"
    return f"{source}: {message}"


class PositionLoader(yaml.SafeLoader):
    """SafeLoader whose only job here is composing nodes (with marks); values are built by
    :func:`_build`, which records positions. Its messages are the ones errors quote."""


# libyaml's parser, when PyYAML was built with it, composes the same nodes with the same
# marks about 8x faster (a model file in ~2 ms rather than ~15 ms, which a fresh process
# pays before its first score); broken YAML is loaded again by PositionLoader for its words.
_FAST_LOADER = getattr(yaml, "CSafeLoader", PositionLoader)


_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


def load_yaml(text: str, source: str = "<string>", *, loader=None) -> Loaded:
    """Parse one YAML document. Broken YAML → ModelError("source:line:col: problem").
    ``loader``: the loader class that composes the nodes (default: libyaml's when at hand)."""
    loader = _FAST_LOADER if loader is None else loader
    if loader is not PositionLoader:
        try:
            return _load(loader, text, source)
        except yaml.YAMLError:
            pass  # loaded again below, for PositionLoader's message
    try:
        return _load(PositionLoader, text, source)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        pos = Pos(mark.line + 1, mark.column + 1) if mark else None
        raise model_error(located(source, pos, f"invalid YAML: {_yaml_problem(e, text)}")) from None
    except yaml.YAMLError as e:  # reader errors (bad characters) carry no problem_mark
        raise model_error(f"{source}: invalid YAML: {e}") from None


def _load(loader_class, text: str, source: str) -> Loaded:
    loader = loader_class(text)
    loaded = Loaded(None, source)
    try:
        node = loader.get_single_node()
        if node is not None:
            loaded.value = _build(loader, node, (), loaded, text)
    finally:
        loader.dispose()
    return loaded


def _yaml_problem(e, text: str) -> str:
    """PyYAML's problem in words a model writer acts on, with the parser's own words after."""
    problem = e.problem or e.context or "invalid YAML"
    raw = problem
    if e.context and e.problem and e.context_mark:
        raw += f" ({e.context} at line {e.context_mark.line + 1})"
    lines = text.splitlines()
    line = lines[e.problem_mark.line] if e.problem_mark and e.problem_mark.line < len(lines) else ""
    if problem.startswith("expected <block end>") or problem.startswith("did not find expected key"):
        where = f" the block that starts at line {e.context_mark.line + 1}" if e.context_mark else " its block"
        friendly = (f"this line is indented differently from{where}: keys of one mapping, and the "
                    "'-' items of one list, must start in the same column")
    elif problem.startswith("mapping values are not allowed"):
        friendly = ("a ':' YAML cannot read here: quote an expression that contains ': ' "
                    "(when: \"...\"), or start a new key on its own line")
    elif "found character '\\t'" in problem or "\t" in line[: len(line) - len(line.lstrip())]:
        friendly = "a tab in the indentation: YAML indents with spaces only"
    elif problem.startswith("could not find expected ':'"):
        friendly = "a line without 'key: value' (or a quote left open above it)"
    elif problem.startswith("found unexpected end of stream") or "end of stream" in problem:
        friendly = "the file ends inside a quoted string or a bracket: close it"
    else:
        return raw
    return f"{friendly} [YAML: {raw}]"


def load_yaml_file(path) -> Loaded:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise model_error(f"{path}: cannot read model: {reason}") from None
    return load_yaml(text, str(path))


def _build(loader: yaml.SafeLoader, node: yaml.Node, path: Path_, out: Loaded, text: str):
    out.positions[path] = _text_start(node, text)
    if isinstance(node, yaml.MappingNode):
        own = [k for k, _ in node.value if k.tag != _MERGE_TAG]
        seen: dict[str, yaml.Node] = {}
        for k in own:
            key = _key(k)
            if key in seen:
                first = seen[key].start_mark.line + 1
                raise yaml.MarkedYAMLError(
                    problem=f"duplicate key {key!r} (first defined at line {first})",
                    problem_mark=k.start_mark)
            seen[key] = k
        loader.flatten_mapping(node)  # resolves `<<:` merge keys; own keys come last and win
        result = {}
        for k, v in node.value:
            key = _key(k)
            out.key_positions[path + (key,)] = _text_start(k, text)
            result[key] = _build(loader, v, path + (key,), out, text)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, v, path + (i,), out, text) for i, v in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


def _key(node: yaml.Node) -> str:
    # Keys in a model are names: `no:` or `2024:` must stay the text written, never bool/int.
    if not isinstance(node, yaml.ScalarNode):
        raise yaml.MarkedYAMLError(problem="mapping keys must be plain names",
                                   problem_mark=node.start_mark)
    return node.value


def _text_start(node: yaml.Node, text: str) -> Pos:
    """1-based position where the node's text starts: past a quote, or for a block scalar
    (`|`, `>`) at the first non-blank character of its content."""
    mark = node.start_mark
    line, column = mark.line, mark.column
    raw = None
    if isinstance(node, yaml.ScalarNode):
        if node.style in ("'", '"'):
            column += 1
            lead = len(node.value) - len(node.value.lstrip(" "))
            column += lead  # leading spaces inside quotes are stripped from the expression
        elif node.style in ("|", ">"):
            line, column = _block_content_start(text, mark.index, line, column)
        elif not node.style:  # plain: None from PyYAML's parser, "" from libyaml's
            raw = node.value
    return Pos(line + 1, column + 1, raw)


def _block_content_start(text: str, index: int, line: int, column: int):
    nl = text.find("\n", index)
    while nl != -1:
        line += 1
        start = nl + 1
        nl = text.find("\n", start)
        row = text[start: nl if nl != -1 else len(text)]
        if row.strip():
            return line, len(row) - len(row.lstrip(" \t"))
    return line, column
