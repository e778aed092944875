"""Campaign categories on the preference page, through the app with fakes: the shop's boxes
as the customer left them, a dropped category published once per form, a form shown before
the shop changed its list shown again, shops without categories unchanged."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest

from services.feedback.directory import ConsentFact, ContactFacts, ContactRef
from services.feedback.parts import Parts
from services.feedback.unsubscribe.categories import Category
from shared.events.feedback import CategoryPreferenceEvent
from shared.unsubscribe import Unsubscribe, sign
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import RecordingPublisher, create_app, fake_parts

REF = ContactRef("acme", "c1")
TOKEN = sign(TEST_LINK_KEYS, Unsubscribe("acme", "c1", "email"))
BROWSER = {"accept": "text/html", "origin": "http://feedback"}
OFFERS = Category(id="offers", label="Offers & discounts")
TIPS = Category(id="tips", label="Brewing tips")
EARLIER = datetime(2026, 12, 1, tzinfo=UTC)


def app_parts(**categories: tuple[Category, ...]) -> Parts:
    return dataclasses.replace(fake_parts(public_url="http://feedback"), categories=categories)


@pytest.fixture
async def client() -> AsyncIterator[tuple[httpx.AsyncClient, Parts]]:
    parts = app_parts(acme=(OFFERS, TIPS))
    await parts.directory.record(
        [ContactFacts(REF, email="ada@example.com", email_consent=ConsentFact(True, EARLIER))],
        [],
    )
    transport = httpx.ASGITransport(app=create_app(parts))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as http:
        yield http, parts


def nonce_of(page: httpx.Response) -> str:
    found = re.search(r'name="form" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def published(parts: Parts) -> list[CategoryPreferenceEvent]:
    assert isinstance(parts.publisher, RecordingPublisher)
    return [e for e in parts.publisher.published if isinstance(e, CategoryPreferenceEvent)]


async def test_the_page_offers_the_shops_categories_as_the_customer_left_them(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, parts = client
    stated = ConsentFact(False, EARLIER)
    await parts.directory.record([ContactFacts(REF, categories=(("tips", stated),))], [])
    page = await http.get(f"/u/{TOKEN}", headers=BROWSER)
    assert page.status_code == 200
    assert 'name="category:offers" value="on" checked' in page.text
    assert 'name="category:tips" value="on">' in page.text  # dropped: not ticked
    assert "Offers &amp; discounts" in page.text and "Brewing tips" in page.text


async def test_dropping_a_category_publishes_it_once_per_form(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, parts = client
    nonce = nonce_of(await http.get(f"/u/{TOKEN}", headers=BROWSER))
    fields = {"form": nonce, "action": "save", "email": "on", "category:tips": "on"}
    saved = await http.post(f"/u/{TOKEN}/preferences", data=fields, headers=BROWSER)
    assert saved.status_code == 200, saved.text
    assert "Offers &amp; discounts: <strong>off</strong>" in saved.text
    (dropped,) = published(parts)
    assert dropped.key == "acme:c1"
    assert (dropped.data.category, dropped.data.subscribed) == ("offers", False)
    assert dropped.data.source == "preference_center"
    assert isinstance(parts.publisher, RecordingPublisher)
    assert len(parts.publisher.published) == 1  # the channel was left as it was
    await http.post(f"/u/{TOKEN}/preferences", data=fields, headers=BROWSER)
    assert [e.id for e in published(parts)] == [dropped.id, dropped.id]  # the same fact


async def test_confirming_the_unsubscribe_leaves_the_categories_alone(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, parts = client
    nonce = nonce_of(await http.get(f"/u/{TOKEN}", headers=BROWSER))
    data = {"form": nonce, "action": "unsubscribe"}
    done = await http.post(f"/u/{TOKEN}/preferences", data=data, headers=BROWSER)
    assert done.status_code == 200
    assert published(parts) == []


async def test_a_form_shown_before_the_shop_changed_its_categories_is_shown_again(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, parts = client
    nonce = nonce_of(await http.get(f"/u/{TOKEN}", headers=BROWSER))
    changed = dataclasses.replace(parts, categories={"acme": (TIPS,)})
    transport = httpx.ASGITransport(app=create_app(changed))
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as later:
        fields = {"form": nonce, "action": "save", "email": "on"}
        again = await later.post(f"/u/{TOKEN}/preferences", data=fields, headers=BROWSER)
    assert again.status_code == 403
    assert "review them" in again.text and 'name="category:tips"' in again.text
    assert published(parts) == []


async def test_a_box_with_a_value_no_page_sends_is_refused_naming_it(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, parts = client
    nonce = nonce_of(await http.get(f"/u/{TOKEN}", headers=BROWSER))
    fields = {"form": nonce, "action": "save", "email": "on", "category:offers": "maybe"}
    refused = await http.post(
        f"/u/{TOKEN}/preferences", data=fields, headers={"origin": "http://feedback"}
    )
    assert refused.status_code == 422
    assert "category:offers" in refused.text
    assert published(parts) == []


async def test_a_shop_without_categories_shows_none(
    client: tuple[httpx.AsyncClient, Parts],
) -> None:
    http, _ = client
    other = sign(TEST_LINK_KEYS, Unsubscribe("bakery", "c1", "email"))
    page = await http.get(f"/u/{other}", headers=BROWSER)
    assert page.status_code == 200
    assert "category:" not in page.text
