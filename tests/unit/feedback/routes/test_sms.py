"""`/sms/inbound` and `/sms/status` with fakes: requests exactly as Twilio sends them (signed
over the public URL, extra parameters, Unicode), every keyword, a phone shared by two shops,
status callbacks, and what is published (nothing when the signature fails)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from xml.etree import ElementTree

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.feedback.directory import ContactFacts, ContactRef, SentMessage
from services.feedback.parts import Parts
from services.feedback.sms.profiles import SmsProfile, SmsProfiles
from shared.events import derived_event_id
from shared.events import feedback as fb
from shared.events.messages import MessageDeliveredEvent, MessageUndeliveredEvent
from shared.events.shop import Channel
from shared.problem_details import MEDIA_TYPE
from shared.publisher import BrokerUnavailable
from shared.topics import MESSAGES_STATUS
from tests.support import twilio
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

PUBLIC = "https://hooks.nudge.example"
PHONE = "+31612345678"
SHARED = "+15005550006"
OWN = "+14155550199"
A, B, C = ContactRef("shop-a", "a-1"), ContactRef("shop-b", "b-7"), ContactRef("shop-c", "c-3")
PROFILES = SmsProfiles(
    SmsProfile(brand="Nudge", support="help@nudge.example"),
    {
        "shop-a": SmsProfile(brand="Shop A", support="help@a.example"),
        "shop-c": SmsProfile(brand="Shop C", sender=OWN),
    },
)
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def make_parts(**settings: object) -> Parts:
    given: dict[str, object] = {
        "public_url": PUBLIC,
        "twilio_auth_token": twilio.TOKEN,
        "sms_status_wait_s": 0,
        **settings,
    }
    base = fake_parts(**given)
    return dataclasses.replace(base, sms=PROFILES)


def published(parts: Parts) -> RecordingPublisher:
    assert isinstance(parts.publisher, RecordingPublisher)
    return parts.publisher


async def know(parts: Parts, *refs: ContactRef, phone: str = PHONE) -> None:
    await parts.directory.record([ContactFacts(ref, phone=phone) for ref in refs], [])


async def texted(parts: Parts, ref: ContactRef, minute: int = 0) -> SentMessage:
    message = SentMessage(
        f"msg-{ref.customer_id}-{minute}",
        ref,
        Channel.SMS,
        f"trg-{ref.customer_id}",
        "abandoned_cart",
        False,
        twilio.sid(),
        T0.replace(minute=minute),
    )
    await parts.directory.record([], [message])
    return message


async def post(
    parts: Parts,
    path: str,
    params: list[tuple[str, str]],
    *,
    url: str | None = None,
    token: str = twilio.TOKEN,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    body, signed = twilio.signed(url or PUBLIC + path, params, token)
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://10.0.0.7:8083") as client:
        sent = httpx.Headers(signed)
        sent.update(headers or {})  # names compared without case: a test's header replaces
        return await client.post(path, content=body, headers=sent)


def message_text(answer: httpx.Response) -> str | None:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/xml")
    root = ElementTree.fromstring(answer.content)
    assert root.tag == "Response" and [child.tag for child in root] in ([], ["Message"])
    return root[0].text if len(root) else None


async def test_stop_withdraws_sms_consent_and_confirms_in_twiml() -> None:
    parts = make_parts()
    await know(parts, A)
    last = await texted(parts, A)
    sid = twilio.sid()
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, " Stop\n", message_sid=sid))
    text = message_text(answer)
    assert text is not None and text.startswith("Shop A:") and "Reply START" in text
    (event,) = published(parts).published
    assert isinstance(event, fb.ConsentWithdrawnEvent)
    assert event.key == "shop-a:a-1"
    assert event.data.channel is Channel.SMS and event.data.source == "sms_keyword"
    assert event.data.phone == PHONE
    assert event.data.message == fb.MessageRef(
        message_id=last.message_id, trigger_id=last.trigger_id, campaign_id="abandoned_cart"
    )
    assert event.id == derived_event_id("shop-a", "twilio-sms", f"{sid}\x1fa-1")
    again = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP", message_sid=sid))
    assert message_text(again) == text
    assert [e.id for e in published(parts).published] == [event.id, event.id]  # a retry


async def test_start_grants_consent_again() -> None:
    parts = make_parts()
    await know(parts, A)
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "unstop"))
    assert "subscribed to our texts again" in (message_text(answer) or "")
    (event,) = published(parts).published
    assert isinstance(event, fb.ConsentGrantedEvent) and event.key == "shop-a:a-1"
    assert event.data.message is None  # nothing was texted to answer


@pytest.mark.parametrize(
    "word", ["STOP", "stopall", "Unsubscribe", "cancel", "END", "quit", "REVOKE", "optout"]
)
async def test_every_opt_out_keyword(word: str) -> None:
    parts = make_parts()
    await know(parts, A)
    await post(parts, "/sms/inbound", twilio.inbound(PHONE, f"  {word} "))
    assert [e.type for e in published(parts).published] == ["consent.withdrawn"]


@pytest.mark.parametrize("word", ["START", "yes", "Unstop"])
async def test_every_opt_in_keyword(word: str) -> None:
    parts = make_parts()
    await know(parts, A)
    await post(parts, "/sms/inbound", twilio.inbound(PHONE, word))
    assert [e.type for e in published(parts).published] == ["consent.granted"]


@pytest.mark.parametrize("word", ["HELP", "info", " Help "])
async def test_help_gets_the_shops_help_text_and_publishes_nothing(word: str) -> None:
    parts = make_parts()
    await know(parts, A)
    text = message_text(await post(parts, "/sms/inbound", twilio.inbound(PHONE, word)))
    assert text == (
        "Shop A: Msg frequency varies. Msg&data rates may apply. Reply STOP to unsubscribe. "
        "Help: help@a.example"
    )
    assert published(parts).published == []


@pytest.mark.parametrize(
    "body",
    ["Stop sending me coupons", "stop it", "STOP!", "stopp", "Yes please", "helpful, thanks"],
)
async def test_near_misses_are_replies_not_keywords(body: str) -> None:
    parts = make_parts()
    await know(parts, A)
    answered = await texted(parts, A)
    assert message_text(await post(parts, "/sms/inbound", twilio.inbound(PHONE, body))) is None
    (event,) = published(parts).published
    assert isinstance(event, fb.ReplyReceivedEvent)
    assert event.data.text == body and event.data.channel is Channel.SMS
    assert event.data.message is not None
    assert event.data.message.message_id == answered.message_id


@pytest.mark.parametrize(
    "body",
    [
        "Merci, très bien 👍",
        "\u8c22\u8c22\uff01",
        "Спасибо",
        "🛑🛑🛑",
        "ok 🇳🇱 👨‍👩‍👧",
        "a\u200bb",
        "x" * 1600,
    ],
)
async def test_unicode_and_emoji_replies_are_kept_as_sent(body: str) -> None:
    parts = make_parts()
    await know(parts, A)
    await texted(parts, A)
    assert message_text(await post(parts, "/sms/inbound", twilio.inbound(PHONE, body))) is None
    (event,) = published(parts).published
    assert isinstance(event, fb.ReplyReceivedEvent) and event.data.text == body


async def test_a_stop_acts_for_every_shop_of_the_phone_without_leaking_customers() -> None:
    parts = make_parts()
    await know(parts, A, B, C)
    await texted(parts, B, minute=5)
    text = message_text(await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP")))
    assert text is not None and text.startswith("Nudge:")  # B has no profile: the deployment
    events = published(parts).published
    assert sorted(e.key for e in events) == ["shop-a:a-1", "shop-b:b-7"]  # C has its own number
    for event in events:
        assert isinstance(event, fb.ConsentWithdrawnEvent)
        other = "b-7" if event.customerid == "a-1" else "a-1"
        assert other not in event.model_dump_json()
    by_key = {e.key: e for e in events}
    assert isinstance(by_key["shop-b:b-7"], fb.ConsentWithdrawnEvent)
    assert by_key["shop-b:b-7"].data.message is not None  # B's own message, named for B only
    a_event = by_key["shop-a:a-1"]
    assert isinstance(a_event, fb.ConsentWithdrawnEvent) and a_event.data.message is None


async def test_a_reply_goes_only_to_the_shop_that_texted_last() -> None:
    parts = make_parts()
    await know(parts, A, B)
    await texted(parts, A, minute=1)
    last = await texted(parts, B, minute=9)
    await post(parts, "/sms/inbound", twilio.inbound(PHONE, "When does it ship?"))
    (event,) = published(parts).published
    assert event.key == "shop-b:b-7"
    assert isinstance(event, fb.ReplyReceivedEvent) and event.data.message is not None
    assert event.data.message.message_id == last.message_id
    assert "a-1" not in event.model_dump_json() and "shop-a" not in event.model_dump_json()


async def test_a_reply_no_shop_texted_first_is_not_recorded_when_shops_share_the_phone() -> None:
    parts = make_parts()
    await know(parts, A, B)
    assert message_text(await post(parts, "/sms/inbound", twilio.inbound(PHONE, "hello?"))) is None
    assert published(parts).published == []
    alone = make_parts()
    await know(alone, A)
    await post(alone, "/sms/inbound", twilio.inbound(PHONE, "hello?"))
    assert [e.key for e in published(alone).published] == ["shop-a:a-1"]


async def test_a_shops_own_number_decides_the_shop() -> None:
    parts = make_parts()
    await know(parts, A, B, C)
    await texted(parts, A, minute=9)
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "stop", to=OWN))
    assert (message_text(answer) or "").startswith("Shop C:")
    assert [e.key for e in published(parts).published] == ["shop-c:c-3"]


async def test_an_unknown_phone_still_gets_its_stop_confirmation_and_nothing_is_published() -> None:
    parts = make_parts()
    await know(parts, A)
    stop = message_text(await post(parts, "/sms/inbound", twilio.inbound("+31687654321", "STOP")))
    assert stop == (
        "Nudge: You are unsubscribed and will receive no more texts from us. "
        "Reply START to resubscribe."
    )
    short_code = message_text(await post(parts, "/sms/inbound", twilio.inbound("72345", "STOP")))
    assert short_code == stop
    help_text = message_text(
        await post(parts, "/sms/inbound", twilio.inbound("+31687654321", "help"))
    )
    assert help_text is not None and help_text.endswith("Help: help@nudge.example")
    assert published(parts).published == []


async def test_extra_and_new_parameters_are_accepted_and_signed() -> None:
    parts = make_parts()
    await know(parts, A)
    params = [
        *twilio.inbound(PHONE, "STOP"),
        ("MediaContentType0", "image/jpeg"),
        ("MediaUrl0", "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME"),
        ("AddOns", '{"status":"successful","results":{}}'),
        ("SomethingTwilioAddsNextYear", "yes & no"),
    ]
    answer = await post(parts, "/sms/inbound", params)
    assert answer.status_code == 200
    assert [e.type for e in published(parts).published] == ["consent.withdrawn"]


async def test_signatures_over_the_default_port_variants_verify() -> None:
    parts = make_parts()
    await know(parts, A)
    with_port = PUBLIC.replace(".example", ".example:443") + "/sms/inbound"
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"), url=with_port)
    assert answer.status_code == 200
    configured_with_port = make_parts(public_url="https://hooks.nudge.example:443")
    await know(configured_with_port, A)
    plain = await post(configured_with_port, "/sms/inbound", twilio.inbound(PHONE, "STOP"))
    assert plain.status_code == 200


@pytest.mark.parametrize(
    ("url", "token", "headers", "detail"),
    [
        (None, "not-the-token", {}, "does not match"),
        ("http://10.0.0.7:8083/sms/inbound", twilio.TOKEN, {}, "does not match"),  # Host seen
        (PUBLIC + "/sms/status", twilio.TOKEN, {}, "does not match"),  # another route's URL
        (PUBLIC.replace("https", "http") + "/sms/inbound", twilio.TOKEN, {}, "does not match"),
        (None, twilio.TOKEN, {"x-twilio-signature": ""}, "missing"),
        (None, twilio.TOKEN, {"x-twilio-signature": "RSOYDt4T1cUTdK1PDd93/VVr8B8="}, "match"),
    ],
)
async def test_a_missing_or_forged_signature_is_refused_and_nothing_published(
    url: str | None, token: str, headers: dict[str, str], detail: str
) -> None:
    parts = make_parts()
    await know(parts, A)
    answer = await post(
        parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"), url=url, token=token, headers=headers
    )
    assert answer.status_code == 403
    assert answer.headers["content-type"] == MEDIA_TYPE
    assert detail in answer.json()["detail"]
    assert published(parts).published == []


async def test_a_changed_parameter_breaks_the_signature() -> None:
    parts = make_parts()
    await know(parts, A)
    params = twilio.inbound(PHONE, "hello")
    body, headers = twilio.signed(PUBLIC + "/sms/inbound", params)
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        answer = await client.post(
            "/sms/inbound", content=body.replace("Body=hello", "Body=STOP"), headers=headers
        )
    assert answer.status_code == 403 and published(parts).published == []


async def test_without_a_configured_token_every_webhook_is_refused() -> None:
    parts = dataclasses.replace(make_parts(), settings=fake_parts(public_url=PUBLIC).settings)
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"))
    assert answer.status_code == 403 and "no Twilio auth token" in answer.json()["detail"]


async def test_the_previous_token_verifies_during_a_rotation() -> None:
    parts = make_parts(twilio_auth_token=f"new-token,{twilio.TOKEN}")
    await know(parts, A)
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"))
    assert answer.status_code == 200


@pytest.mark.parametrize(
    ("body", "headers", "status", "field"),
    [
        ("From=%2B31612345678&Body=STOP", {"content-type": "application/json"}, 415, None),
        ("From=%2B31612345678&Body", {}, 400, None),
        ("Body=%FF", {}, 400, None),
    ],
)
async def test_what_is_not_a_form_is_refused_before_anything_else(
    body: str, headers: dict[str, str], status: int, field: str | None
) -> None:
    parts = make_parts()
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        answer = await client.post(
            "/sms/inbound", content=body, headers={"content-type": twilio.FORM, **headers}
        )
    assert answer.status_code == status
    assert answer.headers["content-type"] == MEDIA_TYPE


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("From", PHONE), ("Body", "STOP")], "MessageSid"),
        ([("MessageSid", "SM12"), ("From", PHONE), ("Body", "STOP")], "MessageSid"),
        ([("MessageSid", twilio.sid()), ("Body", "STOP")], "From"),
        ([("MessageSid", twilio.sid()), ("From", PHONE), ("Body", "a\x00b")], "Body"),
        ([("MessageSid", twilio.sid()), ("From", PHONE), ("Body", "x" * 5001)], "Body"),
    ],
)
async def test_signed_but_invalid_fields_are_422_naming_the_field(
    params: list[tuple[str, str]], field: str
) -> None:
    parts = make_parts()
    answer = await post(parts, "/sms/inbound", params)
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["errors"]] == [field]
    assert published(parts).published == []


async def test_the_broker_away_is_503_with_retry_after() -> None:
    parts = make_parts()
    await know(parts, A)
    published(parts).failure = BrokerUnavailable("kafka did not acknowledge within 5s")
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"))
    assert answer.status_code == 503 and answer.headers["retry-after"] == "5"


# --- status callbacks ------------------------------------------------------------------------


async def test_delivered_becomes_a_message_status_record() -> None:
    parts = make_parts()
    message = await texted(parts, A)
    assert message.provider_id is not None
    answer = await post(parts, "/sms/status", twilio.status(message.provider_id, "delivered"))
    assert answer.status_code == 204
    recorder = published(parts)
    (record,) = recorder.on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageDeliveredEvent) and record.key == "shop-a:a-1"
    assert record.data.message_id == message.message_id
    assert record.data.provider_status == "delivered" and record.data.permanent is None
    assert recorder.on(None) == []
    await post(parts, "/sms/status", twilio.status(message.provider_id, "read"))
    assert {e.id for e in recorder.on(MESSAGES_STATUS.name)} == {record.id}  # one fact


@pytest.mark.parametrize(
    ("status", "code", "permanent"),
    [
        ("undelivered", "30005", True),
        ("undelivered", "30006", True),
        ("failed", "21211", True),
        ("failed", "21610", True),
        ("undelivered", "30003", False),
        ("undelivered", "30007", False),
        ("undelivered", "30008", False),
        ("failed", None, False),
    ],
)
async def test_undelivered_is_recorded_and_permanent_codes_condemn_the_number(
    status: str, code: str | None, permanent: bool
) -> None:
    parts = make_parts()
    message = await texted(parts, A)
    assert message.provider_id is not None
    params = twilio.status(message.provider_id, status, to=PHONE, error=code)
    assert (await post(parts, "/sms/status", params)).status_code == 204
    recorder = published(parts)
    (record,) = recorder.on(MESSAGES_STATUS.name)
    assert isinstance(record, MessageUndeliveredEvent)
    assert record.data.error_code == code and record.data.permanent is permanent
    (failed,) = recorder.on(None)
    assert isinstance(failed, fb.SmsDeliveryFailedEvent) and failed.key == "shop-a:a-1"
    assert failed.data.permanent is permanent and failed.data.phone == PHONE
    assert failed.data.error_code == code
    assert failed.data.message is not None
    assert failed.data.message.message_id == message.message_id


@pytest.mark.parametrize("status", ["queued", "sending", "sent", "accepted", "something-new"])
async def test_statuses_in_progress_are_acknowledged_and_change_nothing(status: str) -> None:
    parts = make_parts()
    assert (
        await post(parts, "/sms/status", twilio.status(twilio.sid(), status))
    ).status_code == 204
    assert published(parts).published == []


async def test_a_status_for_a_message_not_in_the_index_is_503() -> None:
    parts = make_parts()
    answer = await post(parts, "/sms/status", twilio.status(twilio.sid(), "delivered"))
    assert answer.status_code == 503 and "retry-after" in answer.headers
    assert published(parts).published == []


async def test_status_callbacks_are_signed_too() -> None:
    parts = make_parts()
    message = await texted(parts, A)
    assert message.provider_id is not None
    params = twilio.status(message.provider_id, "undelivered", error="30005")
    answer = await post(parts, "/sms/status", params, token="forged")
    assert answer.status_code == 403 and published(parts).published == []
    bad_code = twilio.status(message.provider_id, "undelivered", error="30005x")
    answer = await post(parts, "/sms/status", bad_code)
    assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "ErrorCode"


async def test_the_sms_routes_are_documented_with_every_answer() -> None:
    document = create_app(make_parts()).openapi()
    for path, ok in (("/sms/inbound", "200"), ("/sms/status", "204")):
        operation = document["paths"][path]["post"]
        assert {ok, "400", "403", "413", "415", "422", "503"} <= set(operation["responses"])
        assert twilio.FORM in operation["requestBody"]["content"]
        assert operation["parameters"][0]["name"] == "X-Twilio-Signature"


class BrokenDirectory:
    async def contacts_by_phone(self, phone: str) -> list[object]:
        raise ConnectionRefusedError("PostgreSQL is away")

    async def message_by_provider_id(self, provider_id: str) -> None:
        raise ConnectionRefusedError("PostgreSQL is away")


async def test_the_directory_away_is_503_not_500() -> None:
    parts = dataclasses.replace(make_parts(), directory=BrokenDirectory())  # type: ignore[arg-type]
    answer = await post(parts, "/sms/inbound", twilio.inbound(PHONE, "STOP"))
    assert answer.status_code == 503 and "retry-after" in answer.headers
    status_answer = await post(parts, "/sms/status", twilio.status(twilio.sid(), "delivered"))
    assert status_answer.status_code == 503
    assert published(parts).published == []


_TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # no lone surrogates
_NAMES = st.one_of(
    st.sampled_from(["MessageSid", "SmsSid", "From", "To", "Body", "MessageStatus", "ErrorCode"]),
    _TEXT,
)
_VALUES = st.one_of(
    _TEXT,
    st.sampled_from([PHONE, OWN, "STOP", " help ", "delivered", "undelivered", "30005", ""]),
    st.builds(twilio.sid),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    path=st.sampled_from(["/sms/inbound", "/sms/status"]),
    sid=st.one_of(st.builds(twilio.sid), _VALUES),
    fields=st.fixed_dictionaries(
        {name: _VALUES for name in ("From", "To", "Body", "MessageStatus", "ErrorCode")}
    ),
    dropped=st.sets(st.sampled_from(["MessageSid", "From", "To", "Body", "MessageStatus"])),
    extra=st.lists(st.tuples(_NAMES, _VALUES), max_size=4),
)
async def test_no_signed_form_gets_a_500(
    path: str, sid: str, fields: dict[str, str], dropped: set[str], extra: list[tuple[str, str]]
) -> None:
    """Twilio-shaped forms whose every field may be missing, empty, odd or hostile, signed as
    Twilio signs (so that they get past the signature): answered, never a 500."""
    parts = make_parts()
    await know(parts, A, B)
    message = await texted(parts, A)
    if path == "/sms/status" and sid.startswith("SM") and len(sid) == 34:
        sid = message.provider_id or sid  # a message the index knows, sometimes
    params = [("MessageSid", sid), *fields.items(), *extra]
    params = [(name, value) for name, value in params if name not in dropped]
    answer = await post(parts, path, params)
    assert answer.status_code in {200, 204, 400, 403, 413, 415, 422, 503}, answer.text
