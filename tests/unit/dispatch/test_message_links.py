"""What a rendered message carries: every link to the shop tracked (in HTML, the text part and
SMS), the open pixel in HTML email, the signed survey link where a step asks for it; nothing
of it where the shop's profile turns tracking off; an SMS that tracked links would make too
long goes untracked."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import pytest
from prometheus_client import REGISTRY
from selectolax.lexbor import LexborHTMLParser

from services.dispatch.message_log import MessageRow
from services.dispatch.policy import ChannelState, Contact, Send
from services.dispatch.sender import Delivery, Job, Outlet, Sender
from services.dispatch.settings import DispatchSettings
from services.dispatch.shop_profiles import ShopProfiles
from services.dispatch.templates.store import RenderedEmail, RenderedSms, TemplateStore
from shared import survey_links
from shared.clock import make_clock
from shared.events.feedback import SurveyKind
from shared.events.shop import Channel
from shared.events.triggers import TriggerFired
from shared.survey_links import Invitation
from shared.tracking_links import Tracked, verify_click, verify_open
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.unit.dispatch_templates.builders import trigger

PUBLIC = "https://feedback.example"
NOW = datetime(2027, 3, 1, 12, tzinfo=UTC)
SHOP = "acme-coffee"
ADA = Contact(
    email=ChannelState("ada@example.com", True),
    sms=ChannelState("+31612345678", True),
    locale="en",
    first_name="Ada",
)


def sender(
    profiles: dict[str, str] | None = None, templates: Path | None = None, tmp: Path | None = None
) -> Sender:
    shops_dir = None
    if profiles:
        assert tmp is not None
        shops_dir = tmp / "shops"
        shops_dir.mkdir()
        for shop, text in profiles.items():
            (shops_dir / f"{shop}.yaml").write_text(text)
    return Sender(
        None,  # type: ignore[arg-type]
        templates=TemplateStore.load(templates),
        shops=ShopProfiles.load(shops_dir, "https://{shop_id}.example"),
        delivery=cast(Delivery, None),
        statuses=cast(Outlet, None),
        settings=DispatchSettings(public_url=PUBLIC),
        link_keys=TEST_LINK_KEYS,
        clock=make_clock(),
        circuits={},
    )


def row(fired: TriggerFired, shop: str = SHOP) -> MessageRow:
    return MessageRow(
        trigger_id=f"t-{fired.template_id}",
        shop_id=shop,
        customer_id="c1",
        journey_id="j-1",
        attempts=0,
        trigger=fired,
        state="queued",
        channel=None,
        message_id=None,
        address=None,
        created_at=NOW,
    )


def review(**update: object) -> TriggerFired:
    return trigger("review/request").model_copy(update={"survey": SurveyKind.CSAT, **update})


def email(job: Job) -> RenderedEmail:
    assert isinstance(job.rendered, RenderedEmail)
    return job.rendered


def sms(job: Job) -> RenderedSms:
    assert isinstance(job.rendered, RenderedSms)
    return job.rendered


def hrefs(html: str) -> list[str]:
    return [n.attrs["href"] or "" for n in LexborHTMLParser(html).css("a[href]")]


def click_target(url: str) -> str:
    assert url.startswith(f"{PUBLIC}/c/"), url
    found = verify_click(TEST_LINK_KEYS, url.removeprefix(f"{PUBLIC}/c/"))
    assert found is not None
    return found.url


def test_every_link_of_an_email_is_tracked_but_unsubscribe(tmp_path: Path) -> None:
    job = sender()._render(row(trigger("cart/reminder-2")), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    links = hrefs(email(job).html)
    unsubscribe = [u for u in links if u.startswith(f"{PUBLIC}/u/")]
    assert len(unsubscribe) == 1
    targets = {click_target(u) for u in links if u not in unsubscribe}
    assert "https://acme.example/cart/recover/abc123" in targets
    assert "https://acme.example/products/yirgacheffe" in targets
    clicks = [verify_click(TEST_LINK_KEYS, u.rsplit("/", 1)[1]) for u in links if "/c/" in u]
    assert {c.tracked for c in clicks if c is not None} == {Tracked(SHOP, "c1", job.message_id)}
    assert None not in clicks


def test_the_text_part_is_tracked_too_and_keeps_its_unsubscribe_link() -> None:
    job = sender()._render(row(trigger("cart/reminder-2")), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    words = email(job).text.split()
    web = [w for w in words if w.startswith("http")]
    assert web and all(w.startswith(f"{PUBLIC}/c/") or w.startswith(f"{PUBLIC}/u/") for w in web)
    assert "https://acme.example/cart/recover/abc123" in {
        click_target(w) for w in web if "/c/" in w
    }


def test_the_pixel_ends_the_html_body_and_names_the_message() -> None:
    job = sender()._render(row(trigger("cart/reminder-2")), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    images = LexborHTMLParser(email(job).html).css("body img")
    pixel = images[-1]
    assert (pixel.attrs["width"], pixel.attrs["height"], pixel.attrs["alt"]) == ("1", "1", "")
    src = pixel.attrs["src"] or ""
    assert src.startswith(f"{PUBLIC}/o/") and src.endswith(".gif")
    token = src.removeprefix(f"{PUBLIC}/o/").removesuffix(".gif")
    assert verify_open(TEST_LINK_KEYS, token) == Tracked(SHOP, "c1", job.message_id)


def test_the_review_request_carries_a_survey_link_tracked_once() -> None:
    job = sender()._render(row(review()), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    surveys = [click_target(u) for u in hrefs(email(job).html) if u.startswith(f"{PUBLIC}/c/")]
    survey = [t for t in surveys if t.startswith(f"{PUBLIC}/s/")]
    assert len(survey) == 1, surveys
    found = survey_links.verify(TEST_LINK_KEYS, survey[0].removeprefix(f"{PUBLIC}/s/"), NOW)
    assert isinstance(found, Invitation)
    assert (found.message_id, found.survey, found.order_id) == (job.message_id, "csat", "o-1001")


def test_a_shop_that_turns_tracking_off_sends_plain_links_and_no_pixel(tmp_path: Path) -> None:
    off = sender({SHOP: "tracking: {clicks: false, opens: false}\n"}, tmp=tmp_path)
    job = off._render(row(review()), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    html = email(job).html
    assert f"{PUBLIC}/c/" not in html and f"{PUBLIC}/o/" not in html
    assert f"{PUBLIC}/c/" not in email(job).text
    assert any(u.startswith(f"{PUBLIC}/s/") for u in hrefs(html))  # the survey stays


def test_opens_alone_can_be_turned_off(tmp_path: Path) -> None:
    no_pixel = sender({SHOP: "tracking: {opens: false}\n"}, tmp=tmp_path)
    job = no_pixel._render(row(trigger("cart/reminder-2")), ADA, Send(Channel.EMAIL, "a@x"), NOW)
    assert f"{PUBLIC}/o/" not in email(job).html
    assert any(u.startswith(f"{PUBLIC}/c/") for u in hrefs(email(job).html))


def test_a_tracking_section_with_a_typo_is_refused_at_start(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="click"):
        sender({SHOP: "tracking: {click: false}\n"}, tmp=tmp_path)


def untracked_sms() -> float:
    return REGISTRY.get_sample_value("nudge_dispatch_sms_untracked_total") or 0.0


def test_an_sms_whose_tracked_links_fit_is_tracked(tmp_path: Path) -> None:
    own = tmp_path / "templates" / SHOP / "en" / "cart"
    own.mkdir(parents=True)
    (own / "reminder-2.sms.j2").write_text(
        "---\nmax_segments: 4\n---\n{{ shop.name }}: your cart {{ cart.url }} or see "
        "https://acme.example/offers. Reply STOP to opt out"
    )
    before = untracked_sms()
    job = sender(templates=tmp_path / "templates")._render(
        row(trigger("cart/reminder-2")), ADA, Send(Channel.SMS, "+31612345678"), NOW
    )
    body = sms(job).body
    tracked = [w.rstrip(".") for w in body.split() if w.startswith("http")]
    assert {click_target(w) for w in tracked} == {
        "https://acme.example/cart/recover/abc123",
        "https://acme.example/offers",
    }
    assert body.endswith(". Reply STOP to opt out") and sms(job).segments <= 4
    assert untracked_sms() == before


def test_an_sms_that_tracked_links_would_make_too_long_goes_untracked() -> None:
    before = untracked_sms()
    job = sender()._render(row(review()), ADA, Send(Channel.SMS, "+31612345678"), NOW)
    body = sms(job).body
    assert f"{PUBLIC}/c/" not in body
    assert f"{PUBLIC}/s/" in body and sms(job).segments <= 2
    assert untracked_sms() == before + 1


def test_a_review_request_sms_with_its_survey_link_fits_two_parts_whatever_the_name(
    tmp_path: Path,
) -> None:
    """The e2e run found review requests refused as three parts for customers with long
    names at a shop with a long name: the first name is cut, and the text leaves room."""
    profile = "brand:\n  name: Sim Segment Supplies Worldwide\n  from_email: hi@shop.example\n"
    long_named = replace(ADA, first_name="Maximiliana-Josephine Alexandra")
    job = sender({SHOP: profile}, tmp=tmp_path)._render(
        row(review()), long_named, Send(Channel.SMS, "+31612345678"), NOW
    )
    body = sms(job).body
    assert f"{PUBLIC}/s/" in body and sms(job).segments <= 2
    assert body.startswith("Sim Segment Supplies Worldwide: Hi Maximiliana-Josephin,")
    assert body.endswith("Reply STOP to opt out")


def test_a_transactional_step_that_asks_for_an_answer_gets_its_survey_link_too() -> None:
    job = sender()._render(
        row(review(transactional=True)), ADA, Send(Channel.SMS, "+31612345678"), NOW
    )
    assert f"{PUBLIC}/s/" in sms(job).body
