"""GSM-7 / UCS-2 detection and segment counting at the carriers' boundaries."""

from __future__ import annotations

import pytest

from services.dispatch.templates import measure
from services.dispatch.templates.sms import to_gsm7


@pytest.mark.parametrize(
    ("body", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("€" * 80, "GSM-7", 1),  # 160 septets
        ("a" * 159 + "€", "GSM-7", 2),  # 161 septets
        ("{}[]~|^\\", "GSM-7", 1),
        ("é à ü ñ Ø £ ¥ ¿ ¡ Δ", "GSM-7", 1),
        ("a" * 70 + "ë", "UCS-2", 2),
        ("ë" * 70, "UCS-2", 1),
        ("ë" * 71, "UCS-2", 2),
        ("ë" * 134, "UCS-2", 2),
        ("ë" * 135, "UCS-2", 3),
        ("🎉", "UCS-2", 1),
        ("a" * 68 + "🎉", "UCS-2", 1),  # 70 code units
        ("a" * 69 + "🎉", "UCS-2", 2),  # 71 code units
    ],
)
def test_encoding_and_segments(body: str, encoding: str, segments: int) -> None:
    size = measure(body)
    assert (size.encoding, size.segments) == (encoding, segments)


def test_units_count_septets_and_code_units() -> None:
    assert measure("€").units == 2
    assert measure("a€").units == 3
    assert measure("🎉").units == 2


def test_an_escape_sequence_is_never_split_across_parts() -> None:
    # 152 plain septets then "€" (2): it does not fit the first part's last septet
    assert measure("a" * 152 + "€" + "a" * 152).segments == 3
    assert measure("a" * 151 + "€" + "a" * 153).segments == 2


def test_a_surrogate_pair_is_never_split_across_parts() -> None:
    assert measure("ë" * 66 + "🎉" + "ë" * 66).segments == 3
    assert measure("ë" * 65 + "🎉" + "ë" * 67).segments == 2


def test_to_gsm7_replaces_lookalikes_and_keeps_the_rest() -> None:
    curly = "Zo\u00eb\u2019s \u201ccaf\u00e9\u201d \u2013 ok\u2026"
    assert to_gsm7(curly) == 'Zoe\'s "caf\u00e9" - ok...'
    assert to_gsm7("李") == "李"
