"""Who opened or clicked: a person, or a machine (a pure decision on what the request shows).

Machines open and click a large share of marketing mail, and none of it is engagement: Apple
Mail Privacy Protection fetches every image of every message through Apple's proxy, read or
not; mail gateways (Microsoft Safe Links, Proofpoint, Mimecast, Barracuda...) follow every
link on delivery; messengers fetch a link to preview it. Their opens and clicks are recorded
with `machine: true` and the reason, and whatever reads engagement (dispatch's "no response"
fallback, attribution, reports) leaves them out. The signals, first match wins:

1. `head_request`: a HEAD request (a browser following a link or showing an image GETs);
2. `apple_privacy_proxy`: an open whose user agent is exactly `Mozilla/5.0`, with no
   further product tokens: Apple's proxy (Apple Mail itself sends a full user agent);
3. `listed_network`: the client's address is in `NUDGE_FEEDBACK_MACHINE_NETWORKS` (Apple's
   published egress ranges, a scanner's);
4. `scanner`: no user agent, the bare `Mozilla/5.0` on a click, or one naming a scanner, a
   link preview, a crawler or an HTTP library (`SCANNER_AGENTS`);
5. `too_soon`: an email opened or clicked within `NUDGE_FEEDBACK_MACHINE_AFTER_SEND_S` of
   being sent (gateways scan on delivery; people are not that fast). Not for SMS, which a
   person may well tap at once;
6. `burst`: another link of the same message was clicked less than a second before
   (bursts.py): scanners follow every link at once, a person follows one. The first click of
   such a burst is caught only by the signals above.

Security products that borrow a browser's user agent from a cloud address are caught by 5
and 6, or by listing their networks; a person is never taken for a machine by a user agent
alone unless it names a tool.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from shared.events.feedback import MachineReason

Kind = Literal["open", "click"]
APPLE_PROXY_AGENT: Final = "Mozilla/5.0"
SCANNER_AGENTS: Final = (
    # mail security gateways and link protection
    "barracuda",
    "proofpoint",
    "mimecast",
    "safelinks",
    "ironport",
    "ciscosecureemail",
    "cisco secure email",
    "trend micro",
    "forcepoint",
    "fortiguard",
    "symantec",
    "sophos",
    "existence discovery",  # Microsoft Office probing a link before opening it
    "protocol discovery",
    # link previews
    "facebookexternalhit",  # also iMessage's previews
    "facebot",
    "twitterbot",
    "slackbot",
    "whatsapp",
    "telegrambot",
    "discordbot",
    "linkedinbot",
    "skypeuripreview",
    "bingpreview",
    # crawlers and HTTP libraries
    "googlebot",
    "bingbot",
    "applebot",
    "crawler",
    "spider",
    "headlesschrome",
    "phantomjs",
    "python-requests",
    "python-urllib",
    "python-httpx",
    "aiohttp",
    "go-http-client",
    "curl/",
    "wget/",
    "okhttp",
    "apache-httpclient",
    "libwww-perl",
    "node-fetch",
    "axios/",
    "scrapy",
)
"""Lower-case parts of user agents that only machines send."""


@dataclass(frozen=True, slots=True)
class Seen:
    """What one tracking request shows about who made it."""

    kind: Kind
    method: str
    user_agent: str | None
    listed_network: bool
    """The client's address is in one of the configured machine networks."""
    email_age_s: float | None
    """Seconds (of wall time) since the email was sent; None for an SMS or a message whose
    sending is not known."""
    burst: bool = False
    """Another link of the same message was clicked less than a second before."""


def is_scanner_agent(user_agent: str | None, kind: Kind) -> bool:
    agent = (user_agent or "").strip()
    if not agent or (kind == "click" and agent == APPLE_PROXY_AGENT):
        return True
    lowered = agent.lower()
    return any(part in lowered for part in SCANNER_AGENTS)


def classify(seen: Seen, after_send_s: float) -> MachineReason | None:
    """The reason a request is taken for a machine's, or None for a person."""
    if seen.method == "HEAD":
        return MachineReason.HEAD_REQUEST
    if seen.kind == "open" and (seen.user_agent or "").strip() == APPLE_PROXY_AGENT:
        return MachineReason.APPLE_PRIVACY_PROXY
    if seen.listed_network:
        return MachineReason.LISTED_NETWORK
    if is_scanner_agent(seen.user_agent, seen.kind):
        return MachineReason.SCANNER
    if seen.email_age_s is not None and seen.email_age_s < after_send_s:
        return MachineReason.TOO_SOON
    if seen.burst:
        return MachineReason.BURST
    return None
