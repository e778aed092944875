"""Segment templates: one segment per category (or brand) a customer has, such as `fan-{category}`.

A template's id holds one placeholder, `{category}` or `{brand}`, and its rule names it where a
category or brand would be written (`count(bought category {category}) >= 2`). It is evaluated
once for each name in the profile's lists that the rule reads (`bought category {category}`
reads the categories bought; `viewed ...` the ones viewed), and each answer belongs to the id
with the placeholder replaced by the name's slug: `fan-{category}` and "Coffee & Tea" give
`fan-coffee-tea`. Slugs are lowercase ASCII letters, digits, `_`, `.` and `-`; a name with
nothing left (`☕`) gets a hash instead, and a name too long for the 100 characters of a
segment id is cut and ends in a hash. Two names with the same slug ("Tea", "tea") are one
segment, matched when either matches.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from typing import Final

PLACEHOLDERS: Final = ("category", "brand")
SEGMENT_ID: Final = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,99}$")
"""shared.events.segments.SegmentId's pattern."""
MAX_ID: Final = 100
_UNSAFE: Final = re.compile(r"[^a-z0-9_.-]+")
_HASH: Final = 8


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:_HASH]


def slug(value: str, room: int = MAX_ID) -> str:
    """`value` as segment id characters, at most `room` long, never empty."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    text = _UNSAFE.sub("-", ascii_text.lower()).strip("-._")
    if not text:
        return _hash(value)[:room]
    if len(text) > room:
        return f"{text[: max(room - _HASH - 1, 0)].rstrip('-._')}-{_hash(value)}"
    return text


@dataclass(frozen=True, slots=True)
class Template:
    placeholder: str
    """`category` or `brand`."""
    prefix: str
    suffix: str

    @property
    def pattern(self) -> str:
        return f"{self.prefix}{{{self.placeholder}}}{self.suffix}"

    def member_id(self, name: str) -> str:
        room = MAX_ID - len(self.prefix) - len(self.suffix)
        return f"{self.prefix}{slug(name, room)}{self.suffix}"

    def owns(self, segment_id: str) -> bool:
        """Whether `segment_id` is one this template gives (to some name)."""
        return (
            len(segment_id) > len(self.prefix) + len(self.suffix)
            and segment_id.startswith(self.prefix)
            and segment_id.endswith(self.suffix)
        )

    def overlaps(self, other: Template) -> bool:
        """Whether some id could belong to both."""
        prefixes = self.prefix.startswith(other.prefix) or other.prefix.startswith(self.prefix)
        suffixes = self.suffix.endswith(other.suffix) or other.suffix.endswith(self.suffix)
        return prefixes and suffixes


def template_of(segment_id: str) -> Template | None:
    """The template an id declares, None for a plain id; ValueError for a malformed one."""
    if "{" not in segment_id and "}" not in segment_id:
        if not SEGMENT_ID.match(segment_id):
            raise ValueError(
                "a segment id is lowercase letters, digits, '_', '.' and '-' (at most 100, "
                "starting with a letter or digit)"
            )
        return None
    found = re.fullmatch(r"([^{}]*)\{([a-z_]*)\}([^{}]*)", segment_id)
    if found is None:
        raise ValueError("a segment template has exactly one placeholder, e.g. fan-{category}")
    prefix, placeholder, suffix = found.groups()
    if placeholder not in PLACEHOLDERS:
        raise ValueError(f"unknown placeholder {{{placeholder}}} (use {{category}} or {{brand}})")
    if not SEGMENT_ID.match(f"{prefix}x{suffix}") or len(prefix) + len(suffix) > MAX_ID - 10:
        raise ValueError(
            "a segment template is lowercase letters, digits, '_', '.' and '-' around its "
            "placeholder, e.g. fan-{category}"
        )
    return Template(placeholder, prefix, suffix)
