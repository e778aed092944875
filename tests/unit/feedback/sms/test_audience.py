"""Whom an inbound text concerns: a phone several shops share never leaks one shop's customer
into another's, and a shop's own number decides."""

from __future__ import annotations

from datetime import UTC, datetime

from services.feedback.directory import Contact, ContactRef, SentMessage
from services.feedback.sms.audience import answering_shop, audience, reply_recipient, start_refs
from services.feedback.sms.profiles import SmsProfile, SmsProfiles
from shared.events.shop import Channel

PHONE = "+31612345678"
SHARED = "+15005550006"
OWN = "+14155550199"
A, B, C = ContactRef("shop-a", "a-1"), ContactRef("shop-b", "b-7"), ContactRef("shop-c", "c-3")
PROFILES = SmsProfiles(
    SmsProfile(brand="Nudge"), {"shop-c": SmsProfile(brand="Shop C", sender=OWN)}
)


def contact(ref: ContactRef) -> Contact:
    return Contact(ref, None, PHONE, None, True)


def sent(ref: ContactRef, minute: int = 0) -> SentMessage:
    at = datetime(2026, 12, 1, 10, minute, tzinfo=UTC)
    return SentMessage(f"m-{ref.customer_id}", ref, Channel.SMS, "t", "cart", False, "SM1", at)


EVERYONE = [contact(A), contact(B), contact(C)]


def test_the_shared_number_covers_the_shops_without_a_number_of_their_own() -> None:
    scope = audience(EVERYONE, SHARED, PROFILES)
    assert scope.refs == [A, B] and scope.owner is None
    assert audience(EVERYONE, None, PROFILES).refs == [A, B]


def test_a_shops_own_number_covers_that_shop_alone() -> None:
    scope = audience(EVERYONE, OWN, PROFILES)
    assert scope.refs == [C] and scope.owner == "shop-c"
    assert answering_shop(scope, sent(A)) == "shop-c"  # even if another shop texted last
    assert reply_recipient(scope, sent(A)) == (C, None)  # a message outside is never named
    assert audience([contact(A)], OWN, PROFILES).refs == []


def test_a_reply_goes_to_whoever_texted_last_and_to_no_one_else() -> None:
    scope = audience(EVERYONE, SHARED, PROFILES)
    last = sent(B, minute=5)
    assert reply_recipient(scope, last) == (B, last)
    assert answering_shop(scope, last) == "shop-b"


def test_a_reply_nobody_texted_first_goes_nowhere_when_shops_share_the_phone() -> None:
    scope = audience(EVERYONE, SHARED, PROFILES)
    assert reply_recipient(scope, None) is None
    assert answering_shop(scope, None) is None  # the deployment answers
    assert reply_recipient(scope, sent(C)) is None  # C's message is outside the scope


def test_a_phone_only_one_shop_knows_is_that_shops() -> None:
    scope = audience([contact(A)], SHARED, PROFILES)
    assert reply_recipient(scope, None) == (A, None)
    assert answering_shop(scope, None) == "shop-a"
    nobody = audience([], SHARED, PROFILES)
    assert reply_recipient(nobody, None) is None and answering_shop(nobody, None) is None


def test_start_gives_back_what_stop_took_and_no_brand_more() -> None:
    stopped = Contact(A, None, PHONE, None, False)  # a STOP withdrew shop A's consent
    never = Contact(B, None, PHONE, None, None)  # shop B never had it
    scope = audience([stopped, never], SHARED, PROFILES)
    assert start_refs(scope, answering=None) == [A]
    assert start_refs(scope, answering="shop-b") == [A, B]  # B's is the brand texted back
