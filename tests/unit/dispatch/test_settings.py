"""Dispatch's settings as an SRE writes them in a manifest's environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.dispatch.settings import DispatchSettings


def test_a_process_does_both_roles_unless_told_otherwise() -> None:
    assert DispatchSettings().roles == {"intake", "send"}


def test_roles_are_a_comma_separated_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_ROLES", "send")
    assert DispatchSettings().roles == {"send"}
    monkeypatch.setenv("NUDGE_DISPATCH_ROLES", " send , intake ")
    assert DispatchSettings().roles == {"intake", "send"}


@pytest.mark.parametrize("value", ["", " , ", "sned", "intake,everything"])
def test_an_unknown_or_empty_role_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_ROLES", value)
    with pytest.raises(ValidationError, match="roles"):
        DispatchSettings()
