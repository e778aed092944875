"""YAML with a line number for every value, so errors can say `file:line: field: reason`
(the campaign files' and the segment files' loaders share it, and the issue type below).

PyYAML composes a node tree (with marks) and then builds Python values from it; we keep both.
The loader is YAML 1.1's safe loader minus sexagesimal numbers, so that `at: 10:00` stays the
text "10:00" instead of becoming the integer 600.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path_ = tuple[str | int, ...]

_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """Safe loading; numbers are decimal only (no base-60 `10:00`, no octal surprises)."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9_]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]+(?:[eE][-+]?[0-9]+)?$"),
    list("-+.0123456789"),
)


class YamlSyntaxError(ValueError):
    def __init__(self, line: int | None, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Located:
    """A parsed document and where each path in it was written (file name, 1-based line)."""

    data: Any
    origins: dict[Path_, tuple[str, int]] = field(default_factory=dict)
    duplicates: list[tuple[Path_, str, int]] = field(default_factory=list)

    def origin(self, path: Path_) -> tuple[str, int] | None:
        """The place of `path`, or of its nearest written ancestor (for missing fields)."""
        for length in range(len(path), -1, -1):
            found = self.origins.get(path[:length])
            if found is not None:
                return found
        return None


def load_located(text: str, name: str) -> Located:
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
        _record(node, (), name, located)
    return located


def _record(node: yaml.Node, path: Path_, name: str, out: Located) -> None:
    out.origins.setdefault(path, (name, node.start_mark.line + 1))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in keys:
                out.duplicates.append((child, name, key_node.start_mark.line + 1))
            keys.add(key)
            out.origins[child] = (name, key_node.start_mark.line + 1)
            _record(value_node, child, name, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record(item, (*path, index), name, out)


@dataclass(frozen=True)
class ConfigIssue:
    """One problem of a configuration file, where it was written."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigFilesError(ValueError):
    """All the problems found in configuration files, one per line of the message."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        super().__init__("\n".join(str(issue) for issue in issues))
        self.issues = tuple(issues)


def format_path(path: Path_, keyed: frozenset[str] = frozenset()) -> str:
    """`campaigns[welcome].steps[0].delay`: entries of the `keyed` mappings (names chosen by
    the author) and list positions in brackets."""
    text = ""
    for position, part in enumerate(path):
        by_name = position > 0 and path[position - 1] in keyed
        if isinstance(part, int) or by_name:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def drop_subtree(origins: dict[Path_, tuple[str, int]], path: Path_) -> None:
    """A replaced field must not keep the base file's lines for its old sub-fields."""
    for known in [p for p in origins if len(p) > len(path) and p[: len(path)] == path]:
        del origins[known]


def issue_at(
    source: Located, loc: Path_, message: str, keyed: frozenset[str] = frozenset()
) -> ConfigIssue:
    """A problem at `loc`, placed at the line where it (or its nearest parent) was written."""
    origin = source.origin(loc)
    file, line = origin if origin is not None else (None, None)
    return ConfigIssue(file or "?", line, format_path(loc, keyed), message)
