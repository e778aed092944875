"""The one error the analyst tools raise for what a user typed."""

from __future__ import annotations


class BadOption(ValueError):
    """A value given on the command line that the tools refuse; `option` names the option or
    argument (`--from`, `--shop`, `TOPIC`...), so the message can say which one to fix."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option}: {message}")
        self.option = option
        self.message = message
