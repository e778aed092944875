"""Segment files: the shipped `segments/default.yaml` for every shop, and `<shop_id>.yaml` files
that change it for one shop.

A shop file always builds on the shipped file (there is no `extends:`):
- `currency`: replaces the shipped value (none);
- `lifecycle`, `rfm`: each key given replaces the shipped one;
- `segments.<id>` that ships: each field given (`when`, `version`, `description`,
  `enabled`) replaces the shipped field; `enabled: false` switches the segment off;
- `segments.<id>` that does not ship: a new segment (`when` is required).

Every rule is compiled when the files are loaded. Every problem names the file and line of the
value at fault and the field path: `acme.yaml:12: segments[vip].when: unknown field 'revnue'
(did you mean 'revenue'?) (column 1)`; all the files' problems are reported together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import ValidationError

from services.segmenter.lifecycle import LifecycleRules
from services.segmenter.profiles.model import Membership
from services.segmenter.rfm.settings import RfmSettings
from services.segmenter.rules.errors import RuleError
from services.segmenter.rules.evaluate import Rule, Verdict, compile_rule, evaluate, expand
from services.segmenter.rules.model import SegmentFile
from services.segmenter.rules.subject import Subject
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

DEFAULT_NAME: Final = "default.yaml"
_PACKAGE: Final = "services.segmenter.segments"
_KEYED: Final = frozenset({"segments"})
_MERGED: Final = ("lifecycle", "rfm", "segments")


class SegmentConfigError(ConfigFilesError):
    """All the problems found in segment files, one per line of the message."""


@dataclass(frozen=True, slots=True)
class Answers:
    verdicts: dict[str, Verdict]
    """Per segment id the shop defines for this customer (templates expanded)."""
    versions: dict[str, int]
    """The rule version of each id in `verdicts`."""


@dataclass(frozen=True)
class ShopSegments:
    currency: str | None
    lifecycle: LifecycleRules
    rfm: RfmSettings
    rules: tuple[Rule, ...]
    """The enabled rules: plain ones first, then templates, each group in file order."""
    fingerprint: str = field(default="", compare=False)
    """Changes with anything that can change an answer: rules, versions, currency, lifecycle
    and RFM settings."""

    def evaluate(
        self,
        subject: Subject,
        now: float,
        memberships: Mapping[str, Membership] | None = None,
    ) -> Answers:
        """Every rule's answer; templates give one per category or brand (see `expand`), and
        end the memberships they own that no name gives any more."""
        verdicts: dict[str, Verdict] = {}
        versions: dict[str, int] = {}
        for rule in self.rules:
            if rule.template is None:
                verdicts[rule.segment_id] = evaluate(rule, subject, now)
                versions[rule.segment_id] = rule.version
            else:
                for segment_id, verdict in expand(rule, subject, now, memberships).items():
                    verdicts[segment_id] = verdict
                    versions[segment_id] = rule.version
        return Answers(verdicts, versions)

    def rule_for(self, segment_id: str) -> Rule | None:
        """The rule that gives `segment_id` (a plain one, or the template that owns it)."""
        for rule in self.rules:
            if rule.segment_id == segment_id and rule.template is None:
                return rule
        for rule in self.rules:
            if rule.template is not None and rule.template.owns(segment_id):
                return rule
        return None


@dataclass(frozen=True)
class SegmentCatalog:
    default: ShopSegments = field(default_factory=lambda: _shipped())
    shops: Mapping[str, ShopSegments] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None) -> SegmentCatalog:
        """The shipped segments, and the `<shop_id>.yaml` files in `directory`."""
        default = default_segments()
        if directory is None:
            return cls(default)
        shops: dict[str, ShopSegments] = {}
        issues: list[ConfigIssue] = []
        for path in sorted(directory.glob("*.yaml")):
            try:
                shops[path.stem] = load_segments(path)
            except SegmentConfigError as exc:
                issues.extend(exc.issues)
        if issues:
            raise SegmentConfigError(issues)
        return cls(default, shops)

    def for_shop(self, shop_id: str) -> ShopSegments:
        return self.shops.get(shop_id, self.default)


def load_segments(path: Path) -> ShopSegments:
    """A shop's file, on top of the shipped segments."""
    return parse_segments(path.read_text(encoding="utf-8"), path.name)


def parse_segments(text: str, name: str) -> ShopSegments:
    return _build(_merge(_default_source(), _parse(text, name)))


@cache
def default_segments() -> ShopSegments:
    """The shipped segments (`segments/default.yaml`), for a shop without a file."""
    return _build(_default_source())


def _shipped() -> ShopSegments:
    return default_segments()


@cache
def _default_source() -> Located:
    text = resources.files(_PACKAGE).joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return _parse(text, DEFAULT_NAME)


def format_path(path: Path_) -> str:
    return yaml_source.format_path(path, _KEYED)


def _parse(text: str, name: str) -> Located:
    try:
        located = load_located(text, name)
    except YamlSyntaxError as exc:
        raise SegmentConfigError([ConfigIssue(name, exc.line, "", exc.message)]) from None
    if located.duplicates:
        raise SegmentConfigError(
            [
                ConfigIssue(file, line, format_path(path), "written twice in the same mapping")
                for path, file, line in located.duplicates
            ]
        )
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raise SegmentConfigError([ConfigIssue(name, 1, "", "a segment file is a mapping")])
    return located


def _merge(base: Located, shop: Located) -> Located:
    """The shop's file on top of the shipped one (see the module's merge rules)."""
    data: dict[str, Any] = dict(base.data)
    origins = dict(base.origins)
    for key, value in shop.data.items():
        known = data.get(key)
        if key in _MERGED and isinstance(value, dict) and isinstance(known, dict):
            merged = dict(known)
            for inner, part in value.items():
                old = merged.get(inner)
                if key == "segments" and isinstance(part, dict) and isinstance(old, dict):
                    part = {**old, **part}
                merged[inner] = part
            data[key] = merged
        else:
            data[key] = value
    for path, origin in shop.origins.items():
        if _replaced(path, base.data):
            drop_subtree(origins, path)
        origins[path] = origin
    return Located(data, origins)


def _replaced(path: Path_, base: Any) -> bool:
    if not path:
        return False
    if path[0] in _MERGED and isinstance(base.get(path[0]), dict):
        depth = 3 if path[0] == "segments" else 2
        return len(path) == depth or (len(path) < depth and not _exists(base, path))
    return len(path) == 1


def _exists(base: Any, path: Path_) -> bool:
    node = base
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def _build(source: Located) -> ShopSegments:
    try:
        config = SegmentFile.model_validate(source.data)
    except ValidationError as exc:
        raise SegmentConfigError(_issues(source, exc)) from None
    issues: list[ConfigIssue] = []
    plain: list[Rule] = []
    templates: list[Rule] = []
    for segment_id, spec in config.segments.items():
        if not spec.enabled:
            continue
        where = ("segments", segment_id)
        if spec.when is None:
            issues.append(_issue(source, (*where, "when"), "a segment needs a rule (`when:`)"))
            continue
        try:
            rule = _compiled(segment_id, spec.when, spec.version, spec.description)
        except RuleError as exc:
            issues.append(_issue(source, (*where, "when"), str(exc)))
            continue
        except ValueError as exc:
            issues.append(_issue(source, where, str(exc)))
            continue
        (plain if rule.template is None else templates).append(rule)
    issues.extend(_clashes(source, plain, templates))
    if issues:
        raise SegmentConfigError(issues)
    rules = (*plain, *templates)
    return ShopSegments(
        config.currency, config.lifecycle, config.rfm, rules, _fingerprint(config, rules)
    )


@cache
def _compiled(segment_id: str, when: str, version: int, description: str) -> Rule:
    """Each shop file repeats the shipped rules: each distinct rule is compiled once."""
    return compile_rule(segment_id, when, version, description)


def _clashes(source: Located, plain: list[Rule], templates: list[Rule]) -> list[ConfigIssue]:
    """Ids of two segments that could be the same: a plain id a template gives, or two
    templates that could give the same id."""
    found: list[ConfigIssue] = []
    for position, rule in enumerate(templates):
        assert rule.template is not None
        where = ("segments", rule.segment_id)
        for other in plain:
            if rule.template.owns(other.segment_id):
                found.append(
                    _issue(
                        source,
                        ("segments", other.segment_id),
                        f"the template {rule.segment_id} gives this id too: rename one",
                    )
                )
        for other in templates[:position]:
            assert other.template is not None
            if rule.template.overlaps(other.template):
                found.append(
                    _issue(source, where, f"overlaps the template {other.segment_id}: rename one")
                )
    return found


def _fingerprint(config: SegmentFile, rules: tuple[Rule, ...]) -> str:
    parts = [
        config.currency or "",
        config.lifecycle.model_dump_json(),
        config.rfm.model_dump_json(),
        *(f"{rule.segment_id}\x1e{rule.version}\x1e{rule.fingerprint}" for rule in rules),
    ]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _issues(source: Located, exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"]
        if error["type"] == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        elif error["type"] == "extra_forbidden":
            message = "unknown field"
        issues.append(_issue(source, loc, message))
    return issues


def _issue(source: Located, loc: Path_, message: str) -> ConfigIssue:
    return issue_at(source, loc, message, _KEYED)
