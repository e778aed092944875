"""Twilio's delivery error codes: which condemn the number, which only the attempt."""

from __future__ import annotations

import pytest

from services.feedback.sms.delivery_codes import PERMANENT, TRANSIENT, describe, is_permanent


@pytest.mark.parametrize(
    "code", ["21211", "21214", "21217", "21610", "21612", "21614", "30004", "30005", "30006"]
)
def test_codes_about_the_number_are_permanent(code: str) -> None:
    assert is_permanent(code)


@pytest.mark.parametrize(
    "code", ["30001", "30002", "30003", "30007", "30008", "30009", "30017", "30034", "21408"]
)
def test_codes_about_the_attempt_or_our_account_are_transient(code: str) -> None:
    assert not is_permanent(code)


def test_unknown_or_missing_codes_keep_the_number() -> None:
    assert not is_permanent(None)
    assert not is_permanent("99999")
    assert not is_permanent("")
    assert describe("99999") == "99999: not in Nudge's table"
    assert describe("30005").startswith("30005: unknown destination")
    assert describe(None) == "no error code"


def test_no_code_is_in_both_lists() -> None:
    assert not set(PERMANENT) & set(TRANSIENT)
