"""Whom an inbound text concerns, from the numbers it names: a pure decision.

All shops send from the deployment's one number today, so a phone may be a customer of
several shops. The number the customer texted (`To`) decides the scope: a shop's own sender
number (its profile's `sms.sender`) covers that shop alone; any other number (the shared
sender) covers the shops without a number of their own. Within the scope:

- STOP acts on every contact with that phone (carriers treat the number as opted out), each
  keyed to that shop's own customer; START gives back what a STOP took: it grants SMS consent
  where it stands withdrawn, and to the shop the customer is answering (the one texted, or
  that texted last), never to another brand sharing the number that was never agreed to;
- a reply belongs to the contact the last text to that phone went to, or, when nobody texted
  it yet, to its only contact; with several and no text, to no one (counted, not published);
- answers (confirmations, help) speak as the shop whose number was texted, else the shop that
  last texted the phone, else its only shop, else as the deployment.

A contact outside the scope is never named, so one shop's customer id never reaches another
shop's events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.feedback.directory import Contact, ContactRef, SentMessage
from services.feedback.sms.profiles import SmsProfiles


@dataclass(frozen=True)
class Audience:
    contacts: tuple[Contact, ...]
    """The contacts with the phone that this text may act on."""
    owner: str | None = None
    """The shop whose own sender number was texted, if it was one."""

    @property
    def refs(self) -> list[ContactRef]:
        return [contact.ref for contact in self.contacts]

    def covers(self, message: SentMessage | None) -> SentMessage | None:
        """`message` when it went to a contact in scope, else None."""
        if message is not None and message.ref in self.refs:
            return message
        return None


def audience(contacts: Sequence[Contact], to_number: str | None, profiles: SmsProfiles) -> Audience:
    owner = profiles.owner_of(to_number) if to_number else None
    if owner is not None:
        return Audience(tuple(c for c in contacts if c.ref.shop_id == owner), owner)
    shared = tuple(c for c in contacts if not profiles.has_own_number(c.ref.shop_id))
    return Audience(shared)


def start_refs(scope: Audience, answering: str | None) -> list[ContactRef]:
    """Whom a START opts back in: the contacts whose SMS consent stands withdrawn (a STOP took
    it, on every shop in scope), and the answering shop's contact, whatever it held."""
    return [
        contact.ref
        for contact in scope.contacts
        if contact.sms_consent is False or contact.ref.shop_id == answering
    ]


def answering_shop(scope: Audience, last: SentMessage | None) -> str | None:
    """The shop whose texts answer; None: the deployment's."""
    if scope.owner is not None:
        return scope.owner
    last = scope.covers(last)
    if last is not None:
        return last.ref.shop_id
    shops = {contact.ref.shop_id for contact in scope.contacts}
    return shops.pop() if len(shops) == 1 else None


def reply_recipient(
    scope: Audience, last: SentMessage | None
) -> tuple[ContactRef, SentMessage | None] | None:
    """The contact a plain reply belongs to and the message it answers, or None."""
    last = scope.covers(last)
    if last is not None:
        return last.ref, last
    if len(scope.contacts) == 1:
        return scope.contacts[0].ref, None
    return None
