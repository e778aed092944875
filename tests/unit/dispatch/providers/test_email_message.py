"""build_email: the headers mailbox providers judge us by, and the wire form they receive."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, message_from_string, policy
from email.message import EmailMessage

import pytest

from services.dispatch.providers.email import ComposedEmail, EmailSettings, build_email

UNSUBSCRIBE = (
    "https://t.nudge.example.com/u/eyJzaG9wIjoiZGVtby1jb2ZmZWUiLCJjIjoiNzM5MDQ5ODUyMTM3OSJ9"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"
)
LONG_UNSUBSCRIBE = ("https://t.nudge.example.com/u/k0." + "c2lnbmF0dXJl" * 20)[:200]


def marketing(**overrides: object) -> ComposedEmail:
    fields: dict[str, object] = {
        "sender": "Demo Coffee <hello@demo-coffee.example>",
        "to": "Anna Schmidt <anna@example.org>",
        "subject": "Your beans are still in the cart",
        "text": "Hi Anna,\nyour cart is waiting.\nhttps://demo-coffee.example/cart",
        "html": "<p>Hi Anna,</p><p>your cart is waiting.</p>",
        "message_id": "<trg-42.email@mail.nudge.example>",
        "unsubscribe_url": UNSUBSCRIBE,
        "unsubscribe_mailto": "unsubscribe@nudge.example?subject=unsubscribe",
    }
    fields.update(overrides)
    return build_email(**fields)  # type: ignore[arg-type]


def received(message: ComposedEmail) -> EmailMessage:
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def header_lines(message: ComposedEmail) -> list[str]:
    return message.as_bytes().decode("utf-8").split("\r\n\r\n", 1)[0].split("\r\n")


def test_one_click_unsubscribe_pair_is_present_when_asked() -> None:
    got = received(marketing())
    assert str(got["List-Unsubscribe"]) == (
        f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@nudge.example?subject=unsubscribe>"
    )
    assert str(got["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_a_200_character_one_click_url_survives_whole_on_one_line() -> None:
    """Under plain `policy.SMTP` this URL would go out as encoded-words over four lines."""
    assert len(LONG_UNSUBSCRIBE) == 200
    message = marketing(unsubscribe_url=LONG_UNSUBSCRIBE)
    (line,) = [h for h in header_lines(message) if h.startswith("List-Unsubscribe:")]
    assert line.startswith(f"List-Unsubscribe: <{LONG_UNSUBSCRIBE}>,")
    assert "=?" not in line
    got = received(message)
    assert str(got["List-Unsubscribe"]).split(", ")[0] == f"<{LONG_UNSUBSCRIBE}>"
    assert all(len(line) <= 998 for line in message.as_bytes().split(b"\r\n"))


def test_other_headers_still_fold_at_78() -> None:
    message = marketing(subject="A subject that goes on and on " * 4)
    long_ones = [h for h in header_lines(message) if len(h) > 78]
    assert all(h.startswith("List-Unsubscribe:") for h in long_ones)
    assert str(received(message)["Subject"]) == "A subject that goes on and on " * 4


def test_a_one_click_url_no_line_can_hold_is_refused() -> None:
    with pytest.raises(ValueError, match="unsubscribe_url is 1001 characters"):
        marketing(unsubscribe_url="https://t.nudge.example.com/u/" + "a" * 971)


@pytest.mark.parametrize(
    "url", ["https://t.example/u/a b", "https://t.example/u/a>b", "https://t.example/u/a,b"]
)
def test_a_one_click_url_that_would_break_the_header_is_refused(url: str) -> None:
    with pytest.raises(ValueError, match="unsubscribe_url must be ASCII"):
        marketing(unsubscribe_url=url)


def test_no_unsubscribe_headers_unless_asked() -> None:
    got = received(marketing(unsubscribe_url=None, unsubscribe_mailto=None))
    assert got["List-Unsubscribe"] is None
    assert got["List-Unsubscribe-Post"] is None


def test_mailto_alone_is_not_one_click() -> None:
    got = received(marketing(unsubscribe_url=None, unsubscribe_mailto="u@nudge.example"))
    assert str(got["List-Unsubscribe"]) == "<mailto:u@nudge.example>"
    assert got["List-Unsubscribe-Post"] is None


def test_one_click_needs_https_except_on_loopback() -> None:
    with pytest.raises(ValueError, match="https"):
        marketing(unsubscribe_url="http://t.nudge.example.com/u/x")
    with pytest.raises(ValueError, match="https"):
        marketing(unsubscribe_url="ftp://t.nudge.example.com/u/x")
    got = received(marketing(unsubscribe_url="http://127.0.0.1:8082/u/x"))
    assert str(got["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_text_part_comes_first_then_html() -> None:
    got = received(marketing())
    assert got.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in got.iter_parts()]
    assert parts == ["text/plain", "text/html"]
    plain = got.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage)
    assert plain.get_content().splitlines()[:2] == ["Hi Anna,", "your cart is waiting."]


def test_text_only_email_is_a_single_part() -> None:
    got = received(marketing(html=None))
    assert got.get_content_type() == "text/plain"
    assert got.get_content().splitlines()[0] == "Hi Anna,"


def test_message_id_is_the_callers_with_or_without_brackets() -> None:
    assert str(received(marketing())["Message-ID"]) == "<trg-42.email@mail.nudge.example>"
    bare = received(marketing(message_id="trg-42.email@mail.nudge.example"))
    assert str(bare["Message-ID"]) == "<trg-42.email@mail.nudge.example>"
    assert marketing().message_id == "<trg-42.email@mail.nudge.example>"
    with pytest.raises(ValueError, match="Message-ID"):
        marketing(message_id="no-domain")
    with pytest.raises(ValueError, match="Message-ID"):
        marketing(message_id="a b@example.org")


def test_date_reply_to_and_extra_headers() -> None:
    when = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
    got = received(
        marketing(
            date=when,
            reply_to="care@demo-coffee.example",
            headers={"Feedback-ID": "abandoned_cart:demo-coffee:nudge"},
        )
    )
    assert str(got["Date"]) == "Mon, 23 Nov 2026 10:15:00 +0000"
    assert str(got["Reply-To"]) == "care@demo-coffee.example"
    assert str(got["Feedback-ID"]) == "abandoned_cart:demo-coffee:nudge"


def test_without_a_date_the_date_is_now_to_the_second() -> None:
    for _ in range(3):  # the second may turn between the two readings: one more try
        before = datetime.now(UTC).replace(microsecond=0)
        got = received(marketing())["Date"].datetime
        after = datetime.now(UTC)
        if before == after.replace(microsecond=0):
            assert got == before
            return
    raise AssertionError("the clock kept turning the second")


def test_extra_headers_cannot_replace_ours() -> None:
    with pytest.raises(ValueError, match="list-unsubscribe is set by build_email"):
        marketing(headers={"list-unsubscribe": "<https://elsewhere.example>"})


@pytest.mark.parametrize(
    "overrides",
    [
        {"subject": "Hello\r\nBcc: everyone@example.org"},
        {"subject": "Hello\nBcc: everyone@example.org"},
        {"headers": {"X-Nudge": "a\rb"}},
        {"to": "anna@example.org\r\nBcc: everyone@example.org"},
        {"subject": "nul\x00byte"},
        {"subject": "Hello\u2028Bcc: everyone@example.org"},  # a line break to splitlines
        {"sender": "Demo <hello@demo-coffee.example>\x85Bcc: everyone@example.org"},
    ],
)
def test_header_injection_is_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="line break or control character"):
        marketing(**overrides)


def test_non_ascii_names_and_bodies_survive_the_trip() -> None:
    message = marketing(
        sender="Café Müller <hallo@cafe.example>",
        subject="Dein Warenkorb wartet — 10 % Rabatt",
        text="Grüße aus der Rösterei",
        html="<p>Grüße</p>",
    )
    assert message.as_bytes().isascii() and not message.utf8  # no relay needs 8BITMIME
    got = received(message)
    assert str(got["Subject"]) == "Dein Warenkorb wartet — 10 % Rabatt"
    assert got["From"].addresses[0].display_name == "Café Müller"
    plain = got.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage)
    assert plain.get_content().strip() == "Grüße aus der Rösterei"


def test_a_non_ascii_mailbox_is_sent_as_utf8_and_needs_smtputf8() -> None:
    message = marketing(to="Jürgen <jürgen@example.de>", subject="Grüße")
    assert message.utf8 and message.recipients() == ["jürgen@example.de"]
    assert "To: Jürgen <jürgen@example.de>" in header_lines(message)
    got = message_from_string(message.as_bytes().decode("utf-8"), policy=policy.default)
    assert got["To"].addresses[0].addr_spec == "jürgen@example.de"
    assert str(got["Subject"]) == "Grüße"


def test_every_line_is_ascii_and_short_and_parses_without_defects() -> None:
    long_text = "word " * 200 + "\n" + "x" * 300 + "\n.leading dot\ntrailing space \n"
    message = marketing(
        subject="A subject that goes on and on " * 4,
        text=long_text,
        html="<p>" + "é" * 500 + "</p>",
    )
    raw = message.as_bytes()
    assert raw.isascii() and not message.utf8
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(b"List-"))
    got = received(message)
    assert not got.defects and all(not part.defects for part in got.iter_parts())
    plain = got.get_body(preferencelist=("plain",))
    html = got.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content().replace("\r\n", "\n") == long_text  # text's canonical CRLF
    assert html.get_content().strip() == "<p>" + "é" * 500 + "</p>"


def test_display_names_with_specials_are_quoted() -> None:
    message = marketing(sender='"Demo, Coffee & Co." <hello@demo-coffee.example>')
    (address,) = received(message)["From"].addresses
    assert (address.display_name, address.addr_spec) == (
        "Demo, Coffee & Co.",
        "hello@demo-coffee.example",
    )
    assert message.sender_address() == "hello@demo-coffee.example"
    assert message.recipients() == ["anna@example.org"]


def test_every_to_address_is_a_recipient() -> None:
    message = marketing(to="anna@example.org, Bo <bo@example.org>")
    assert message.recipients() == ["anna@example.org", "bo@example.org"]


@pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "Ünicode"])
def test_extra_header_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        marketing(headers={name: "x"})


@pytest.mark.parametrize(
    ("field", "value", "header"),
    [
        ("to", "", "To"),
        ("to", "not an address", "To"),
        ("to", "anna@", "To"),
        ("to", "<anna@example.org", "To"),
        ("sender", "Demo Coffee", "From"),
        ("reply_to", "care@", "Reply-To"),
    ],
)
def test_an_address_header_without_a_valid_address_is_refused(
    field: str, value: str, header: str
) -> None:
    with pytest.raises(ValueError, match=f"header {header} "):
        marketing(**{field: value})


def test_from_holds_exactly_one_address() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        marketing(sender="a@example.org, b@example.org")


def test_settings_read_the_nudge_smtp_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NUDGE_SMTP_HOST", "smtp.example.net")
    monkeypatch.setenv("NUDGE_SMTP_PORT", "587")
    monkeypatch.setenv("NUDGE_SMTP_SECURITY", "starttls")
    monkeypatch.setenv("NUDGE_SMTP_USERNAME", "nudge")
    monkeypatch.setenv("NUDGE_SMTP_PASSWORD", "s3cret")
    settings = EmailSettings()
    assert (settings.host, settings.port, settings.security) == (
        "smtp.example.net",
        587,
        "starttls",
    )
    assert settings.password is not None and settings.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(settings)


def test_opportunistic_tls_is_the_default() -> None:
    assert EmailSettings().security == "opportunistic"


def test_settings_want_username_and_password_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        EmailSettings(username="nudge")
