"""The SMTP sink counts duplicates by a Message-ID read without parsing the message."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

from deploy.local.sinks.smtp_sink import Arrival, header_value
from services.dispatch.providers.email import build_email


def test_the_message_id_is_read_from_the_header_block_only() -> None:
    raw = (
        b"Subject: hi\r\nmessage-ID:\r\n <trg-1.email@shop.example>\r\nTo: a@example.org\r\n"
        b"\r\nMessage-ID: <in-the-body@example.org>\r\n"
    )
    assert header_value(raw, b"message-id") == "<trg-1.email@shop.example>"
    assert header_value(b"Subject: hi\r\n\r\nMessage-ID: <x@y>\r\n", b"message-id") is None
    assert header_value(b"Subject: hi\n\nMessage-ID: <x@y>\n", b"message-id") is None


def test_the_cheap_read_agrees_with_the_parser_on_our_emails() -> None:
    email = build_email(
        sender="Demo Coffee <hello@demo-coffee.example>",
        to="anna@example.org",
        subject="Still thinking it over?",
        text="Hi Anna",
        html="<p>Hi Anna</p>",
        message_id="trg-42.email@demo-coffee.example",
    )
    parsed = BytesParser(policy=policy.default).parsebytes(email.as_bytes())
    arrival = Arrival(email.as_bytes(), "hello@demo-coffee.example", ["anna@example.org"], "now")
    assert arrival.message_id == str(parsed["Message-ID"]) == "<trg-42.email@demo-coffee.example>"
    record = arrival.record()
    assert record["subject"] == "Still thinking it over?"
    assert record["parts"] == ["text/plain", "text/html"]
    assert arrival.brief().keys() == {
        "received_at",
        "mail_from",
        "rcpt_tos",
        "message_id",
        "size",
        "tls",
    }


def test_the_record_lists_the_text_parts_web_links_once_each() -> None:
    email = build_email(
        sender="Demo Coffee <hello@demo-coffee.example>",
        to="anna@example.org",
        subject="How did we do?",
        text="Hi Anna,\n\n\n\n\n\nRate your order: https://fb.example/s/k0.a.b\n"
        "Shop: https://shop.example/?a=1&b=2.\nAgain: https://fb.example/s/k0.a.b\n",
        html="<p>Hi Anna</p>",
        message_id="trg-43.email@demo-coffee.example",
    )
    record = Arrival(email.as_bytes(), "hello@demo-coffee.example", ["a@x.org"], "now").record()
    assert record["links"] == ["https://fb.example/s/k0.a.b", "https://shop.example/?a=1&b=2"]
