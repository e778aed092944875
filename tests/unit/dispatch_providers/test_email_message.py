"""build_email: the headers mailbox providers judge us by, and the wire form they receive."""

from __future__ import annotations

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import getaddresses

import pytest

from services.dispatch.providers.email import ComposedEmail, EmailSettings, build_email
from services.dispatch.providers.mime import addresses

UNSUBSCRIBE = (
    "https://t.nudge.example.com/u/eyJzaG9wIjoiZGVtby1jb2ZmZWUiLCJjIjoiNzM5MDQ5ODUyMTM3OSJ9"
    ".c2lnbmF0dXJlLXNpZ25hdHVyZS1zaWduYXR1cmUtc2lnbmF0dXJl"
)


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


def wire(message: ComposedEmail) -> bytes:
    return message.as_bytes()


def received(message: ComposedEmail) -> EmailMessage:
    parsed = BytesParser(policy=policy.default).parsebytes(wire(message))
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_one_click_unsubscribe_pair_is_present_when_asked() -> None:
    got = received(marketing())
    assert str(got["List-Unsubscribe"]) == (
        f"<{UNSUBSCRIBE}>, <mailto:unsubscribe@nudge.example?subject=unsubscribe>"
    )
    assert str(got["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"


def test_long_unsubscribe_url_is_never_encoded_or_split_on_the_wire() -> None:
    raw = wire(marketing()).decode("ascii")
    header_block = raw.split("\r\n\r\n", 1)[0]
    assert "=?" not in header_block.split("List-Unsubscribe:", 1)[1].split("\r\nList-", 1)[0]
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>," in header_block
    assert all(len(line) <= 998 for line in raw.split("\r\n"))


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


def test_message_id_is_the_callers_with_or_without_brackets() -> None:
    assert str(received(marketing())["Message-ID"]) == "<trg-42.email@mail.nudge.example>"
    bare = received(marketing(message_id="trg-42.email@mail.nudge.example"))
    assert str(bare["Message-ID"]) == "<trg-42.email@mail.nudge.example>"
    with pytest.raises(ValueError, match="Message-ID"):
        marketing(message_id="no-domain")


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
        first, second = received(marketing())["Date"].datetime, received(marketing())["Date"]
        after = datetime.now(UTC)
        if before == after.replace(microsecond=0):
            assert first == second.datetime == before
            return
    raise AssertionError("the clock kept turning the second")


def test_extra_headers_cannot_replace_ours() -> None:
    with pytest.raises(ValueError, match="List-Unsubscribe"):
        marketing(headers={"List-Unsubscribe": "<https://elsewhere.example>"})


def test_header_injection_is_refused() -> None:
    with pytest.raises(ValueError):
        marketing(subject="Hello\r\nBcc: everyone@example.org")


def test_non_ascii_names_and_bodies_survive_the_trip() -> None:
    got = received(
        marketing(
            sender="Café Müller <hallo@cafe.example>",
            subject="Dein Warenkorb wartet — 10 % Rabatt",
            text="Grüße aus der Rösterei",
        )
    )
    assert str(got["Subject"]) == "Dein Warenkorb wartet — 10 % Rabatt"
    assert got["From"].addresses[0].display_name == "Café Müller"
    plain = got.get_body(preferencelist=("plain",))
    assert isinstance(plain, EmailMessage)
    assert plain.get_content().strip() == "Grüße aus der Rösterei"
    assert wire(marketing(text="Grüße")).isascii()  # no relay needs 8BITMIME


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


def test_settings_want_username_and_password_together() -> None:
    with pytest.raises(ValueError, match="go together"):
        EmailSettings(username="nudge")


def test_every_line_is_ascii_and_short_and_parses_without_defects() -> None:
    long_text = "word " * 200 + "\n" + "x" * 300 + "\n.leading dot\ntrailing space \n"
    message = marketing(
        subject="A subject that goes on and on " * 4,
        text=long_text,
        html="<p>" + "é" * 500 + "</p>",
    )
    raw = wire(message)
    assert raw.isascii() and not message.utf8
    assert all(len(line) <= 78 for line in raw.split(b"\r\n") if not line.startswith(b"List-"))
    got = received(message)
    assert not got.defects and all(not part.defects for part in got.iter_parts())
    assert str(got["Subject"]) == "A subject that goes on and on " * 4
    plain = got.get_body(preferencelist=("plain",))
    html = got.get_body(preferencelist=("html",))
    assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
    assert plain.get_content().replace("\r\n", "\n") == long_text
    assert html.get_content().strip() == "<p>" + "é" * 500 + "</p>"


def test_display_names_with_specials_are_quoted() -> None:
    got = received(marketing(sender='"Demo, Coffee & Co." <hello@demo-coffee.example>'))
    (address,) = got["From"].addresses
    assert (address.display_name, address.addr_spec) == (
        "Demo, Coffee & Co.",
        "hello@demo-coffee.example",
    )
    assert [a.addr_spec for a in got["To"].addresses] == ["anna@example.org"]


def test_a_non_ascii_mailbox_needs_smtputf8() -> None:
    message = marketing(to="Jürgen <jürgen@example.de>")
    assert message.utf8 and message.recipients() == ["jürgen@example.de"]


@pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "Ünicode"])
def test_extra_header_names_are_checked(name: str) -> None:
    with pytest.raises(ValueError, match="header name"):
        marketing(headers={name: "x"})


def test_an_address_header_without_an_address_is_refused() -> None:
    with pytest.raises(ValueError, match="no valid address"):
        marketing(to="")


def test_address_headers_read_as_the_rfc_5322_parser_reads_them() -> None:
    headers = [
        "ann@example.org",
        "jürgen@example.de",
        "Ann Example <ann@example.org>",
        '"Example, Ann" <ann@example.org>',
        "ann@example.org, bob@example.org",
        "ann (work) @example.org",
        "user@[192.0.2.1]",
        "",
    ]
    for header in headers:
        expected = [address for _, address in getaddresses([header]) if address]
        assert addresses(header) == expected, header
