"""NUDGE_DISPATCH_PUBLIC_URL is checked when dispatch starts: an unsubscribe URL the email
builder would refuse must stop the process, not fail every marketing email at send time."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.dispatch.providers.email import build_email
from services.dispatch.service import run
from services.dispatch.settings import DispatchSettings

ACCEPTED = [
    ("https://feedback.example", "https://feedback.example"),
    ("https://feedback.example:8443/", "https://feedback.example:8443"),
    ("https://shop.example/nudge/", "https://shop.example/nudge"),
    ("http://127.0.0.1:8083", "http://127.0.0.1:8083"),
    ("http://localhost:8083", "http://localhost:8083"),
    ("http://[::1]:8083", "http://[::1]:8083"),
]
REFUSED = [
    "http://feedback.example",  # plain http beyond loopback: RFC 8058 needs https
    "http://10.0.0.5:8083",
    "http://127.0.0.2:8083",  # loopback, but the email builder does not take it
    "ftp://feedback.example",
    "feedback.example",
    "https://",
    "https://feedback.example/?a=1",
    "https://feedback.example/#top",
    "https://user:secret@feedback.example",
    "https://feedback.example:port",
]


@pytest.mark.parametrize(("given", "kept"), ACCEPTED)
def test_https_or_loopback_http_is_taken(
    monkeypatch: pytest.MonkeyPatch, given: str, kept: str
) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_PUBLIC_URL", given)
    assert DispatchSettings().public_url == kept
    build_email(  # what starts also sends: the builder takes the link made from it
        sender="shop@example.com",
        to="ada@example.com",
        subject="Hi",
        text="Hi",
        message_id="m1@example.com",
        unsubscribe_url=f"{kept}/u/k0.token.mac",
    )


@pytest.mark.parametrize("given", REFUSED)
def test_anything_else_is_refused_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_PUBLIC_URL", given)
    with pytest.raises(ValidationError, match="NUDGE_DISPATCH_PUBLIC_URL"):
        DispatchSettings()


def test_dispatch_refuses_to_start_with_a_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_DISPATCH_PUBLIC_URL", "http://feedback.example")
    with pytest.raises(SystemExit) as stopped:
        run()
    message = str(stopped.value.code)
    assert message.startswith("dispatch cannot start:")
    assert "NUDGE_DISPATCH_PUBLIC_URL must be an https:// URL" in message
