"""Template files: read once at load, indexed by (root, locale folder), resolved along a chain.

Layout (see README.md): `<root>/<locale>/<template_id>.<part>.j2`, parts `subject`, `html`,
`text` (email) and `sms`; paths with a folder or file name starting with "_" are partials
(layouts, macros) that templates extend or import. Roots are the built-in folder and, per shop,
`<shop_dir>/<shop_id>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import yaml

Channel = Literal["email", "sms"]

BUILTIN: Final = "@builtin"
"""The root key of the shipped templates; "@" cannot start a shop id."""
BUILTIN_DIR: Final = Path(__file__).parent / "builtin"
DEFAULT_MAX_SEGMENTS: Final = 2

EMAIL_PARTS: Final = ("subject", "html", "text")
_SUFFIXES: Final[dict[str, tuple[Channel, str]]] = {
    ".subject.j2": ("email", "subject"),
    ".html.j2": ("email", "html"),
    ".text.j2": ("email", "text"),
    ".sms.j2": ("sms", "sms"),
}
_LOCALE_RE: Final = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_SHOP_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{1,62}$")
_TEMPLATE_ID_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_./-]{0,127}$")
_FRONT_MATTER_RE: Final = re.compile(r"\A---\n(.*?\n)---\n", re.DOTALL)


@dataclass(frozen=True, slots=True)
class DirKey:
    root: str
    """BUILTIN or a shop id."""
    locale: str
    """As the folder is named, e.g. "nl-NL"."""

    def display(self, relpath: str = "") -> str:
        root = "builtin" if self.root == BUILTIN else self.root
        return f"{root}/{self.locale}/{relpath}".rstrip("/")


@dataclass(slots=True)
class TemplateFiles:
    """One template for one channel in one folder: its part files and settings."""

    template_id: str
    channel: Channel
    parts: dict[str, str] = field(default_factory=dict)
    """Part name -> path relative to the locale folder."""
    max_segments: int = DEFAULT_MAX_SEGMENTS


@dataclass(slots=True)
class SourceTree:
    files: dict[DirKey, dict[str, str]] = field(default_factory=dict)
    templates: dict[DirKey, dict[tuple[str, Channel], TemplateFiles]] = field(default_factory=dict)
    locales: dict[str, dict[str, DirKey]] = field(default_factory=dict)
    """Root -> lower-case locale -> folder key, for case-insensitive lookup."""
    problems: list[str] = field(default_factory=list)

    def chain(self, shop_id: str, locale: str | None, fallback: str) -> list[DirKey]:
        """Existing folders in resolution order for a shop and a requested locale.

        Shop: locale, its shorter tags (nl-NL -> nl), fallback; then the same for the built-in
        templates, ending with "en".
        """
        tags = list(_tags(locale)) + list(_tags(fallback))
        found: list[DirKey] = []
        for root, extra in ((shop_id, []), (BUILTIN, ["en"])):
            folders = self.locales.get(root, {})
            for tag in tags + extra:
                key = folders.get(tag)
                if key is not None and key not in found:
                    found.append(key)
        return found


def _tags(locale: str | None) -> Iterator[str]:
    if not locale:
        return
    parts = locale.replace("_", "-").lower().split("-")
    for end in range(len(parts), 0, -1):
        yield "-".join(parts[:end])


def read_tree(shop_dir: Path | None) -> SourceTree:
    tree = SourceTree()
    _read_root(tree, BUILTIN, BUILTIN_DIR)
    if shop_dir is not None:
        if not shop_dir.is_dir():
            tree.problems.append(f"{shop_dir}: shop template folder does not exist")
        else:
            for path in sorted(_folders(shop_dir)):
                if _SHOP_RE.match(path.name):
                    _read_root(tree, path.name, path)
                else:
                    tree.problems.append(f"{path}: not a shop id (lower-case slug)")
    return tree


def _folders(path: Path) -> Iterator[Path]:
    """The folders in `path`, without hidden ones: a Kubernetes ConfigMap volume keeps its
    files under `..data` and a timestamped `..<date>` folder, beside links to them."""
    return (p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def _read_root(tree: SourceTree, root: str, path: Path) -> None:
    for folder in sorted(_folders(path)):
        if not _LOCALE_RE.match(folder.name):
            tree.problems.append(f"{folder}: not a locale folder (BCP 47, e.g. en, nl-NL)")
            continue
        key = DirKey(root, folder.name)
        tree.locales.setdefault(root, {})[folder.name.lower()] = key
        files, templates = tree.files.setdefault(key, {}), tree.templates.setdefault(key, {})
        for file in sorted(folder.rglob("*.j2")):
            relpath = file.relative_to(folder).as_posix()
            source = file.read_text(encoding="utf-8")
            _index(tree, key, relpath, source, files, templates)


def _index(
    tree: SourceTree,
    key: DirKey,
    relpath: str,
    source: str,
    files: dict[str, str],
    templates: dict[tuple[str, Channel], TemplateFiles],
) -> None:
    where = key.display(relpath)
    settings, source = _front_matter(source)
    files[relpath] = source
    if any(part.startswith("_") for part in relpath.split("/")):
        return
    suffix = next((s for s in _SUFFIXES if relpath.endswith(s)), None)
    if suffix is None:
        tree.problems.append(f"{where}: unknown part; name files <id>.subject|html|text|sms.j2")
        return
    template_id, (channel, part) = relpath[: -len(suffix)], _SUFFIXES[suffix]
    if not _TEMPLATE_ID_RE.match(template_id):
        tree.problems.append(f"{where}: {template_id!r} is not a valid template id")
        return
    entry = templates.setdefault((template_id, channel), TemplateFiles(template_id, channel))
    entry.parts[part] = relpath
    if settings is None:
        return
    if isinstance(settings, str):
        tree.problems.append(f"{where}: front matter: {settings}")
    elif channel != "sms" or set(settings) - {"max_segments"}:
        tree.problems.append(f"{where}: front matter only takes max_segments, in SMS templates")
    else:
        limit = settings.get("max_segments")
        if isinstance(limit, int) and not isinstance(limit, bool) and 1 <= limit <= 10:
            entry.max_segments = limit
        else:
            tree.problems.append(f"{where}: max_segments must be a whole number from 1 to 10")


def _front_matter(source: str) -> tuple[dict[str, object] | str | None, str]:
    """YAML between "---" lines at the top; replaced by blank lines so line numbers hold."""
    match = _FRONT_MATTER_RE.match(source)
    if match is None:
        return None, source
    blank = "\n" * match.group(0).count("\n")
    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        return f"not YAML: {exc}", blank + source[match.end() :]
    if not isinstance(data, dict):
        return "must be a mapping", blank + source[match.end() :]
    return {str(k): v for k, v in data.items()}, blank + source[match.end() :]


def missing_parts(entry: TemplateFiles) -> list[str]:
    if entry.channel == "sms":
        return []
    return [part for part in EMAIL_PARTS if part not in entry.parts]
