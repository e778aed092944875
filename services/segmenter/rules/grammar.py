"""The grammar of segment rules (a `when:` line), for lark's LALR parser.

Kept as a Python string rather than a .lark file so that it ships with the package as code.
Keywords are lowercase words; field names and event types are dotted names (`rfm.r`,
`product.viewed`); a placeholder (`{category}`) only appears in segment templates.
"""

from __future__ import annotations

from functools import cache
from typing import Final

from lark import Lark

GRAMMAR: Final = r"""
?start: disj

?disj: conj (_OR conj)*
?conj: neg (_AND neg)*
?neg: _NOT neg                              -> negation
    | atom
?atom: "(" disj ")"
     | test

test: operand OP value                      -> compare
    | operand _IS value                     -> compare_is
    | operand _IS _NOT value                -> compare_is_not
    | operand _IN values                    -> one_of
    | operand _NOT _IN values               -> none_of
    | operand _STARTS _WITH STRING          -> starts_with
    | operand _WITHIN span                  -> within
    | operand _NOT _WITHIN span             -> not_within
    | operand                               -> flag
    | _HAS NAME                             -> has
    | action kind text                      -> tally
    | action kind text _WITHIN span         -> tally_within

operand: NAME                               -> field
       | _COUNT "(" NAME "," span ")"       -> activity_count
       | _COUNT "(" action kind text ")"    -> tally_count

values: "[" value ("," value)* "]"
?value: NUMBER | STRING | DURATION | NAME
?text: STRING | PLACEHOLDER
!action: BOUGHT | VIEWED
!kind: CATEGORY | BRAND

?span: DURATION                             -> fixed
     | FACTOR NAME (_ELSE span)?            -> scaled
     | _MAX "(" span ("," span)+ ")"        -> longest
     | _MIN "(" span ("," span)+ ")"        -> shortest

_OR: "or"
_AND: "and"
_NOT: "not"
_IS: "is"
_IN: "in"
_STARTS: "starts"
_WITH: "with"
_WITHIN: "within"
_HAS: "has"
_COUNT: "count"
_ELSE: "else"
_MAX: "max"
_MIN: "min"
BOUGHT: "bought"
VIEWED: "viewed"
CATEGORY: "category"
BRAND: "brand"
OP: /[<>]=?|!=|==?/
FACTOR.2: /\d+(\.\d+)?\s*x(?![A-Za-z0-9_])/
DURATION: /(\d+[wdh])+(?![A-Za-z0-9_.])/
NUMBER: /\d+(\.\d+)?(?![A-Za-z0-9_])/
STRING: /"[^"]*"|'[^']*'/
PLACEHOLDER: /\{[A-Za-z0-9_]*\}/
NAME: /[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*/

%ignore /\s+/
"""

EXPECTED: Final = {
    "_OR": "'or'",
    "_AND": "'and'",
    "_NOT": "'not'",
    "_IS": "'is'",
    "_IN": "'in'",
    "_STARTS": "'starts with'",
    "_WITH": "'with'",
    "_WITHIN": "'within'",
    "_HAS": "'has'",
    "_COUNT": "'count('",
    "_ELSE": "'else'",
    "_MAX": "'max('",
    "_MIN": "'min('",
    "BOUGHT": "'bought'",
    "VIEWED": "'viewed'",
    "CATEGORY": "'category'",
    "BRAND": "'brand'",
    "OP": "a comparison (= != < <= > >=)",
    "FACTOR": "N x repeat_interval",
    "DURATION": "a duration (12h, 30d, 2w)",
    "NUMBER": "a number",
    "STRING": 'a quoted text ("coffee")',
    "PLACEHOLDER": "{category} or {brand}",
    "NAME": "a field",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "$END": "the end of the rule",
}
"""How parse errors name what would have been accepted."""


@cache
def parser() -> Lark:
    """Built once (LALR tables take a moment); thread-safe to use afterwards."""
    return Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)
