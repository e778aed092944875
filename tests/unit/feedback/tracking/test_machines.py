"""A person or a machine: Apple's proxy, listed networks, scanners and previews by user agent,
HEAD requests, an email opened or clicked on delivery, a burst of clicks."""

from __future__ import annotations

import pytest

from services.feedback.tracking.machines import Kind, Seen, classify
from shared.events.feedback import MachineReason

SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"
)
APPLE_MAIL = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)"
)
OUTLOOK = "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17928; Pro)"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
AFTER_SEND_S = 10.0


def seen(
    kind: Kind = "click",
    agent: str | None = SAFARI,
    *,
    method: str = "GET",
    listed: bool = False,
    age: float | None = 3600.0,
    burst: bool = False,
) -> Seen:
    return Seen(kind, method, agent, listed, age, burst)


@pytest.mark.parametrize("agent", [SAFARI, APPLE_MAIL, OUTLOOK, GMAIL_PROXY])
@pytest.mark.parametrize("kind", ["open", "click"])
def test_people_in_their_mail_clients_and_browsers(kind: Kind, agent: str) -> None:
    assert classify(seen(kind, agent), AFTER_SEND_S) is None


def test_apple_mail_privacy_protection_fetches_with_a_bare_user_agent() -> None:
    assert classify(seen("open", "Mozilla/5.0"), AFTER_SEND_S) is MachineReason.APPLE_PRIVACY_PROXY
    assert (
        classify(seen("open", " Mozilla/5.0 "), AFTER_SEND_S) is MachineReason.APPLE_PRIVACY_PROXY
    )
    # no browser clicks with it: a tool that borrowed it
    assert classify(seen("click", "Mozilla/5.0"), AFTER_SEND_S) is MachineReason.SCANNER


@pytest.mark.parametrize(
    "agent",
    [
        None,
        "",
        "Barracuda Sentinel (EE)",
        "Mozilla/5.0 (compatible; proofpoint-urldefense)",
        "Mimecast URL Protect",
        "Microsoft Office Existence Discovery",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) "
        "Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "WhatsApp/2.23.20.0",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "python-requests/2.32.3",
        "curl/8.5.0",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/131.0 Safari/537.36",
    ],
)
@pytest.mark.parametrize("kind", ["open", "click"])
def test_scanners_previews_crawlers_and_libraries(kind: Kind, agent: str | None) -> None:
    assert classify(seen(kind, agent), AFTER_SEND_S) is MachineReason.SCANNER


@pytest.mark.parametrize("kind", ["open", "click"])
def test_a_head_request_is_a_machine_whatever_it_claims(kind: Kind) -> None:
    assert classify(seen(kind, method="HEAD"), AFTER_SEND_S) is MachineReason.HEAD_REQUEST


def test_an_address_in_a_listed_network() -> None:
    assert classify(seen(listed=True), AFTER_SEND_S) is MachineReason.LISTED_NETWORK


def test_an_email_followed_within_seconds_of_its_sending_is_a_gateway_scanning_it() -> None:
    assert classify(seen(age=0.4), AFTER_SEND_S) is MachineReason.TOO_SOON
    assert classify(seen("open", age=9.9), AFTER_SEND_S) is MachineReason.TOO_SOON
    assert classify(seen(age=10.0), AFTER_SEND_S) is None  # just outside: a quick reader
    assert classify(seen(age=None), AFTER_SEND_S) is None  # an SMS, or sending unknown
    assert classify(seen(age=0.4), 0.0) is None  # the check turned off


def test_a_second_link_of_a_message_within_a_second_is_a_burst() -> None:
    assert classify(seen(burst=True), AFTER_SEND_S) is MachineReason.BURST


def test_the_strongest_signal_names_the_reason() -> None:
    everything = seen("open", "Mozilla/5.0", method="HEAD", listed=True, age=0.1, burst=True)
    assert classify(everything, AFTER_SEND_S) is MachineReason.HEAD_REQUEST
