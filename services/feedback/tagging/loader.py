"""Load the tag dictionaries: the default one, and what each shop's feedback file changes.

The default is `default.yaml` beside this module, or the deployment's own file of the same
format (NUDGE_FEEDBACK_TAGS_FILE). A shop's `<shop_id>.yaml` in NUDGE_FEEDBACK_SHOPS_DIR may
name the shop's `language` and hold a `tags:` section; with `extends: default` (the default)
its tags change the default dictionary's (words added per tag and language, `replace: true`
to drop the default's, `false` to switch a tag off, new tags added), with `extends: none` they
are the whole dictionary. Every mistake is found when the service starts, all of them at
once, each naming the file, the line and the field:
`acme.yaml:12: tags.dictionary[shipping].nl.phrases[0]: 'laat' is not two words or more: ...`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from services.feedback.tagging.model import (
    TAG_OFF,
    TAG_ON,
    DictionaryFile,
    ShopFile,
    TagsSection,
    Words,
)
from services.feedback.tagging.yaml_lines import Located, Path_, YamlSyntaxError, load_located
from shared.yaml_source import ConfigFilesError, ConfigIssue

DEFAULT_NAME = "default.yaml"
Dictionary = Mapping[str, Mapping[str, Words]]
"""Tag id -> language -> the words that mark it."""
M = TypeVar("M", bound=BaseModel)
_SHAPES = frozenset({TAG_ON, TAG_OFF})
_NO_WORDS = Words.model_construct(keywords=(), phrases=(), exact=())
_OURS = frozenset({"language", "tags"})
"""The parts of a feedback shop file tagging reads (its other sections are others')."""


class TagConfigError(ConfigFilesError):
    """All the problems found in tag dictionaries, one per line of the message."""


@dataclass(frozen=True)
class ShopTagging:
    """What one shop's file says: its language, its own dictionary (None: the default)."""

    language: str | None = None
    dictionary: Dictionary | None = None


def parse_dictionary(text: str, name: str) -> Dictionary:
    """A dictionary file's text (the format of `default.yaml`)."""
    source = _parse(text, name)
    return _validated(DictionaryFile, source, name).dictionary


def load_dictionary(path: Path) -> Dictionary:
    return parse_dictionary(_read(path), path.name)


@cache
def default_dictionary() -> Dictionary:
    """The dictionary shipped with Nudge (`default.yaml` beside this module)."""
    text = resources.files(__package__).joinpath(DEFAULT_NAME).read_text(encoding="utf-8")
    return parse_dictionary(text, DEFAULT_NAME)


def parse_shop(text: str, name: str, base: Dictionary) -> ShopTagging:
    """A feedback shop file's `language` and `tags:` section, the section applied to `base`."""
    source = _parse(text, name, only=_OURS)
    if source.data is None:
        return ShopTagging()
    parsed = _validated(ShopFile, source, name)
    if parsed.tags is None:
        return ShopTagging(parsed.language)
    dictionary, findings = merge(base, parsed.tags)
    if findings:
        raise TagConfigError([_issue(source, name, ("tags", *loc), msg) for loc, msg in findings])
    return ShopTagging(parsed.language, dictionary)


def load_shop(path: Path, base: Dictionary) -> ShopTagging:
    return parse_shop(_read(path), path.name, base)


def load_shops(directory: Path | None, base: Dictionary) -> dict[str, ShopTagging]:
    """Every `<shop_id>.yaml` in `directory` that names a language or holds a `tags:` section;
    every file's problems are reported together."""
    shops: dict[str, ShopTagging] = {}
    issues: list[ConfigIssue] = []
    for path in sorted(directory.glob("*.yaml")) if directory is not None else []:
        try:
            found = load_shop(path, base)
        except TagConfigError as exc:
            issues.extend(exc.issues)
            continue
        if found != ShopTagging():
            shops[path.stem] = found
    if issues:
        raise TagConfigError(issues)
    return shops


def merge(base: Dictionary, section: TagsSection) -> tuple[Dictionary, list[tuple[Path_, str]]]:
    """`section` applied to `base` (see the module's rules), and what could not be applied."""
    extends = section.extends == "default"
    result: dict[str, dict[str, Words]] = (
        {tag: dict(languages) for tag, languages in base.items()} if extends else {}
    )
    findings: list[tuple[Path_, str]] = []
    for tag, change in section.dictionary.items():
        if change is False:
            if result.pop(tag, None) is None:
                findings.append(
                    (
                        ("dictionary", tag),
                        f"the default dictionary has no tag '{tag}' to switch off"
                        if extends
                        else "nothing to switch off: the section does not extend the default",
                    )
                )
            continue
        languages = result.setdefault(tag, {})
        for language, words in change.items():
            held = languages.get(language)
            kept = _NO_WORDS if words.replace or held is None else held
            merged = Words.model_construct(
                keywords=kept.keywords + words.keywords,
                phrases=kept.phrases + words.phrases,
                exact=kept.exact + words.exact,
            )
            if merged.is_empty():
                languages.pop(language, None)
            else:
                languages[language] = merged
        if not languages:
            del result[tag]
    return result, findings


def format_path(path: Path_) -> str:
    text = ""
    for position, part in enumerate(path):
        keyed = position > 0 and _is_dictionary(path, position - 1)
        if isinstance(part, int) or keyed:
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TagConfigError([ConfigIssue(path.name, None, "", f"cannot be read: {exc}")]) from None


def _parse(text: str, name: str, *, only: frozenset[str] | None = None) -> Located:
    try:
        located = load_located(text)
    except YamlSyntaxError as exc:
        raise TagConfigError([ConfigIssue(name, exc.line, "", exc.message)]) from None
    duplicates = [
        (path, line)
        for path, line in located.duplicates
        if only is None or (path and path[0] in only)
    ]
    if duplicates:
        raise TagConfigError(
            [
                ConfigIssue(name, line, format_path(path), "written twice in the same mapping")
                for path, line in duplicates
            ]
        )
    if located.data is not None and not isinstance(located.data, dict):
        raise TagConfigError([ConfigIssue(name, 1, "", "the file is not a mapping")])
    return located


def _validated(model: type[M], source: Located, name: str) -> M:
    try:
        return model.model_validate(source.data if source.data is not None else {})
    except ValidationError as exc:
        raise TagConfigError(_issues(source, name, exc)) from None


def _issues(source: Located, name: str, exc: ValidationError) -> list[ConfigIssue]:
    issues = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        message = error["msg"]
        kind = error["type"]
        if kind == "value_error":
            message = str(error.get("ctx", {}).get("error", message))
        elif kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "missing":
            message = "required"
        elif kind == "dict_type" and loc[-1:] == (TAG_ON,):
            message = "a tag is a mapping of languages to words, or false to switch it off"
        elif kind in ("literal_error", "enum", "string_type", "bool_parsing"):
            message = f"{message}, got {_shown(error.get('input'))}"
        issues.append(_issue(source, name, loc, message))
    return issues


def _issue(source: Located, name: str, loc: tuple[Any, ...], message: str) -> ConfigIssue:
    path = _written(loc)
    return ConfigIssue(name, source.line(path), format_path(path), message)


def _written(loc: tuple[Any, ...]) -> Path_:
    """An error's path as the file has it: without the marks pydantic adds (a key's `[key]`,
    the shape of a shop's tag after its name)."""
    kept: list[str | int] = []
    for position, part in enumerate(loc):
        if part == "[key]" and position == len(loc) - 1:
            continue
        if part in _SHAPES and position >= 2 and _is_dictionary(loc, position - 2):
            continue
        kept.append(part)
    return tuple(kept)


def _is_dictionary(path: Sequence[Any], position: int) -> bool:
    """Whether `path[position]` is a section's `dictionary` (not a tag of that name)."""
    return path[position] == "dictionary" and position <= 1


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
