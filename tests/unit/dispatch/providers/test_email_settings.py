"""The relay settings refuse what would put the password on the wire in clear text."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from services.dispatch.providers.email import EmailSettings, is_loopback


def test_auth_without_any_tls_to_a_remote_relay_is_a_settings_error() -> None:
    with pytest.raises(ValidationError, match="NUDGE_SMTP_SECURITY=none") as caught:
        EmailSettings(
            host="smtp.example.net", security="none", username="u", password=SecretStr("p")
        )
    assert "NUDGE_SMTP_HOST=smtp.example.net" in str(caught.value)


@pytest.mark.parametrize("security", ["opportunistic", "starttls", "tls"])
def test_auth_with_tls_possible_is_left_to_the_connection(security: str) -> None:
    """`opportunistic` is checked when connecting: whether the relay offers STARTTLS."""
    settings = EmailSettings(
        host="smtp.example.net", security=security, username="u", password=SecretStr("p")
    )
    assert settings.username == "u"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.3.0.1", "LOCALHOST."])
def test_auth_in_clear_text_to_loopback_is_allowed(host: str) -> None:
    EmailSettings(host=host, security="none", username="u", password=SecretStr("p"))


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("[::1]", True),
        ("localhost", True),
        ("localhost.example.com", False),
        ("10.0.0.1", False),
        ("smtp.example.net", False),
        ("", False),
    ],
)
def test_loopback_is_judged_by_the_name_given(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_the_pool_is_bounded() -> None:
    with pytest.raises(ValidationError, match="pool_size"):
        EmailSettings(pool_size=0)
    assert EmailSettings().pool_size == 16


@pytest.mark.parametrize("field", ["from_address", "bounce_address"])
def test_envelope_addresses_are_checked_naming_the_setting(field: str) -> None:
    with pytest.raises(ValidationError, match=f"NUDGE_SMTP_{field.upper()}"):
        EmailSettings(**{field: "bounces@example.com SIZE=1"})  # type: ignore[arg-type]
