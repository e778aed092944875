"""Validate a compose file against the Compose Specification's JSON Schema, offline.

The schema is the copy check-jsonschema vendors (`--builtin-schema vendor.compose-spec`), read
from its package folder so that the tests get every error as data; the validation itself is
jsonschema's, as check-jsonschema's command line would do it.

    python -m tests.support.compose_schema deploy/compose/compose.yaml   (`make compose-check`)
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml


def schema_path() -> Path:
    """The vendored compose-spec.json inside the installed check-jsonschema."""
    spec = importlib.util.find_spec("check_jsonschema")
    if spec is None or spec.origin is None:
        raise RuntimeError("check-jsonschema is not installed (make venv)")
    return Path(spec.origin).parent / "builtin_schemas" / "vendor" / "compose-spec.json"


def load_compose(path: Path) -> Any:
    """The file as compose reads it: YAML with anchors and merge keys resolved."""
    return yaml.safe_load(path.read_text())


def schema_errors(document: Any) -> list[str]:
    """Every place the document breaks the schema, as `where: what`, or nothing."""
    schema = json.loads(schema_path().read_text())
    # draft-07, which the schema names as https://json-schema.org/draft-07/schema: a spelling
    # jsonschema does not look up, so the draft is given here.
    validator = jsonschema.Draft7Validator(schema)
    errors = []
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(part) for part in error.absolute_path) or "(top)"
        errors.append(f"{where}: {error.message}")
    return errors


def main(argv: list[str] | None = None) -> int:
    paths = [Path(arg) for arg in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m tests.support.compose_schema COMPOSE_FILE...", file=sys.stderr)
        return 2
    failed = False
    for path in paths:
        errors = schema_errors(load_compose(path))
        for error in errors:
            print(f"{path}: {error}", file=sys.stderr)
        failed = failed or bool(errors)
        if not errors:
            print(f"{path}: valid (Compose Specification)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
