"""The template store: load and check every template once, then render messages purely.

Resolution for (shop, template, channel, locale): the shop's folder for the locale, its
language (nl for nl-NL), the fallback locale; then the built-in templates in the same order,
ending with "en". The first folder that has the template supplies all its parts, and its locale
is the message's (`locale_used`): dates, money and partials follow it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Final

from jinja2 import TemplateError, TemplateSyntaxError, meta

from services.dispatch.templates.environment import (
    NudgeEnvironment,
    display_name,
    template_name,
)
from services.dispatch.templates.errors import RenderError, TemplateLoadError
from services.dispatch.templates.filters import LOCALE_VARIABLE, RENDERING_LOCALE
from services.dispatch.templates.sms import Encoding, measure
from services.dispatch.templates.sources import (
    BUILTIN,
    Channel,
    DirKey,
    SourceTree,
    TemplateFiles,
    missing_parts,
    read_tree,
)

_BLANK_LINES: Final = re.compile(r"\n{3,}")
_MAX_REMEMBERED: Final = 10_000
_Found = tuple[str, DirKey, TemplateFiles]
"""Where a template resolved: the chain's shop, the folder and the template's files."""


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    locale_used: str
    template_id: str


@dataclass(frozen=True, slots=True)
class RenderedSms:
    body: str
    encoding: Encoding
    segments: int
    locale_used: str


class TemplateStore:
    """Built-in templates plus per-shop overrides, all compiled and checked at load."""

    def __init__(self, tree: SourceTree, fallback_locale: str) -> None:
        self._tree = tree
        self._fallback = fallback_locale
        self._resolved: dict[tuple[str, str, str], DirKey | None] = {}
        self._found: dict[tuple[str, str, Channel, str | None], _Found | None] = {}
        self._exists: dict[tuple[str, str, Channel], bool] = {}
        self._env = NudgeEnvironment(tree, self._resolve)

    @classmethod
    def load(cls, shop_dir: Path | None = None, fallback_locale: str = "en") -> TemplateStore:
        """Read and compile everything; raise TemplateLoadError listing every problem."""
        tree = read_tree(shop_dir)
        store = cls(tree, fallback_locale)
        problems = tree.problems + store._check()
        if problems:
            raise TemplateLoadError(problems)
        return store

    def has(
        self, shop_id: str, template_id: str, channel: Channel, locale: str | None = None
    ) -> bool:
        """Whether the template exists for the shop: for `locale` (with fallbacks) if given,
        else in any locale."""
        if locale is not None:
            return self._find(shop_id, template_id, channel, locale) is not None
        memo = (self._chain_shop(shop_id), template_id, channel)
        exists = self._exists.get(memo)
        if exists is None:
            exists = self._exists[memo] = any(
                (template_id, channel) in self._tree.templates[key]
                for root in (memo[0], BUILTIN)
                for key in self._tree.locales.get(root, {}).values()
            )
        return exists

    def listing(self) -> list[tuple[str, str, str, Channel]]:
        """(root, locale, template id, channel) of every template; root "@builtin" or a shop."""
        return sorted(
            (key.root, key.locale, template_id, channel)
            for key, templates in self._tree.templates.items()
            for template_id, channel in templates
        )

    def render_email(
        self, shop_id: str, template_id: str, locale: str | None, variables: Mapping[str, Any]
    ) -> RenderedEmail:
        chain_shop, key, entry = self._require(shop_id, template_id, "email", locale)
        parts = {
            part: self._render(chain_shop, key, entry, part, variables)
            for part in ("subject", "html", "text")
        }
        subject = " ".join(parts["subject"].split())
        if not subject:
            raise RenderError(template_id, "email", "the subject is empty", where=key.display())
        return RenderedEmail(
            subject=subject,
            html=parts["html"].strip() + "\n",
            text=_tidy(parts["text"]) + "\n",
            locale_used=key.locale,
            template_id=template_id,
        )

    def render_sms(
        self,
        shop_id: str,
        template_id: str,
        locale: str | None,
        variables: Mapping[str, Any],
        *,
        finish: Callable[[str], str] | None = None,
    ) -> RenderedSms:
        """`finish` changes the body before it is measured (click tracking of the links the
        template typed: services/dispatch/links.py), so the parts limit holds for what is sent."""
        chain_shop, key, entry = self._require(shop_id, template_id, "sms", locale)
        body = _tidy(self._render(chain_shop, key, entry, "sms", variables))
        if finish is not None:
            body = finish(body)
        size = measure(body)
        where = key.display(entry.parts["sms"])
        if not body:
            raise RenderError(template_id, "sms", "the message is empty", where=where)
        if size.segments > entry.max_segments:
            detail = (
                f"{size.segments} SMS parts ({size.encoding}, {size.units} units) is over the "
                f"maximum of {entry.max_segments}"
            )
            raise RenderError(template_id, "sms", detail, where=where)
        return RenderedSms(body, size.encoding, size.segments, key.locale)

    def _chain_shop(self, shop_id: str) -> str:
        """Shops without their own folder share one chain (and one template cache)."""
        return shop_id if shop_id in self._tree.locales and shop_id != BUILTIN else ""

    def _find(
        self, shop_id: str, template_id: str, channel: Channel, locale: str | None
    ) -> _Found | None:
        """Remembered: the store never changes once loaded, and every message asks (bounded,
        as locales come from contacts)."""
        chain_shop = self._chain_shop(shop_id)
        memo = (chain_shop, template_id, channel, locale)
        if memo in self._found:
            return self._found[memo]
        found = None
        for key in self._tree.chain(chain_shop, locale, self._fallback):
            entry = self._tree.templates[key].get((template_id, channel))
            if entry is not None:
                found = chain_shop, key, entry
                break
        if len(self._found) >= _MAX_REMEMBERED:
            self._found.clear()
        self._found[memo] = found
        return found

    def _require(
        self, shop_id: str, template_id: str, channel: Channel, locale: str | None
    ) -> _Found:
        found = self._find(shop_id, template_id, channel, locale)
        if found is None:
            detail = f"no {channel} template for shop {shop_id!r}, locale {locale or '-'}"
            raise RenderError(template_id, channel, detail)
        return found

    def _resolve(self, chain_shop: str, chain_locale: str, relpath: str) -> DirKey | None:
        memo = (chain_shop, chain_locale, relpath)
        if memo not in self._resolved:
            chain = self._tree.chain(chain_shop, chain_locale, self._fallback)
            self._resolved[memo] = next((k for k in chain if relpath in self._tree.files[k]), None)
        return self._resolved[memo]

    def _render(
        self,
        chain_shop: str,
        key: DirKey,
        entry: TemplateFiles,
        part: str,
        variables: Mapping[str, Any],
    ) -> str:
        name = template_name(chain_shop, key.locale, key, entry.parts[part])
        try:
            rendering = RENDERING_LOCALE.set(key.locale)
            try:
                template = self._env.get_template(name)
                return template.render({**variables, LOCALE_VARIABLE: key.locale})
            finally:
                RENDERING_LOCALE.reset(rendering)
        except Exception as exc:  # whatever fails, the message is not sent: say why
            detail = exc.message if isinstance(exc, TemplateError) and exc.message else str(exc)
            where = _template_frame(exc.__traceback__) or display_name(name)
            raise RenderError(entry.template_id, entry.channel, detail, where=where) from exc

    def _check(self) -> list[str]:
        """Every file compiles, every email has all its parts, every partial it names exists."""
        problems: list[str] = []
        for key, templates in self._tree.templates.items():
            for entry in templates.values():
                if missing := missing_parts(entry):
                    problems.append(
                        f"{key.display(entry.template_id)}: an email needs subject, html and "
                        f"text parts; missing {', '.join(missing)}"
                    )
        for key, files in self._tree.files.items():
            chain_shop = "" if key.root == BUILTIN else key.root
            for relpath, source in files.items():
                problems.extend(self._check_file(chain_shop, key, relpath, source))
        return problems

    def _check_file(self, chain_shop: str, key: DirKey, relpath: str, source: str) -> list[str]:
        where = key.display(relpath)
        try:
            self._env.get_template(template_name(chain_shop, key.locale, key, relpath))
            references = meta.find_referenced_templates(self._env.parse(source))
        except TemplateSyntaxError as exc:
            return [f"{where}:{exc.lineno}: {exc.message}"]
        problems = []
        for reference in references:
            if reference is None:
                problems.append(f"{where}: extends/include/import must name a fixed file")
            elif self._resolve(chain_shop, key.locale, reference) is None:
                problems.append(f"{where}: {reference!r} not found for locale {key.locale}")
        return problems


def _tidy(text: str) -> str:
    """Plain text as a person would type it: no trailing spaces, at most one blank line.
    (Line by line: a regular expression for trailing spaces tries a match at every space.)"""
    text = "\n".join(line.rstrip(" \t") for line in text.strip().split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def _template_frame(tb: TracebackType | None) -> str | None:
    """The innermost template line in a traceback Jinja rewrote, e.g. "builtin/en/x.text.j2:4"."""
    found = None
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.count("|") >= 4:
            found = f"{display_name(filename)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found
