"""YAML with the line of every value, so that a dictionary's errors say `file:line: field`.

PyYAML composes a node tree (with marks) and builds Python values from it; both are kept.
Only `true` and `false` are booleans and no value becomes a number or a date: a dictionary is
words, and YAML 1.1 would otherwise read `no` (Norwegian, or the word "no") as false and `404`
as a number. (The campaign files have their own reader in the triggers service; services share
no code but `shared`.)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_BOOL = "tag:yaml.org,2002:bool"
_NOT_RESOLVED = frozenset(
    {_BOOL, "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}
)


class _Loader(yaml.SafeLoader):
    """Safe loading; strings, lists, mappings, null, and `true` / `false` only."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _NOT_RESOLVED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), None)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Located:
    """A parsed document and where each path in it was written (1-based line)."""

    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    duplicates: list[tuple[Path_, int]] = field(default_factory=list)

    def line(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest written ancestor (for missing fields)."""
        for length in range(len(path), -1, -1):
            found = self.lines.get(path[:length])
            if found is not None:
                return found
        return None


def load_located(text: str) -> Located:
    """Parse one YAML document; raise YamlSyntaxError with the line of a syntax error."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise YamlSyntaxError(line, f"{exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(None, str(exc)) from None
    finally:
        loader.dispose()
    located = Located(data)
    if node is not None:
        _record(node, (), located)
    return located


def _record(node: yaml.Node, path: Path_, out: Located) -> None:
    out.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in keys:
                out.duplicates.append((child, key_node.start_mark.line + 1))
            keys.add(key)
            out.lines[child] = key_node.start_mark.line + 1
            _record(value_node, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*path, index), out)
