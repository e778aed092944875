"""Load campaign files: YAML -> merge onto the default catalog -> validate -> `CampaignSet`.

Merge semantics of a shop file with `extends: default` (kept deliberately shallow):
- `settings`: each key given replaces the default's;
- `campaigns.<id>` that exists in the default: each top-level field given (`steps`, `exit`,
  `entry`, `enabled`...) replaces the default's field as a whole (a `steps` list is not merged
  step by step); `enabled: false` switches a default campaign off;
- `campaigns.<id>` that does not exist in the default: a new campaign, written in full.
A file without `extends` is a complete catalog of its own.

Every error names the file and line of the value at fault (or of its parent when a field is
missing) and the field path: `acme.yaml:42: campaigns[abandoned_cart].steps[1].delay: ...`.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from services.triggers.campaigns.catalog import CampaignSet
from services.triggers.campaigns.model import CampaignFile
from services.triggers.campaigns.rules import check_file
from shared import yaml_source
from shared.yaml_source import (
    ConfigFilesError,
    ConfigIssue,
    Located,
    Path_,
    YamlSyntaxError,
    drop_subtree,
    issue_at,
    load_located,
)

DEFAULT_NAME = "default.yaml"
_KEYED = frozenset({"campaigns", "consumption_periods"})
"""Mappings whose keys are names chosen by the author: shown as `campaigns[id]`."""


class CampaignConfigError(ConfigFilesError):
    """All the problems found in a campaign file, one per line of the message."""


def format_path(path: Path_) -> str:
    return yaml_source.format_path(path, _KEYED)


def parse_campaigns(text: str, name: str, *, base: Located | None = None) -> CampaignSet:
    """Validate one file's text; a file with `extends: default` is merged onto `base`."""
    return CampaignSet.from_file(_validate(_merged(text, name, base)))


def load_campaigns(path: Path) -> CampaignSet:
    """A shop's campaign file, merged onto the default catalog when it extends it."""
    return parse_campaigns(path.read_text(encoding="utf-8"), path.name, base=_default_source())


@cache
def default_campaigns() -> CampaignSet:
    """The catalog shipped with Nudge (`default.yaml` next to this module)."""
    return CampaignSet.from_file(_validate(_default_source()))


@cache
def _default_source() -> Located:
    text = resources.files(__package__).joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return _parse(text, DEFAULT_NAME)


def _parse(text: str, name: str) -> Located:
    try:
        located = load_located(text, name)
    except YamlSyntaxError as exc:
        raise CampaignConfigError([ConfigIssue(name, exc.line, "", exc.message)]) from None
    if located.duplicates:
        raise CampaignConfigError(
            [
                ConfigIssue(file, line, format_path(path), "written twice in the same mapping")
                for path, file, line in located.duplicates
            ]
        )
    if not isinstance(located.data, dict):
        raise CampaignConfigError([ConfigIssue(name, 1, "", "a campaign file is a mapping")])
    return located


def _merged(text: str, name: str, base: Located | None) -> Located:
    shop = _parse(text, name)
    extends = shop.data.get("extends")
    if extends is None:
        return shop
    if extends != "default" or base is None:
        line = shop.origin(("extends",))
        raise CampaignConfigError(
            [ConfigIssue(name, line[1] if line else None, "extends", "only 'default' exists")]
        )
    return _merge(base, shop)


def _merge(base: Located, shop: Located) -> Located:
    data: dict[str, Any] = {k: v for k, v in base.data.items() if k != "extends"}
    origins = dict(base.origins)
    for key, value in shop.data.items():
        if key in ("settings", "campaigns") and isinstance(value, dict):
            merged = dict(data.get(key) or {})
            for inner, part in value.items():
                if key == "campaigns" and isinstance(part, dict):
                    known = merged.get(inner)
                    part = {**known, **part} if isinstance(known, dict) else part
                merged[inner] = part
            data[key] = merged
        else:
            data[key] = value
    for path, origin in shop.origins.items():
        if _replaced(path):
            drop_subtree(origins, path)
        origins[path] = origin
    return Located(data, origins)


def _replaced(path: Path_) -> bool:
    """Paths whose value a shop file replaces as a whole (see the module's merge rules)."""
    if path[:1] == ("campaigns",):
        return len(path) == 3
    if path[:1] == ("settings",):
        return len(path) == 2
    return len(path) == 1


def _validate(source: Located) -> CampaignFile:
    try:
        config = CampaignFile.model_validate(source.data)
    except ValidationError as exc:
        raise CampaignConfigError(_issues(source, exc)) from None
    findings = check_file(config)
    if findings:
        raise CampaignConfigError([_issue(source, loc, msg) for loc, msg in findings])
    return config


def _issues(source: Located, exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"]
        if error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        elif error["type"] == "literal_error" or error["type"] == "enum":
            message = f"{message}, got '{error.get('input')}'"
        issues.append(_issue(source, loc, message))
    return issues


def _issue(source: Located, loc: Path_, message: str) -> ConfigIssue:
    return issue_at(source, loc, message, _KEYED)
