"""Offline validation of the AsyncAPI document: the official JSON Schema, then the references.

The JSON Schema of AsyncAPI 3.0.0 comes from npm's `@asyncapi/specs` at a pinned version, which
`make asyncapi-check` unpacks into .cache/asyncapi/ (nothing here touches the network). Its
`-without-$id` variant is used: every `$ref` in it is local, so it resolves with no download.
The schema cannot see whether a `$ref` points at something, nor whether an operation's messages
are its channel's, so `reference_problems` checks those (the parser in node/check.cjs does too).

    python -m services.catalog.validation [document]   # exit 1 and the problems if invalid
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import yaml
from jsonschema import Draft7Validator
from jsonschema.exceptions import (
    ValidationError,
    best_match,
)

from services.catalog.asyncapi import ASYNCAPI_VERSION, DOCUMENT_PATH
from services.schema_docs import ROOT

SPECS_PACKAGE: Final = "@asyncapi/specs"
SPECS_VERSION: Final = "6.11.1"
"""The release whose schema is the reference; mk/asyncapi.mk fetches the same (a test checks)."""
CACHE_DIR: Final = ROOT / ".cache" / "asyncapi"
SPECS_DIR: Final = CACHE_DIR / f"specs-{SPECS_VERSION}"
"""The npm package, unpacked."""
SCHEMA_PATH: Final = SPECS_DIR / "schemas" / "3.0.0-without-$id.json"


class SpecsMissing(RuntimeError):
    """The AsyncAPI JSON Schema has not been fetched into .cache/ yet."""


def metaschema(path: Path = SCHEMA_PATH) -> dict[str, Any]:
    """The AsyncAPI 3.0.0 JSON Schema, from the unpacked `@asyncapi/specs` package."""
    if not path.is_file():
        raise SpecsMissing(
            f"{path} is missing: `make asyncapi-check` fetches {SPECS_PACKAGE}@{SPECS_VERSION} "
            "with `npm pack` into .cache/asyncapi/"
        )
    schema: dict[str, Any] = json.loads(path.read_text())
    return schema


def _where(error: ValidationError) -> str:
    return ".".join(str(part) for part in error.absolute_path) or "(document)"


def schema_problems(document: Any, schema: dict[str, Any]) -> list[str]:
    """What the AsyncAPI JSON Schema refuses, one line each, naming the place.

    Most objects may also be a `$ref`, so the schema's first answer is often "not valid under
    any of the given schemas"; the most relevant reason from inside is added to it.
    """
    problems = []
    for error in sorted(Draft7Validator(schema).iter_errors(document), key=_where):
        reason = _reason(error)
        problems.append(f"{_where(reason)}: {reason.message}")
    return problems


def _reason(error: ValidationError) -> ValidationError:
    """The telling error inside a `oneOf`/`anyOf`: not the `$ref` alternative's complaint."""
    while error.context:
        inner = [
            e for e in error.context if not (e.validator == "required" and "'$ref'" in e.message)
        ]
        if not inner:
            break
        error = best_match(inner)
    return error


def _references(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str):
            yield path, ref
        for key, value in node.items():
            yield from _references(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _references(value, f"{path}.{index}")


def _target(document: Any, ref: str) -> Any:
    """The value a local `$ref` points at, or KeyError."""
    if not ref.startswith("#/"):
        raise KeyError(ref)
    node = document
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise KeyError(ref)
    return node


def reference_problems(document: Any) -> list[str]:
    """Every `$ref` resolves inside the document; every operation's messages are its channel's."""
    problems = []
    for path, ref in _references(document):
        try:
            _target(document, ref)
        except KeyError:
            problems.append(f"{path}: $ref {ref!r} points at nothing")
    operations = document.get("operations", {}) if isinstance(document, dict) else {}
    for name, operation in operations.items():
        channel = operation.get("channel", {}).get("$ref", "")
        for index, message in enumerate(operation.get("messages", [])):
            ref = message.get("$ref", "")
            if not ref.startswith(f"{channel}/messages/"):
                problems.append(
                    f"operations.{name}.messages.{index}: {ref!r} is not a message of its "
                    f"channel {channel!r}"
                )
    return problems


def validate(document: Any, schema: dict[str, Any] | None = None) -> list[str]:
    """Every problem with the document: the JSON Schema's, then the references'."""
    return schema_problems(document, schema or metaschema()) + reference_problems(document)


def load(path: Path) -> Any:
    """The document as YAML tools read it (plain YAML: no custom tags)."""
    return yaml.safe_load(path.read_text())


def main(argv: list[str]) -> int:
    path = Path(argv[0]) if argv else DOCUMENT_PATH
    try:
        problems = validate(load(path))
    except SpecsMissing as exc:
        print(exc, file=sys.stderr)
        return 1
    for problem in problems:
        print(f"{path}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(
        f"{path}: valid AsyncAPI {ASYNCAPI_VERSION} (the JSON Schema of "
        f"{SPECS_PACKAGE}@{SPECS_VERSION}; every reference resolves)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
