"""The one error a rule can have: what is wrong, where in the rule, and which field it names."""

from __future__ import annotations


class RuleError(ValueError):
    """A rule that cannot be compiled. `column` is 1-based in the rule's text (None: the whole
    rule); `field` is the field, event type or placeholder at fault, when there is one."""

    def __init__(self, message: str, column: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column
        self.field = field

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})" if self.column else self.message
