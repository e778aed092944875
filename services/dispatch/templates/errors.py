"""The two ways templates fail: at load (a broken file set) and at render (one message)."""

from __future__ import annotations

from collections.abc import Sequence


class TemplateLoadError(Exception):
    """The template files are not usable; lists every problem, each naming its file."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} template problem(s):\n  " + "\n  ".join(problems))


class RenderError(Exception):
    """One message could not be rendered, so it must not be sent; `reason` is for the record.

    `reason` reads like "cart/reminder-1.email: 'cart' is undefined
    (builtin/nl/cart/reminder-1.html.j2:12)": template, channel, what failed, where.
    """

    def __init__(
        self, template_id: str, channel: str, detail: str, *, where: str | None = None
    ) -> None:
        self.template_id = template_id
        self.channel = channel
        self.detail = detail
        self.where = where
        self.reason = f"{template_id}.{channel}: {detail}" + (f" ({where})" if where else "")
        super().__init__(self.reason)
