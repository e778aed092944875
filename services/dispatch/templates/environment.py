"""The Jinja2 environment: sandboxed, strict, served from memory, resolving along locale chains.

Template names are internal: "<chain shop>|<chain locale>|<root>|<folder locale>|<path>". The
first two say which chain `{% extends %}`, `{% include %}` and `{% import %}` resolve along (the
shop and the locale the message is rendered in), the rest which file was found. So a shop can
override a layout or the macros for all its templates, a Dutch template gets the Dutch macros,
and nothing is read from disk after load.
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping
from typing import Any, Final

from jinja2 import BaseLoader, Environment, StrictUndefined, Template, TemplateNotFound
from jinja2.environment import TemplateModule
from jinja2.runtime import Context, Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.dispatch.templates.filters import FILTERS
from services.dispatch.templates.sources import DirKey, SourceTree

_SEP: Final = "|"

Resolver = Callable[[str, str, str], DirKey | None]
"""(chain shop, chain locale, relative path) -> the folder that has the file."""


def template_name(chain_shop: str, chain_locale: str, key: DirKey, relpath: str) -> str:
    return _SEP.join((chain_shop, chain_locale, key.root, key.locale, relpath))


def split_name(name: str) -> tuple[str, str, DirKey, str]:
    chain_shop, chain_locale, root, locale, relpath = name.split(_SEP, 4)
    return chain_shop, chain_locale, DirKey(root, locale), relpath


def display_name(name: str) -> str:
    if name.count(_SEP) < 4:
        return name
    _, _, key, relpath = split_name(name)
    return key.display(relpath)


class _MemoryLoader(BaseLoader):
    def __init__(self, tree: SourceTree) -> None:
        self._files = tree.files

    def get_source(
        self, environment: Environment, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        if template.count(_SEP) < 4:
            raise TemplateNotFound(template)
        _, _, key, relpath = split_name(template)
        source = self._files.get(key, {}).get(relpath)
        if source is None:
            raise TemplateNotFound(key.display(relpath))
        return source, template, lambda: True


class NudgeEnvironment(ImmutableSandboxedEnvironment):
    """Immutable sandbox: no internals (`__class__`...), no mutating the variables either."""

    def __init__(self, tree: SourceTree, resolve: Resolver) -> None:
        super().__init__(
            loader=_MemoryLoader(tree),
            autoescape=lambda name: (name or "").endswith(".html.j2"),
            undefined=StrictUndefined,
            finalize=_refuse_none,
            trim_blocks=True,
            lstrip_blocks=True,
            auto_reload=False,
            cache_size=-1,
        )
        self._resolve = resolve
        self._loaded: dict[tuple[str, str | None], Template] = {}
        self.filters.update(FILTERS)

    # Nothing changes after load, and a message renders about seven templates (its parts, their
    # layouts, imports and includes), so the lookups Jinja repeats per render are done once.

    def make_globals(self, d: MutableMapping[str, Any] | None) -> MutableMapping[str, Any]:
        """A plain dict, not Jinja's ChainMap over the environment's globals: each render
        copies the globals into a new context, and a ChainMap copies several times slower.
        The environment's globals are not changed after load, so nothing is missed."""
        return {**self.globals, **(d or {})}

    def get_template(
        self,
        name: str | Template,
        parent: str | None = None,
        globals: MutableMapping[str, Any] | None = None,
    ) -> Template:
        """The `{% extends %}`, `{% import %}` and `{% include %}` of a render, remembered."""
        if globals is not None or not isinstance(name, str):
            return super().get_template(name, parent, globals)
        key = (name, parent)
        template = self._loaded.get(key)
        if template is None:
            template = self._loaded[key] = super().get_template(name, parent)
        return template

    def getattr(self, obj: Any, attribute: str) -> Any:
        """`order.total` on the plain dicts templates see: the key first. Jinja looks for an
        attribute first and for the key only after an AttributeError, in the sandbox at the
        cost of a raised exception per dotted name, the largest share of rendering. A name
        that is no key still finds the (sandbox-checked) attribute, as before."""
        if type(obj) is dict:
            try:
                return obj[attribute]
            except KeyError:
                pass
        elif type(obj) is TemplateModule and not attribute.startswith("_"):
            try:  # a macro of an imported module (`m.button`): what it exports, nothing else
                return obj.__dict__[attribute]
            except KeyError:
                pass
        return super().getattr(obj, attribute)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        """A template's own macro (`m.button(...)`) is called directly: the sandbox's checks
        and Jinja's argument inspection are for Python callables, and cost more than a small
        macro's body. Everything else goes through them, as before."""
        if type(obj) is Macro:
            kwargs.pop("_block_vars", None)  # what Context.call strips before calling
            kwargs.pop("_loop_vars", None)
            return obj(*args, **kwargs)
        return super().call(context, obj, *args, **kwargs)

    def join_path(self, template: str, parent: str) -> str:
        """Resolve a partial along the parent's chain (shop override, then built-in)."""
        if parent.count(_SEP) < 4:
            return template
        chain_shop, chain_locale, _, _ = split_name(parent)
        key = self._resolve(chain_shop, chain_locale, template)
        if key is None:
            return f"missing partial {template!r}"
        return template_name(chain_shop, chain_locale, key, template)


def _refuse_none(value: Any) -> Any:
    """Never print "None": a template must say what to show instead (`| default(...)`)."""
    if value is None:
        raise ValueError("a value is None; guard it with {% if %} or | default(...)")
    return value
