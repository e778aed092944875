"""build_email's shortcuts inside the `email` package change nothing a receiver reads.

The shortcuts: header classes made once, shop addresses and constant headers parsed once,
text parts encoded by `binascii.b2a_qp`, the multipart boundary chosen without a search.
Each message here is compared with one built by the stdlib's documented API alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.headerregistry import AddressHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.dispatch.providers import email as module
from services.dispatch.providers.email import ComposedEmail, build_email

WHEN = datetime(2026, 11, 23, 10, 15, tzinfo=UTC)
FIELDS: dict[str, Any] = {
    "sender": '"Café Müller, Rösterei" <hallo@cafe.example>',
    "to": "Anna Schmidt <anna@example.org>",
    "subject": "Dein Warenkorb wartet — 10 % Rabatt",
    "text": "Hi Anna,\n\nyour cart: 2 \u00d7 Yirgacheffe, €25.00\n.\ntrailing space \n" + "x" * 200,
    "html": "<p>Hi Anna,</p>\n<p>" + "é" * 300 + "</p>\n<p>a = b</p>\n",
    "message_id": "<trg-42.email@mail.nudge.example>",
    "date": WHEN,
    "reply_to": "Care <care@cafe.example>",
    "unsubscribe_url": "https://t.nudge.example.com/u/abc",
    "unsubscribe_mailto": "unsubscribe@nudge.example",
    "headers": {"Feedback-ID": "cart:cafe:nudge"},
}


def stdlib_reference(fields: dict[str, Any]) -> bytes:
    """The same email through `EmailMessage` under plain `policy.SMTP`, nothing of ours."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = fields["sender"]
    message["To"] = fields["to"]
    message["Subject"] = fields["subject"]
    message["Date"] = fields["date"]
    message["Message-ID"] = fields["message_id"]
    message["Reply-To"] = fields["reply_to"]
    message["List-Unsubscribe"] = (
        f"<{fields['unsubscribe_url']}>, <mailto:{fields['unsubscribe_mailto']}>"
    )
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in fields["headers"].items():
        message[name] = value
    message.set_content(fields["text"], subtype="plain", charset="utf-8", cte="quoted-printable")
    if fields["html"] is not None:
        message.add_alternative(
            fields["html"], subtype="html", charset="utf-8", cte="quoted-printable"
        )
    return message.as_bytes()


def meaning(raw: bytes) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """What a receiver reads: each header decoded, in order, its folding whitespace and the
    boundary aside (plain `policy.SMTP` folds `List-Unsubscribe` before its first URL), and
    each part's type, transfer encoding and decoded text."""
    got = message_from_bytes(raw, policy=policy.default)
    assert isinstance(got, EmailMessage) and not got.defects
    headers = [
        (name, " ".join(str(value).split()))
        for name, value in got.items()
        if not (name == "Content-Type" and "boundary" in value.params)
    ]
    parts = list(got.iter_parts()) if got.is_multipart() else [got]
    assert all(not part.defects for part in parts)
    return headers, [
        (part.get_content_type(), str(part["Content-Transfer-Encoding"]), part.get_content())
        for part in parts
    ]


def body_lines(message: ComposedEmail) -> list[bytes]:
    return message.as_bytes().split(b"\r\n\r\n", 1)[1].split(b"\r\n")


def test_a_message_means_what_the_stdlib_alone_would_build() -> None:
    for html in (FIELDS["html"], None):
        fields = {**FIELDS, "html": html}
        ours = build_email(**fields)
        assert meaning(ours.as_bytes()) == meaning(stdlib_reference(fields))
        assert all(len(line) <= 78 and line.isascii() for line in body_lines(ours))


@settings(max_examples=150, deadline=None)
@given(text=st.text(max_size=400), html=st.none() | st.text(max_size=400))
def test_any_text_decodes_as_the_stdlibs_own_encoding_does(text: str, html: str | None) -> None:
    fields = {**FIELDS, "text": text, "html": html}
    ours = build_email(**fields)
    assert meaning(ours.as_bytes()) == meaning(stdlib_reference(fields))
    assert all(len(line) <= 78 and line.isascii() for line in body_lines(ours))


def test_the_shops_addresses_are_parsed_once_and_shared() -> None:
    module._shop_address.cache_clear()
    first, second = build_email(**FIELDS), build_email(**{**FIELDS, "to": "bo@example.org"})
    assert first.message["From"] is second.message["From"]
    assert first.message["Reply-To"] is second.message["Reply-To"]
    assert first.message["To"] is not second.message["To"]  # customers' are not kept
    assert module._shop_address.cache_info().currsize == 2


def test_the_shop_address_cache_is_bounded() -> None:
    module._shop_address.cache_clear()
    limit = module._shop_address.cache_info().maxsize
    assert limit is not None
    for n in range(limit + 10):
        build_email(**{**FIELDS, "sender": f"Shop {n} <hello@shop{n}.example>"})
    assert module._shop_address.cache_info().currsize == limit


def test_cached_and_uncached_builds_give_the_same_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(module, "_boundary", lambda: "===============0000000000000000042==")
    module._shop_address.cache_clear()
    cold = build_email(**FIELDS).as_bytes()
    warm = build_email(**FIELDS).as_bytes()
    assert module._shop_address.cache_info().hits == 2  # From and Reply-To
    assert warm == cold


def test_a_refused_address_is_refused_every_time() -> None:
    module._shop_address.cache_clear()
    for _ in range(2):
        with pytest.raises(ValueError, match="header From "):
            build_email(**{**FIELDS, "sender": "Demo Coffee"})
        with pytest.raises(ValueError, match="line break"):
            build_email(**{**FIELDS, "reply_to": "care@cafe.example\u2028Bcc: x@y.example"})
    assert module._shop_address.cache_info().currsize == 1  # the valid From alone


def test_a_part_holding_the_boundary_does_not_split(monkeypatch: pytest.MonkeyPatch) -> None:
    """Quoted-printable writes every `=` as `=3D`, so no part can hold a boundary made of `=`
    and digits: the generator's search for one is not needed."""
    boundary = "===============0000000000000000042=="
    monkeypatch.setattr(module, "_boundary", lambda: boundary)
    text = f"--{boundary}\nContent-Type: text/html\n\n--{boundary}--\n"
    message = build_email(**{**FIELDS, "text": text, "html": f"<p>\n--{boundary}\n</p>\n"})
    _, parts = meaning(message.as_bytes())
    assert [content for _, _, content in parts] == [
        text.replace("\n", "\r\n"),
        f"<p>\r\n--{boundary}\r\n</p>\r\n",
    ]


def test_each_message_has_its_own_boundary() -> None:
    first, second = build_email(**FIELDS), build_email(**FIELDS)
    assert first.message.get_boundary() != second.message.get_boundary()


def test_header_classes_are_made_once_per_registered_class() -> None:
    registry = module._HeaderClasses()
    made = {registry[f"X-Custom-{n}"] for n in range(500)}
    assert len(made) == 1 and issubclass(made.pop(), UnstructuredHeader)
    assert registry["To"] is registry["to"] is registry["Cc"]
    registered = {*registry.registry.values(), registry.default_class}
    every = {registry[name] for name in [*registry.registry, "X-Other"]}
    assert len(every) <= len(registered)


def test_header_classes_behave_as_the_stdlibs() -> None:
    ours, stdlib = module._HeaderClasses(), HeaderRegistry()
    for name, value in [
        ("To", "Anna <anna@example.org>, bo@example.org"),
        ("Subject", "Grüße " * 20),
        ("Date", "Mon, 23 Nov 2026 10:15:00 +0000"),
        ("Message-ID", "<a@b.example>"),
        ("X-Anything", "value"),
    ]:
        mine, theirs = ours(name, value), stdlib(name, value)
        assert type(mine).__mro__[1:] == type(theirs).__mro__[1:]
        assert str(mine) == str(theirs)
        assert mine.fold(policy=policy.SMTP) == theirs.fold(policy=policy.SMTP)
    assert isinstance(ours("To", "anna@example.org"), AddressHeader)


def test_a_type_mapped_later_is_used() -> None:
    registry = module._HeaderClasses()
    assert not issubclass(registry["List-Unsubscribe"], module._WholeUrlsHeader)
    registry.map_to_type("list-unsubscribe", module._WholeUrlsHeader)
    assert issubclass(registry["List-Unsubscribe"], module._WholeUrlsHeader)
