"""The preference form: what a page offers, the nonce that proves a POST follows one, the
origin check, and what a submission changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.feedback.directory import Contact, ContactRef
from services.feedback.unsubscribe.link import LinkTarget
from services.feedback.unsubscribe.preference_form import (
    FORM_TTL,
    FormRefused,
    Shown,
    accept,
    check_origin,
    choose,
    issue,
    shown_for,
)
from shared.events.shop import Channel
from shared.http.problems import Problem
from shared.unsubscribe import Unsubscribe, sign
from tests.support.dispatch_process import TEST_LINK_KEYS

REF = ContactRef("acme", "c1")
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
TOKEN = sign(TEST_LINK_KEYS, Unsubscribe("acme", "c1", "email"))
OTHER_TOKEN = sign(TEST_LINK_KEYS, Unsubscribe("acme", "c2", "email"))
EMAIL_LINK = LinkTarget(REF, Channel.EMAIL)
PUBLIC = "https://feedback.example"
BOTH = Shown(((Channel.EMAIL, True), (Channel.SMS, False)))


def contact(email: bool | None, sms: bool | None, phone: str | None = "+31612345678") -> Contact:
    return Contact(REF, "ada@example.com", phone, email, sms)


def test_a_page_offers_the_links_channel_and_any_other_with_an_address() -> None:
    assert shown_for(EMAIL_LINK, contact(True, False)) == BOTH
    assert shown_for(EMAIL_LINK, contact(False, True)) == Shown(
        ((Channel.EMAIL, False), (Channel.SMS, True))
    )
    no_phone = shown_for(EMAIL_LINK, contact(True, None, phone=None))
    assert no_phone == Shown(((Channel.EMAIL, True),))


def test_the_links_channel_counts_as_subscribed_until_the_directory_says_otherwise() -> None:
    assert shown_for(EMAIL_LINK, None) == Shown(((Channel.EMAIL, True),))
    sms_link = LinkTarget(REF, Channel.SMS)
    assert shown_for(sms_link, contact(None, None)) == Shown(
        ((Channel.EMAIL, False), (Channel.SMS, True))
    )


def test_a_nonce_gives_back_what_its_page_showed() -> None:
    nonce = issue(TEST_LINK_KEYS, TOKEN, BOTH, NOW)
    assert accept(TEST_LINK_KEYS, TOKEN, nonce, NOW + timedelta(minutes=3)) == BOTH
    assert issue(TEST_LINK_KEYS, TOKEN, BOTH, NOW) != nonce  # each page its own


def refused(nonce: str | None, now: datetime = NOW, token: str = TOKEN) -> FormRefused:
    with pytest.raises(FormRefused) as caught:
        accept(TEST_LINK_KEYS, token, nonce, now)
    return caught.value


def test_a_nonce_not_issued_for_this_link_is_refused() -> None:
    nonce = issue(TEST_LINK_KEYS, TOKEN, BOTH, NOW)
    assert "missing" in refused(None).reason
    assert "missing" in refused("").reason
    assert "not issued" in refused("k0.AAAA.BBBB").reason
    assert "not issued" in refused(TOKEN).reason  # an unsubscribe token is not a form nonce
    kid, payload, mac = nonce.split(".")
    assert "not issued" in refused(f"{kid}.{payload[:-2]}AA.{mac}").reason
    assert "another link" in refused(nonce, token=OTHER_TOKEN).reason
    assert not refused(nonce, token=OTHER_TOKEN).expired


def test_a_page_open_too_long_is_shown_again_and_a_future_one_refused() -> None:
    nonce = issue(TEST_LINK_KEYS, TOKEN, BOTH, NOW)
    assert accept(TEST_LINK_KEYS, TOKEN, nonce, NOW + FORM_TTL) == BOTH
    late = refused(nonce, NOW + FORM_TTL + timedelta(seconds=1))
    assert late.expired
    assert "future" in refused(nonce, NOW - timedelta(hours=1)).reason


@pytest.mark.parametrize(
    ("origin", "fetch_site", "host", "public_url"),
    [
        (None, None, None, PUBLIC),  # an old browser, a script: the nonce still decides
        ("null", None, "feedback.example", PUBLIC),
        ("https://feedback.example", "same-origin", "10.0.0.7:8083", PUBLIC),  # the public URL
        ("https://feedback.example:443", None, None, PUBLIC),
        # the Host it was sent to (a test's port, not the configured one)
        ("http://127.0.0.1:40123", "same-origin", "127.0.0.1:40123", "http://127.0.0.1:8083"),
    ],
)
def test_a_same_origin_post_passes(
    origin: str | None, fetch_site: str | None, host: str | None, public_url: str
) -> None:
    check_origin(origin=origin, fetch_site=fetch_site, host=host, public_url=public_url)


@pytest.mark.parametrize(
    ("origin", "fetch_site"),
    [
        ("https://evil.example", None),
        ("https://feedback.example.evil.example", None),
        ("http://feedback.example", None),  # another origin: the scheme differs
        (None, "cross-site"),
        (None, "same-site"),
        ("https://feedback.example", "cross-site"),
    ],
)
def test_a_cross_site_post_is_refused(origin: str | None, fetch_site: str | None) -> None:
    with pytest.raises(FormRefused):
        check_origin(
            origin=origin,
            fetch_site=fetch_site,
            host="feedback.example",
            public_url=PUBLIC,
        )


def test_save_changes_what_the_customer_changed() -> None:
    kept = choose({"action": ["save"], "email": ["on"]}, BOTH, Channel.EMAIL)
    assert kept.changes == []
    swapped = choose({"action": ["save"], "sms": ["on"]}, BOTH, Channel.EMAIL)
    assert swapped.chosen == {Channel.EMAIL: False, Channel.SMS: True}
    assert swapped.changes == [(Channel.EMAIL, False), (Channel.SMS, True)]
    ignored = choose({"action": ["save"], "email": ["on"], "push": ["on"]}, BOTH, Channel.EMAIL)
    assert ignored.changes == []  # a box the page did not offer changes nothing


def test_unsubscribe_withdraws_the_links_channel_even_if_shown_withdrawn() -> None:
    gone = Shown(((Channel.EMAIL, False), (Channel.SMS, True)))
    choice = choose({"action": ["unsubscribe"]}, gone, Channel.EMAIL)
    assert choice.changes == [(Channel.EMAIL, False)]
    assert choice.chosen == {Channel.EMAIL: False, Channel.SMS: True}


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({}, "action"),
        ({"action": ["delete"]}, "action"),
        ({"action": ["save", "unsubscribe"]}, "action"),
        ({"action": ["save"], "email": ["maybe"]}, "email"),
    ],
)
def test_what_a_page_cannot_send_is_refused_naming_the_field(
    fields: dict[str, list[str]], field: str
) -> None:
    with pytest.raises(Problem) as caught:
        choose(fields, BOTH, Channel.EMAIL)
    assert caught.value.status == 422
    assert [e.field for e in caught.value.errors] == [field]
