"""Every shipped template renders for a realistic trigger and follows PRODUCT.md's checklists."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.dispatch.incentives import Incentive
from services.dispatch.templates import RecipientView, TemplateStore, render_variables
from services.dispatch.templates.sources import BUILTIN
from tests.unit.dispatch_templates.builders import (
    ANNA,
    BRAND,
    CASES,
    LINKS,
    SHIPMENT,
    SHOP,
    trigger,
    variables,
)

_FORBIDDEN = ("{{", "{%", "}}", "None", "undefined", "Undefined")
_STORE = TemplateStore.load()
_SHIPPED = [(loc, tid, ch) for root, loc, tid, ch in _STORE.listing() if root == BUILTIN]
_MARKETING_SMS_STOP = {"en": "Reply STOP to opt out", "nl": "Stuur STOP om je af te melden"}
_GREETING = {"en": "Hi %s,", "nl": "Hoi %s,"}
_NOBODY = {"en": "there", "nl": "daar"}


def _assert_clean(*outputs: str) -> None:
    for output in outputs:
        for bad in _FORBIDDEN:
            assert bad not in output, f"{bad!r} in output:\n{output}"


def test_every_campaign_template_and_channel_is_shipped_in_english() -> None:
    for template_id, (_, _, _, channels, _, _) in CASES.items():
        for channel in channels:
            assert ("en", template_id, channel) in _SHIPPED, (template_id, channel)
    assert {tid for _, tid, _ in _SHIPPED} == set(CASES)


def test_dutch_covers_transactional_and_abandoned_cart() -> None:
    dutch = {(tid, ch) for loc, tid, ch in _SHIPPED if loc == "nl"}
    for template_id, (_, _, _, channels, _, _) in CASES.items():
        if template_id.startswith(("order/", "cart/")):
            assert {(template_id, c) for c in channels} <= dutch


@pytest.mark.parametrize(("locale", "template_id", "channel"), _SHIPPED)
def test_renders_for_its_campaign(
    store: TemplateStore, locale: str, template_id: str, channel: str
) -> None:
    transactional = CASES[template_id][2]
    for contact in (RecipientView(first_name="Anna"), RecipientView()):
        v = variables(template_id, contact)
        if channel == "email":
            email = store.render_email(SHOP, template_id, locale, v)
            assert email.locale_used == locale and email.template_id == template_id
            assert email.subject and email.html and email.text.strip()
            _assert_clean(email.subject, email.html, email.text)
            assert "help@acme.example" in email.text and "help@acme.example" in email.html
            greeting = _GREETING[locale] % (contact.first_name or _NOBODY[locale])
            assert greeting in email.text and greeting in email.html
            unsubscribe = "https://nudge.example/u/acme-coffee/tok123"
            assert (unsubscribe in email.text) is (not transactional)
            assert (unsubscribe in email.html) is (not transactional)
        else:
            sms = store.render_sms(SHOP, template_id, locale, v)
            assert sms.locale_used == locale and 1 <= sms.segments <= 2
            _assert_clean(sms.body)
            assert (_MARKETING_SMS_STOP[locale] in sms.body) is (not transactional)


@pytest.mark.parametrize("template_id", ["cart/reminder-1", "cart/reminder-2", "cart/reminder-3"])
@pytest.mark.parametrize("locale", ["en", "nl"])
def test_cart_reminders_show_items_images_link_and_hold_notice(
    store: TemplateStore, template_id: str, locale: str
) -> None:
    email = store.render_email(SHOP, template_id, locale, variables(template_id))
    assert '<img src="https://cdn.acme.example/p1.jpg"' in email.html
    assert "Ethiopia Yirgacheffe 250 g" in email.text
    assert "https://acme.example/cart/recover/abc123" in email.text
    assert "https://acme.example/cart/recover/abc123" in email.html
    hold = {"en": "hold", "nl": "bewaren"}[locale]
    assert hold in email.text


def test_recommendations_without_products_link_to_the_shop(store: TemplateStore) -> None:
    v = variables("cart/reminder-1", recommended=[])
    email = store.render_email(SHOP, "cart/reminder-1", "en", v)
    assert "Have a look at what's new at Acme Coffee: https://acme.example" in email.text
    with_products = store.render_email(SHOP, "cart/reminder-1", "en", variables("cart/reminder-1"))
    assert "Paper filters (100), €4.95" in with_products.text


@pytest.mark.parametrize(
    ("locale", "price", "shop_line"),
    [
        ("en", "€25.00", "what's new at Acme Coffee"),
        ("nl", "€ 25,00", "wat er nieuw is bij Acme Coffee"),
    ],
)
def test_macros_format_for_the_message_locale_and_show_the_shop(
    store: TemplateStore, locale: str, price: str, shop_line: str
) -> None:
    """The macros are imported without the caller's context: money still follows the
    message's locale, and the shop they show is the one passed in."""
    v = variables("cart/reminder-1", recommended=[])
    email = store.render_email(SHOP, "cart/reminder-1", locale, v)
    assert price in email.text and price in email.html  # 2 x 12.50, in the items macro
    assert shop_line in email.text and shop_line in email.html
    other = {**v, "shop": {**v["shop"], "name": "Bean There"}}
    again = store.render_email(SHOP, "cart/reminder-1", locale, other)
    assert shop_line.replace("Acme Coffee", "Bean There") in again.text


def test_win_back_variants_change_the_content(store: TemplateStore) -> None:
    newest = store.render_email(SHOP, "win-back/offer", "en", variables("win-back/offer"))
    personal = store.render_email(
        SHOP, "win-back/offer", "en", variables("win-back/offer", variant="personal")
    )
    assert "New since your last visit" in newest.text
    assert "Picked for you, based on what you bought" in personal.text
    assert "COMEBACK15" in newest.text and "COMEBACK15" in personal.text


@pytest.mark.parametrize(
    ("template_id", "with_percent", "without"),
    [
        (
            "win-back/offer",
            "Here's 20% off to welcome you back: COMEBACK20",
            "Here's a welcome-back discount, just for you: COMEBACK20",
        ),
        (
            "win-back/follow-up",
            "Your personal code for 12.5% off: COMEBACK20",
            "Your personal code: COMEBACK20",
        ),
    ],
)
def test_win_back_shows_the_code_chosen_for_the_customer_and_names_its_percentage(
    store: TemplateStore, template_id: str, with_percent: str, without: str
) -> None:
    percent = Decimal(20) if template_id == "win-back/offer" else Decimal("12.50")

    def email(incentive: Incentive) -> str:
        v = render_variables(trigger(template_id), ANNA, BRAND, LINKS, incentive=incentive)
        rendered = store.render_email(SHOP, template_id, "en", v)
        _assert_clean(rendered.html, rendered.text)
        return " ".join(rendered.text.split())

    assert with_percent in email(Incentive("COMEBACK20", percent))
    assert without in email(Incentive("COMEBACK20"))
    assert "COMEBACK15" not in email(Incentive("COMEBACK20"))  # the campaign's code is replaced


def test_the_win_back_sms_names_the_percentage_when_known(store: TemplateStore) -> None:
    def sms(incentive: Incentive) -> str:
        fired = trigger("win-back/follow-up")
        v = render_variables(fired, ANNA, BRAND, LINKS, incentive=incentive)
        return store.render_sms(SHOP, "win-back/follow-up", "en", v).body

    assert "code COMEBACK20 (20% off) is still waiting" in sms(Incentive("COMEBACK20", Decimal(20)))
    assert "code COMEBACK20 is still waiting" in sms(Incentive("COMEBACK20"))


def test_without_a_chosen_incentive_templates_get_the_campaigns_code() -> None:
    v = variables("win-back/offer")
    assert v["incentive_code"] == "COMEBACK15"
    assert v["incentive"] == {"code": "COMEBACK15", "percent": None}
    assert variables("cart/reminder-1")["incentive"] is None


def test_welcome_offers_the_other_channel_and_asks_the_preferred_one(
    store: TemplateStore,
) -> None:
    email = store.render_email(SHOP, "welcome/1-welcome", "en", variables("welcome/1-welcome"))
    assert "WELCOME10" in email.text
    assert "How would you like to hear from us?" in email.text
    assert "SMS" in email.text


@pytest.mark.parametrize(
    "status",
    ["out_for_delivery", "attempted_delivery", "delayed", "ready_for_pickup", "failure", None],
)
@pytest.mark.parametrize("locale", ["en", "nl"])
def test_shipping_update_wording_per_status(
    store: TemplateStore, status: str | None, locale: str
) -> None:
    v = variables("order/shipping-update", shipment={**SHIPMENT, "status": status})
    email = store.render_email(SHOP, "order/shipping-update", locale, v)
    sms = store.render_sms(SHOP, "order/shipping-update", locale, v)
    _assert_clean(email.subject, email.text, email.html, sms.body)
    assert "#1001" in sms.body and "https://postnl.example/track/3SABCD1234567" in sms.body


def test_review_request_without_a_survey_link_asks_for_a_reply(store: TemplateStore) -> None:
    v = variables("review/request")
    v["links"] = {**v["links"], "survey": None}
    email = store.render_email(SHOP, "review/request", "en", v)
    sms = store.render_sms(SHOP, "review/request", "en", v)
    assert "reply to this email with a number from 1 (poor) to 5 (great)" in email.text
    assert "Reply with a number from 1 (poor) to 5 (great)." in sms.body
    _assert_clean(email.text, email.html, sms.body)
