"""The sink logs read back as copies: dispatch's message id recovered from what dispatch sends,
duplicates kept, a last line the sink is still writing skipped, anything else corrupt refused."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from deploy.local.sinks.common import JsonLinesLog
from deploy.local.sinks.sms_sink import Message
from deploy.local.sinks.smtp_sink import Arrival
from services.dispatch.delivery import ProviderDelivery
from services.dispatch.providers.base import SendResult
from services.dispatch.providers.email import ComposedEmail, SmtpSender
from services.dispatch.providers.sms import SmsProvider
from services.dispatch.templates.store import RenderedEmail, RenderedSms
from shared.events.messages import message_id
from tests.e2e.model import Sink
from tests.e2e.sink_logs import SinkLogError, id_from_message_id, read_observed

EMAIL_ID = message_id("trg-1", "email")
SMS_ID = message_id("trg-2", "sms")


class Capture:
    """Stands for the SMTP sender and the SMS provider: keeps what dispatch hands them."""

    def __init__(self) -> None:
        self.emails: list[ComposedEmail] = []
        self.sms: list[tuple[str, str, str]] = []

    async def send(self, *args: Any, **kwargs: Any) -> SendResult:
        if args and isinstance(args[0], ComposedEmail):
            self.emails.append(args[0])
        else:
            self.sms.append((args[0], args[1], kwargs["idempotency_key"]))
        return SendResult(provider_id="x")


async def sent_by_dispatch() -> tuple[bytes, tuple[str, str, str]]:
    """One email and one SMS exactly as dispatch's delivery builds them."""
    capture = Capture()
    delivery = ProviderDelivery(
        smtp=cast(SmtpSender, capture), sms_provider=cast(SmsProvider, capture)
    )
    rendered = RenderedEmail(
        "Your order", "<p>Thanks</p>", "Thanks for your order\nMore", "en", "t"
    )
    await delivery.email(
        to="anna@sim.example.com",
        rendered=rendered,
        message_id=EMAIL_ID,
        brand_from="Demo Coffee <hello@demo-coffee.example>",
        reply_to=None,
        unsubscribe=None,
    )
    await delivery.sms(
        to="+15550100001",
        rendered=RenderedSms("Your parcel is out for delivery", "GSM-7", 1, "en"),
        message_id=SMS_ID,
    )
    return capture.emails[0].as_bytes(), capture.sms[0]


def sms_record(
    to: str, body: str, key: str | None, duplicate: bool, at: datetime
) -> dict[str, Any]:
    message = Message(
        sid="SM" + "0" * 32,
        account_sid="AC" + "0" * 32,
        to=to,
        sender="+15550000000",
        service=None,
        body=body,
        status_callback=None,
        idempotency_key=key,
        duplicate=duplicate,
        created=at,
        status="queued",
    )
    return message.record()


async def write_logs(tmp_path: Path) -> tuple[Path, Path]:
    raw, (to, body, key) = await sent_by_dispatch()
    smtp_log, sms_log = tmp_path / "smtp.jsonl", tmp_path / "sms.jsonl"
    emails, texts = JsonLinesLog(smtp_log), JsonLinesLog(sms_log)
    for n, duplicate in enumerate((False, True)):
        at = datetime(2026, 12, 8, 10, 0, n, tzinfo=UTC).isoformat()
        arrival = Arrival(raw, "hello@demo-coffee.example", ["anna@sim.example.com"], at)
        emails.write({**arrival.record(), "duplicate": duplicate})  # as SmtpSink.handle_DATA
    texts.write(sms_record(to, body, key, False, datetime(2026, 12, 8, 10, 0, 5, tzinfo=UTC)))
    texts.write(sms_record(to, "no key", None, False, datetime(2026, 12, 8, 10, 0, 6, tzinfo=UTC)))
    emails.close()
    texts.close()
    return smtp_log, sms_log


async def test_every_copy_is_read_with_dispatchs_message_id(tmp_path: Path) -> None:
    observed = read_observed(*await write_logs(tmp_path))

    assert [(o.sink, o.message_id) for o in observed] == [
        (Sink.SMTP, EMAIL_ID),
        (Sink.SMTP, EMAIL_ID),  # the copy the sink marked duplicate is still a copy
        (Sink.SMS, SMS_ID),
        (Sink.SMS, None),
    ]
    first = observed[0]
    assert first.to == "anna@sim.example.com"
    assert first.summary == "Your order"
    assert first.received_at == datetime(2026, 12, 8, 10, 0, 0, tzinfo=UTC)
    assert observed[2].to == "+15550100001"
    assert observed[2].summary == "Your parcel is out for delivery"


async def test_a_last_line_cut_short_is_skipped(tmp_path: Path) -> None:
    smtp_log, sms_log = await write_logs(tmp_path)
    whole = sms_log.read_bytes()
    last = whole.rstrip(b"\n").rsplit(b"\n", 1)[1]
    sms_log.write_bytes(whole + last[: len(last) // 2])  # the sink is halfway through a line

    observed = read_observed(smtp_log, sms_log)

    assert [o.message_id for o in observed if o.sink is Sink.SMS] == [SMS_ID, None]


async def test_a_corrupt_line_before_the_last_is_an_error(tmp_path: Path) -> None:
    smtp_log, sms_log = await write_logs(tmp_path)
    lines = smtp_log.read_bytes().split(b"\n")
    smtp_log.write_bytes(b"\n".join([lines[0][:40], *lines[1:]]))

    with pytest.raises(SinkLogError, match=r"smtp.jsonl:1"):
        read_observed(smtp_log, sms_log)


def test_the_message_id_is_the_local_part_of_the_header() -> None:
    assert id_from_message_id(" <abc-1@shop.example> ") == "abc-1"
    assert id_from_message_id("abc-1@shop.example") == "abc-1"
    assert id_from_message_id("<no-domain>") == "no-domain"
    assert id_from_message_id("<>") is None
    assert id_from_message_id(None) is None
