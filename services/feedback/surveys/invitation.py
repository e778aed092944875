"""What a survey link names: an open invitation, a closed (expired) one, or nothing we issued.

The token is the whole credential (shared/survey_links.py: HMAC with the link keys, its own
kind, so an unsubscribe or click token never passes for one). A link that does not verify, or
names ids no event could carry, is refused the same way, without detail: it never reaches the
directory or the broker. A genuine link past its expiry is `Expired`: the page says the survey
has closed.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import TypeAdapter, ValidationError

from shared import survey_links
from shared.events.types import Id, ShopId
from shared.keyring import LinkKeys
from shared.survey_links import Expired, Invitation

MAX_TOKEN_CHARS = 1024
"""Far above any token dispatch signs (ids of at most 255 characters, the MAC in base64); a
longer path segment is refused before any HMAC is computed over it."""
_SHOP_ID: TypeAdapter[str] = TypeAdapter(ShopId)
_ID: TypeAdapter[str] = TypeAdapter(Id)


class InvalidSurveyLink(Exception):
    """The token is not a survey invitation of ours; `reason` is for logs, never the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def resolve(keys: LinkKeys, token: str, now: datetime) -> Invitation | Expired:
    """The invitation `token` stands for (`Expired` when past its time); raises
    InvalidSurveyLink otherwise."""
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidSurveyLink(f"the token is longer than {MAX_TOKEN_CHARS} characters")
    found = survey_links.verify(keys, token, now)
    if found is None:
        raise InvalidSurveyLink(
            "not a survey link of ours: unknown, altered, or signed with a retired key"
        )
    invitation = found.invitation if isinstance(found, Expired) else found
    _check_ids(invitation)
    return found


def _check_ids(invitation: Invitation) -> None:
    """Every id must be one an event can carry, as it is (no whitespace to strip)."""
    try:
        ok = _SHOP_ID.validate_python(invitation.shop_id) == invitation.shop_id
        for value in (invitation.customer_id, invitation.campaign_id, invitation.order_id):
            if value is not None:
                ok = ok and _ID.validate_python(value) == value
    except ValidationError:
        ok = False
    if not ok:
        raise InvalidSurveyLink("the link names an id no event can carry")
