"""Request bodies: exact big integers, refusals that name the field, nesting, NUL characters."""

from __future__ import annotations

import pytest

from shared.http.body import NUL_ESCAPE, nul_field, parse_json, refuse_nul
from shared.http.problems import Problem


@pytest.mark.parametrize("number", [2**64, -(2**63) - 1, 10**200])
def test_integers_of_any_size_are_parsed_exactly(number: int) -> None:
    assert parse_json(f'{{"id": {number}}}'.encode()) == {"id": number}


@pytest.mark.parametrize(
    "raw", [b"", b"{", b"[1,]", b"NaN", b"1e400", b"[" * 100_000 + b"]" * 100_000]
)
def test_what_cannot_be_read_as_json_is_a_400(raw: bytes) -> None:
    with pytest.raises(Problem) as raised:
        parse_json(raw)
    assert raised.value.status == 400


def test_the_first_nul_is_found_with_its_path() -> None:
    body = {"events": [{"id": "ok"}, {"id": "x", "data": {"items": [{"title": "a\x00b"}]}}]}
    assert nul_field(body) == "events.1.data.items.0.title"
    assert nul_field({"da\x00ta": 1}) == "da\\u0000ta"
    assert nul_field("\x00") == "(body)"
    assert nul_field({"fine": ["text", 1, None, {"deeper": "also fine"}]}) is None


def test_a_whole_request_with_a_nul_is_refused_naming_the_field() -> None:
    raw = b'{"customer": {"id": "7\\u00001"}}'
    assert NUL_ESCAPE in raw
    with pytest.raises(Problem) as raised:
        refuse_nul(raw, parse_json(raw), "the webhook")
    assert raised.value.status == 422
    assert [e.field for e in raised.value.errors] == ["customer.id"]


def test_a_literal_backslash_u_is_not_a_nul() -> None:
    raw = b'{"note": "\\\\u0000 is how JSON spells it"}'
    refuse_nul(raw, parse_json(raw), "the webhook")  # no exception: the text has no NUL
