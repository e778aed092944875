"""From a rule's text to a tree of predicates (`nodes`), checked against the vocabulary.

Every mistake is a RuleError naming the column and the field at fault: a syntax error (what
was expected instead), an unknown field, channel, event type, stage or placeholder, a value of
the wrong type for its field (`lifecycle > 3`, `orders >= "3"`, `last_order > 30d`), a window
that is empty, too long for the kept activity, or relative to an interval without a fallback.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken

from services.segmenter.lifecycle import Stage
from services.segmenter.profiles.facts import DAY_S
from services.segmenter.profiles.model import MAX_ACTIVITY_DAYS
from services.segmenter.rules import fields
from services.segmenter.rules.errors import RuleError
from services.segmenter.rules.fields import Field, Kind
from services.segmenter.rules.grammar import EXPECTED, parser
from services.segmenter.rules.nodes import (
    ActivityCount,
    All,
    Any_,
    Compare,
    Flag,
    Known,
    Node,
    Not,
    OneOf,
    StartsWith,
    TallyCount,
    TallyHas,
    TallyRef,
    TallyWithin,
    Within,
)
from services.segmenter.rules.spans import Extreme, Fixed, Scaled, Span, parse_fixed

LANGUAGE: Final = 1
"""Part of every fingerprint: bumped when the meaning of rules changes, so that the worker
evaluates every profile again."""
MAX_RULE: Final = 2_000
STAGES: Final = ", ".join(stage.value for stage in Stage)
_SOURCES: Final = {
    ("bought", "category"): "categories_bought",
    ("viewed", "category"): "categories_viewed",
    ("bought", "brand"): "brands_bought",
    ("viewed", "brand"): "brands_viewed",
}
_ORDERED: Final = ("<", "<=", ">", ">=")
_EXAMPLE: Final = {
    Kind.NUMBER: "a number, e.g. {name} >= 3",
    Kind.MONEY: "an amount in the shop's currency, e.g. {name} >= 100",
    Kind.TEXT: 'a quoted text, e.g. {name} = "de-DE"',
    Kind.DURATION: "a duration, e.g. {name} <= 30d",
}


@dataclass(frozen=True, slots=True)
class Compiled:
    node: Node
    sources: frozenset[str]
    """The profile lists a template is expanded over (empty for a plain rule)."""
    fingerprint: str


@dataclass
class _Scope:
    placeholder: str | None
    sources: set[str] = field(default_factory=set)


def compile_when(text: str, placeholder: str | None = None) -> Compiled:
    """Compile a `when:` text; `placeholder` is a template's (`category`, `brand`) or None."""
    if not text.strip():
        raise RuleError("the rule is empty")
    if len(text) > MAX_RULE:
        raise RuleError(f"the rule is longer than {MAX_RULE} characters")
    tree = _parse(text)
    scope = _Scope(placeholder)
    node = _Compiler(scope).node(tree)
    if placeholder is not None and not scope.sources:
        raise RuleError(
            f"a template's rule names {{{placeholder}}}, e.g. "
            f"count(bought {placeholder} {{{placeholder}}}) >= 2",
            None,
            f"{{{placeholder}}}",
        )
    canonical = f"{LANGUAGE}\x1f{placeholder or ''}\x1f{tree}"
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:16]
    return Compiled(node, frozenset(scope.sources), digest)


def _parse(text: str) -> Tree[Token]:
    try:
        return parser().parse(text)
    except UnexpectedToken as exc:
        at_end = exc.token.type == "$END"
        position = len(text) if at_end else exc.pos_in_stream
        expected = _expected(_accepted(text, position) or set(exc.expected))
        if at_end:
            raise RuleError(f"the rule ends too early: expected {expected}") from None
        raise RuleError(
            f"unexpected '{exc.token}': expected {expected}", exc.column, str(exc.token)
        ) from None
    except UnexpectedCharacters as exc:
        position = exc.pos_in_stream or 0
        found = re.match(r"\S+", text[position:])
        shown = found.group(0) if found else text[position:]
        accepted = _accepted(text, position)
        expected = f": expected {_expected(accepted)}" if accepted else ""
        raise RuleError(f"unexpected '{shown}'{expected}", exc.column, shown) from None
    except UnexpectedInput as exc:  # pragma: no cover - the LALR parser raises the two above
        raise RuleError(f"cannot read the rule: {exc}", getattr(exc, "column", None)) from None


def _accepted(text: str, position: int | None) -> set[str]:
    """What the parser would take after `text[:position]` (exact, unlike the LALR table's
    lookaheads); empty when that prefix cannot be read either."""
    if position is None:
        return set()
    try:
        interactive = parser().parse_interactive(text[:position])
        interactive.exhaust_lexer()
        return set(interactive.accepts())  # type: ignore[no-untyped-call]
    except UnexpectedInput:
        return set()


def _expected(names: set[str]) -> str:
    shown = sorted({EXPECTED.get(name, name.lower()) for name in names})
    return " or ".join(shown) if len(shown) <= 2 else ", ".join(shown[:-1]) + " or " + shown[-1]


def _column(item: Tree[Token] | Token) -> int | None:
    if isinstance(item, Token):
        return item.column
    for token in item.scan_values(lambda v: isinstance(v, Token)):
        return int(token.column) if token.column is not None else None
    return None


def _number(token: Token) -> Decimal:
    return Decimal(str(token))


def _text(token: Token) -> str:
    return str(token)[1:-1]


class _Compiler:
    def __init__(self, scope: _Scope) -> None:
        self.scope = scope

    def node(self, tree: Tree[Token]) -> Node:
        kind = str(tree.data)
        children: list[Any] = list(tree.children)
        if kind == "disj":
            return Any_(tuple(self.node(child) for child in children))
        if kind == "conj":
            return All(tuple(self.node(child) for child in children))
        if kind == "negation":
            return Not(self.node(children[0]))
        if kind in ("compare", "compare_is", "compare_is_not"):
            if kind == "compare":
                operand, op_token, value = children
                op = "=" if str(op_token) == "==" else str(op_token)
            else:
                operand, value = children
                op = "=" if kind == "compare_is" else "!="
            return self.compare(operand, op, value)
        if kind in ("one_of", "none_of"):
            found = self.one_of(children[0], children[1])
            return found if kind == "one_of" else Not(found)
        if kind == "starts_with":
            target = self.field_of(children[0], "starts with")
            if target.kind is not Kind.TEXT:
                raise self.mismatch(target, _column(children[0]), "starts with")
            return StartsWith(target, _text(children[1]))
        if kind in ("within", "not_within"):
            target = self.field_of(children[0], "within")
            if target.kind is not Kind.TIME:
                raise self.mismatch(target, _column(children[0]), "within")
            within = Within(target, self.window(children[1]))
            return within if kind == "within" else Not(within)
        if kind == "flag":
            return self.flag(children[0])
        if kind == "has":
            name = children[0]
            special = fields.HAS.get(str(name))
            if special is not None:
                return Flag(f"has {name}", special, f"no {name}")
            return Known(fields.known(str(name), name.column))
        if kind == "tally":
            return TallyHas(self.tally_ref(children[0], children[1], children[2]))
        if kind == "tally_within":
            ref = self.tally_ref(children[0], children[1], children[2])
            return TallyWithin(ref, self.window(children[3]))
        raise RuleError(f"cannot compile '{kind}'", _column(tree))  # pragma: no cover

    # -- operands and values --------------------------------------------------------------

    def field_of(self, operand: Tree[Token], usage: str) -> Field:
        if operand.data != "field":
            raise RuleError(
                f"count(...) is a number: compare it, e.g. count(...) > 2 (not {usage})",
                _column(operand),
                "count",
            )
        name: Token = operand.children[0]  # type: ignore[assignment]
        return fields.field(str(name), name.column)

    def compare(self, operand: Tree[Token], op: str, value: Token) -> Node:
        if operand.data == "activity_count":
            name, span = operand.children
            kind = fields.event_type(str(name), name.column)  # type: ignore[union-attr]
            days = self.count_window(span)  # type: ignore[arg-type]
            return ActivityCount(kind, days, op, self.count_value(value, f"count({kind}, ...)"))
        if operand.data == "tally_count":
            ref = self.tally_ref(*operand.children)  # type: ignore[arg-type]
            return TallyCount(ref, op, self.count_value(value, "count(...)"))
        target = self.field_of(operand, op)
        if target.kind is Kind.STAGE and op in _ORDERED:
            raise RuleError(
                f"{target.name} is a stage: use =, !=, is, is not or in (not {op})",
                _column(operand),
                target.name,
            )
        return Compare(target, op, self.literal(target, value))

    def one_of(self, operand: Tree[Token], values: Tree[Token]) -> Node:
        target = self.field_of(operand, "in")
        if target.kind in (Kind.TIME, Kind.FLAG, Kind.DURATION):
            raise self.mismatch(target, _column(operand), "in")
        listed = tuple(self.literal(target, v) for v in values.children)  # type: ignore[arg-type]
        return OneOf(target, listed)

    def literal(self, target: Field, value: Token) -> Any:
        kind, column = target.kind, value.column
        if kind in (Kind.TIME, Kind.FLAG):
            raise self.mismatch(target, column, "a comparison")
        if kind is Kind.STAGE:
            word = _text(value) if value.type == "STRING" else str(value)
            if value.type not in ("NAME", "STRING") or word not in Stage._value2member_map_:
                raise RuleError(
                    f"unknown stage '{word}' for {target.name} (stages: {STAGES})",
                    column,
                    target.name,
                )
            return Stage(word)
        wanted = {
            Kind.NUMBER: "NUMBER",
            Kind.MONEY: "NUMBER",
            Kind.TEXT: "STRING",
            Kind.DURATION: "DURATION",
        }[kind]
        if value.type != wanted:
            example = _EXAMPLE[kind].format(name=target.name)
            raise RuleError(
                f"{target.name} is compared with {example} (not '{value}')", column, target.name
            )
        if kind is Kind.TEXT:
            return _text(value)
        if kind is Kind.DURATION:
            return parse_fixed(str(value))
        return _number(value)

    def count_value(self, value: Token, what: str) -> Decimal:
        if value.type != "NUMBER":
            raise RuleError(
                f"{what} is compared with a number, e.g. > 2 (not '{value}')", value.column, what
            )
        return _number(value)

    def flag(self, operand: Tree[Token]) -> Node:
        if operand.data != "field":
            raise RuleError(
                "count(...) needs a comparison, e.g. count(product.viewed, 7d) > 5",
                _column(operand),
                "count",
            )
        target = self.field_of(operand, "")
        if target.kind is not Kind.FLAG:
            raise self.mismatch(target, _column(operand), "alone")
        return Flag(target.name, target.read, f"no {target.name}")

    @staticmethod
    def mismatch(target: Field, column: int | None, usage: str) -> RuleError:
        name = target.name
        hint = {
            Kind.TIME: f"{name} is a time: use `{name} within 30d` or `{name} not within 30d`",
            Kind.FLAG: f"{name} is yes or no: write `{name}` or `not {name}`",
            Kind.STAGE: f"{name} is a stage: write `{name} is at_risk` or `{name} in [...]`",
        }.get(target.kind, f"{name} is a {target.kind.value}: compare it, e.g. {name} >= 1")
        return RuleError(f"{hint} (not {usage})", column, name)

    # -- categories and brands ------------------------------------------------------------

    def tally_ref(self, action: Tree[Token], kind: Tree[Token], text: Token) -> TallyRef:
        verb, noun = str(action.children[0]), str(kind.children[0])
        source = _SOURCES[(verb, noun)]
        label = f"{verb} {noun}"
        if text.type == "STRING":
            name = _text(text)
            if not name:
                raise RuleError(f'{label} needs a name, e.g. {label} "coffee"', text.column)
            return TallyRef(source, label, name)
        placeholder = str(text)[1:-1]
        if placeholder not in ("category", "brand"):
            raise RuleError(
                f"unknown placeholder {text} (placeholders: {{category}}, {{brand}})",
                text.column,
                str(text),
            )
        if self.scope.placeholder is None:
            raise RuleError(
                f"{text} belongs in a segment template, whose id has it (e.g. fan-{text})",
                text.column,
                str(text),
            )
        if placeholder != self.scope.placeholder:
            raise RuleError(
                f"this template stands for a {self.scope.placeholder}: "
                f"write {{{self.scope.placeholder}}}, not {text}",
                text.column,
                str(text),
            )
        if placeholder != noun:
            raise RuleError(
                f"{text} stands for a {placeholder}: write {verb} {placeholder} {text}",
                text.column,
                str(text),
            )
        self.scope.sources.add(source)
        return TallyRef(source, label, None)

    # -- windows --------------------------------------------------------------------------

    def window(self, tree: Tree[Token]) -> Span:
        span = self.span(tree)
        if span.may_be_unknown:
            raise RuleError(
                "a window relative to repeat_interval needs a fallback for customers without "
                "one, e.g. `2 x repeat_interval else 90d`",
                _column(tree),
                "repeat_interval",
            )
        return span

    def span(self, tree: Tree[Token]) -> Span:
        kind = str(tree.data)
        children: list[Any] = list(tree.children)
        if kind == "fixed":
            seconds = parse_fixed(str(children[0]))
            if seconds <= 0:
                raise RuleError("a window is longer than 0", _column(tree))
            return Fixed(seconds)
        if kind == "scaled":
            factor_token, name = children[0], children[1]
            if str(name) != "repeat_interval":
                raise RuleError(
                    f"only repeat_interval can be multiplied (not '{name}')", name.column, str(name)
                )
            factor = float(re.match(r"\d+(\.\d+)?", str(factor_token)).group(0))  # type: ignore[union-attr]
            if factor <= 0:
                raise RuleError("a factor is more than 0", factor_token.column)
            fallback = self.span(children[2]) if len(children) > 2 else None
            return Scaled(factor, fallback)
        parts = tuple(self.span(child) for child in children)
        return Extreme(parts, longest=kind == "longest")

    def count_window(self, tree: Tree[Token]) -> int:
        if tree.data != "fixed":
            raise RuleError(
                "a count window is a fixed number of days, e.g. count(product.viewed, 7d)",
                _column(tree),
            )
        span = self.span(tree)
        assert isinstance(span, Fixed)
        seconds = span.length
        if seconds % DAY_S:
            raise RuleError(
                f"a count window is whole days, e.g. 7d or 2w (not {tree.children[0]})",
                _column(tree),
            )
        days = int(seconds // DAY_S)
        if days > MAX_ACTIVITY_DAYS:
            raise RuleError(
                f"a count window is at most {MAX_ACTIVITY_DAYS}d (the activity kept per customer)",
                _column(tree),
            )
        return days
