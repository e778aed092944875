"""The links dispatch signs into a message besides the unsubscribe link: the survey
invitation (`/s/<token>`), tracked clicks (`/c/<token>`) and the open pixel (`/o/<token>.gif`),
all answered by the feedback service at the public URL, all signed with the link keys.

Click tracking rewrites every link of a message, not only those the template variables build
(`MessageLinks.track`, applied by `render_variables` to product, cart, order, shop and survey
links): links typed in a shop's own templates are tracked too, in HTML (tracked_html.py) and
in text parts and SMS (tracked_text.py), as an ESP's click tracking does. The survey link is
tracked once (a tracked link is never tracked again); never rewritten: the unsubscribe and
preferences links, and anything but a clean absolute http(s) URL (shared/link_targets.py: the
feedback service would refuse to redirect there). A shop's profile can turn clicks or opens
off (`tracking:`; some markets require consent for tracking).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.dispatch import tracked_html, tracked_text
from services.dispatch.templates.store import RenderedEmail
from shared import survey_links
from shared.events.triggers import TriggerFired
from shared.keyring import LinkKeys
from shared.link_targets import redirectable
from shared.survey_links import Invitation
from shared.tracking_links import Click, Tracked, sign_click, sign_open


@dataclass(frozen=True, slots=True)
class Tracking:
    """What a shop tracks (its profile's `tracking:` section); both by default."""

    clicks: bool = True
    opens: bool = True


@dataclass(frozen=True)
class LinkSigner:
    keys: LinkKeys
    public_url: str
    """The feedback service as the world reaches it (checked: services/dispatch/settings.py)."""
    survey_ttl: timedelta
    """How long a survey invitation stays open (NUDGE_DISPATCH_SURVEY_TTL_DAYS)."""

    def survey_url(self, fired: TriggerFired, tracked: Tracked, now: datetime) -> str | None:
        """The signed survey link when the step asks for an answer (`survey:`), else None.
        It names the order the survey is about: the trigger's order, or its shipment's."""
        if fired.survey is None:
            return None
        context = fired.context
        order = context.order.order_id if context.order is not None else None
        if order is None and context.shipment is not None:
            order = context.shipment.order_id
        invitation = Invitation(
            shop_id=tracked.shop_id,
            customer_id=tracked.customer_id,
            message_id=tracked.message_id,
            campaign_id=fired.campaign_id,
            survey=fired.survey,
            expires_at=now + self.survey_ttl,
            order_id=order,
        )
        return f"{self.public_url}/s/{survey_links.sign(self.keys, invitation)}"

    def untracked(self, url: str) -> bool:
        """A link to the feedback service that is never tracked: unsubscribe and preferences
        (`/u/`: following it must record nothing else), a tracked link or a pixel. The
        survey link is tracked like a link to the shop (a click on it is engagement)."""
        own = url == self.public_url or url.startswith(self.public_url + "/")
        return own and not url.startswith(f"{self.public_url}/s/")

    def tracker(self, tracked: Tracked) -> Callable[[str], str]:
        """The message's click tracking: a link becomes `/c/<token>` (each target signed
        once per message); the feedback service's untracked links and anything not
        redirectable come back as they are."""
        signed: dict[str, str] = {}

        def track(url: str) -> str:
            if url in signed:
                return signed[url]
            if self.untracked(url) or not redirectable(url):
                return url
            token = sign_click(self.keys, Click(tracked, url))
            signed[url] = found = f"{self.public_url}/c/{token}"
            return found

        return track

    def pixel_url(self, tracked: Tracked) -> str:
        return f"{self.public_url}/o/{sign_open(self.keys, tracked)}.gif"


def finish_email(
    rendered: RenderedEmail, track: Callable[[str], str] | None, pixel_url: str | None
) -> RenderedEmail:
    """The email with every link of its HTML and text parts tracked (`track`: None, none
    are) and the open pixel at the end of its HTML body (`pixel_url`: None, no pixel)."""
    if track is None and pixel_url is None:
        return rendered
    html = rendered.html
    if html.strip():
        html = tracked_html.rewrite(html, track, pixel_url).strip() + "\n"
    text = rendered.text if track is None else tracked_text.rewrite(rendered.text, track)
    return dataclasses.replace(rendered, html=html, text=text)
