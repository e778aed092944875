"""An SMS reply's `reply.received` carries its tags, read in the contact's language when the
directory knows it, else the shop's; a failing tagger costs the tags, never the reply."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import httpx

from services.feedback.directory import ContactFacts, ContactRef, SentMessage
from services.feedback.parts import Parts
from services.feedback.tagging import ShopTagging, Tagger
from shared.events import feedback as fb
from shared.events.shop import Channel
from tests.support import twilio
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

PUBLIC = "https://hooks.nudge.example"
PHONE = "+31612345678"
DUTCH_SHOP = ContactRef("shop-nl", "c-1")
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


class Broken:
    def tags(self, shop_id: str, language: str | None, text: str) -> list[str]:
        raise RuntimeError("a bug in a dictionary")


def make_parts(tagger: object) -> Parts:
    base = fake_parts(public_url=PUBLIC, twilio_auth_token=twilio.TOKEN)
    return dataclasses.replace(base, tagger=tagger)  # type: ignore[arg-type]


async def texted(parts: Parts, ref: ContactRef, locale: str | None) -> None:
    await parts.directory.record(
        [ContactFacts(ref, phone=PHONE, locale=locale)],
        [
            SentMessage(
                "msg-1", ref, Channel.SMS, "trg-1", "review_request", False, twilio.sid(), T0
            )
        ],
    )


async def reply(parts: Parts, text: str) -> fb.ReplyReceived:
    body, headers = twilio.signed(
        PUBLIC + "/sms/inbound", twilio.inbound(PHONE, text), twilio.TOKEN
    )
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8083") as client:
        answer = await client.post("/sms/inbound", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert isinstance(parts.publisher, RecordingPublisher)
    (event,) = parts.publisher.published
    assert isinstance(event, fb.ReplyReceivedEvent)
    return event.data


DUTCH = Tagger(shops={"shop-nl": ShopTagging(language="nl")})


async def test_a_reply_is_tagged_in_the_shops_language_when_the_contacts_is_unknown() -> None:
    parts = make_parts(DUTCH)
    await texted(parts, DUTCH_SHOP, locale=None)
    data = await reply(parts, "Mijn pakket kwam te laat aan en de doos was beschadigd")
    assert data.tags == ["complaint", "packaging", "shipping"]
    assert data.text == "Mijn pakket kwam te laat aan en de doos was beschadigd"


async def test_a_reply_is_tagged_in_the_contacts_language_when_known() -> None:
    parts = make_parts(DUTCH)
    await texted(parts, DUTCH_SHOP, locale="en-GB")
    assert (await reply(parts, "Great coffee, fast delivery!")).tags == ["praise", "shipping"]
    dutch = make_parts(DUTCH)
    await texted(dutch, DUTCH_SHOP, locale=None)
    assert (await reply(dutch, "Great coffee, fast delivery!")).tags == []  # read as Dutch


async def test_a_failing_tagger_costs_the_tags_not_the_reply() -> None:
    parts = make_parts(Broken())
    await texted(parts, DUTCH_SHOP, locale="nl-NL")
    data = await reply(parts, "Prijs is te hoog")
    assert data.tags == [] and data.text == "Prijs is te hoog"
