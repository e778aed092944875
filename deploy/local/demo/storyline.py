"""The demo storyline, replayed through the real HTTP API of a running ingest service.

A visitor browses anonymously, signs up (Shopify customers/create), is identified (Segment
identify), browses and fills a cart (native events), starts a checkout, leaves, and a day later
buys (orders/create, then orders/paid — the same order, so it collapses into one event). The
parcel ships and arrives; the review request asks how likely she is to recommend the shop and
she answers 10 on its survey page (a promoter). The cross-sell email a day and a half after
her order brings her back: she clicks a product in it and orders again, and the feedback
service credits that order to the email (a conversion on conversions.v1). Then she has had
enough marketing mail: she unsubscribes in one click (the link in that email, POSTed as a
mailbox provider does); the cross-sell planned for her second order is cancelled, while its
shipping mail still comes. A second customer fills a cart and never buys; his last
reminder, an SMS held back by his quiet hours, is not sent because he replies STOP before his
morning (a signed Twilio webhook to the feedback service): it falls back to his email. A third,
Cleo, orders a bag of beans every day for three days (540 EUR in all): the segmenter moves her
from first-time to repeat buyer, and her third order makes her a VIP, which the VIP campaign
welcomes; then she orders no more, and with no event at all the segmenter moves her to at risk
(one and a half times her own rhythm since her last order) and to lapsed (twice it), which
starts the win-back offer.
`make run` prints each event as it lands on shop.events.v1, and each trigger the triggers
service fires or cancels.

The story plays in campaign time: the same scaled clock as the triggers worker
(NUDGE_TRIGGERS_TIME_SCALE, NUDGE_TRIGGERS_CLOCK_ORIGIN), so three days pass in about a minute
and the cart reminders come out at their real offsets (+30 min, +24 h, +72 h).

Usage: python deploy/local/demo/storyline.py BASE_URL CREDENTIALS_JSON
(the feedback service's address and Twilio token come from NUDGE_FEEDBACK_PUBLIC_URL and
NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN, as deploy/local/run.sh sets them; the emails from the SMTP
sink's log beside the credentials; NUDGE_LINK_KEYS_FILE tells where a tracked link leads, as
hovering over it would)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from shared.clock import make_clock
from shared.settings import LinkKeySettings
from shared.tracking_links import verify_click
from shared.twilio_signature import HEADER as TWILIO_SIGNATURE
from shared.twilio_signature import compute_signature

SHOP_DOMAIN = "demo-coffee.myshopify.com"
SHOP_URL = "https://demo-coffee.example"
RUN = uuid.uuid4().hex[:6]
"""Fresh ids per run (webhooks, customers, orders): trigger ids are derived from them, and
dispatch sends once per trigger id *for good*, so a second `make run` against the same
database would otherwise find every message of the story already handled."""
_NUMBER = int(RUN, 16)
CUSTOMER_ID = 7_390_000_000_000 + _NUMBER  # Shopify customer ids are 64-bit integers
VISITOR = f"visitor-{RUN}"
ORDER_ID = 5_830_000_000_000 + _NUMBER
SECOND_ORDER_ID = ORDER_ID + 1
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Version/17.5 Safari"
"""Ada's browser: the feedback service tells people's clicks from link scanners' by it too."""
BEN = f"ben-{RUN}"
CLEO = f"cleo-{RUN}"
CLOCK = make_clock(
    float(os.environ.get("NUDGE_TRIGGERS_TIME_SCALE", "1")),
    float(os.environ["NUDGE_TRIGGERS_CLOCK_ORIGIN"])
    if "NUDGE_TRIGGERS_CLOCK_ORIGIN" in os.environ
    else None,
)
START = CLOCK.now()


def at(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat().replace("+00:00", "Z")


def until(hours: float, what: str) -> None:
    """Wait for campaign time START + hours, then announce the next part of the story."""
    moment = START + timedelta(hours=hours)
    time.sleep(max(CLOCK.seconds_until(moment), 0))
    day, minutes = divmod(int(hours * 60), 24 * 60)
    print(f"\n[day {day + 1}, {minutes // 60:02d}:{minutes % 60:02d}] {what}")


BEANS: dict[str, Any] = {
    "product_id": "8012345678901",
    "variant_id": "44012345678901",
    "sku": "ETH-YIRG-250",
    "title": "Ethiopia Yirgacheffe, 250 g",
    "category": "coffee",
    "brand": "Demo Roasters",
    "price": {"amount": "14.50", "currency": "EUR"},
    "url": "https://demo-coffee.example/products/ethiopia-yirgacheffe",
}


class Client:
    def __init__(self, base: str, credentials: dict[str, str]) -> None:
        self.http = httpx.Client(base_url=base, timeout=10)
        self.key = credentials["api_key"]
        self.secret = credentials["webhook_secret"]

    def shopify(self, topic: str, payload: dict[str, Any], what: str) -> None:
        raw = json.dumps(payload).encode()
        digest = hmac.new(self.secret.encode(), raw, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Shop-Domain": SHOP_DOMAIN,
            "X-Shopify-Webhook-Id": f"demo-{RUN}-{topic}-{payload.get('id')}",
            "X-Shopify-Triggered-At": CLOCK.now().isoformat(),
        }
        self._report(what, self.http.post("/v1/webhooks/shopify", content=raw, headers=headers))

    def segment(self, path: str, call: dict[str, Any], what: str) -> None:
        auth = base64.b64encode(f"{self.key}:".encode()).decode()
        response = self.http.post(path, json=call, headers={"Authorization": f"Basic {auth}"})
        self._report(what, response)

    def native(self, events: list[dict[str, Any]], what: str) -> None:
        response = self.http.post(
            "/v1/events",
            json={"events": events},
            headers={"Authorization": f"Bearer {self.key}"},
        )
        self._report(what, response)

    @staticmethod
    def _report(what: str, response: httpx.Response) -> None:
        body = response.json()
        statuses = [r["status"] for r in body.get("results", [])] or [body.get("status")]
        print(f"  -> {what:58} HTTP {response.status_code} {', '.join(map(str, statuses))}")
        if response.status_code >= 300:
            print(f"     {body}")
            raise SystemExit(1)
        time.sleep(0.05)  # lets the tail print each event under its step


def customer(first_name: str) -> dict[str, Any]:
    return {
        "id": CUSTOMER_ID,
        "email": "ada@example.com",
        "first_name": first_name,
        "last_name": "Lovelace",
        "phone": "+31612345678",
        "created_at": at(0.01),
        "updated_at": at(0.01),
        "email_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": at(0.01),
        },
        "sms_marketing_consent": {
            "state": "subscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": at(0.01),
            "consent_collected_from": "SHOPIFY",
        },
    }


def line_item() -> dict[str, Any]:
    return {
        "id": 1001,
        "product_id": int(BEANS["product_id"]),
        "variant_id": int(BEANS["variant_id"]),
        "sku": BEANS["sku"],
        "title": BEANS["title"],
        "quantity": 2,
        "price": "14.50",
        "vendor": "Demo Roasters",
        "product_type": "coffee",
    }


def main() -> None:
    base, credentials_path = sys.argv[1], Path(sys.argv[2])
    c = Client(base, json.loads(credentials_path.read_text()))
    cust = str(CUSTOMER_ID)
    print(
        "Demo storyline for shop 'demo-coffee' (campaign time runs "
        f"{getattr(CLOCK, 'scale', 1):g}x faster than the wall clock):"
    )
    until(0, "Ada finds the shop, signs up, fills a cart and leaves at checkout")
    c.segment(
        "/v1/track",
        {
            "messageId": f"m-{uuid.uuid4()}",
            "anonymousId": VISITOR,
            "event": "Product Viewed",
            "timestamp": at(0.01),
            "properties": {
                **{k: v for k, v in BEANS.items() if k != "price"},
                "price": 14.5,
                "currency": "EUR",
                "name": BEANS["title"],
            },
        },
        "a visitor looks at coffee beans (Segment track)",
    )
    c.shopify("customers/create", customer("Ada"), "she signs up (Shopify customers/create)")
    c.segment(
        "/v1/identify",
        {
            "messageId": f"m-{uuid.uuid4()}",
            "anonymousId": VISITOR,
            "userId": cust,
            "timestamp": at(0.02),
            "traits": {"email": "ada@example.com", "firstName": "Ada"},
            "context": {"locale": "nl-NL", "timezone": "Europe/Amsterdam"},
        },
        "the visitor is identified as her (Segment identify)",
    )
    item = {**BEANS, "quantity": 2}
    c.native(
        [
            {
                "id": str(uuid.uuid4()),
                "type": "product.viewed",
                "time": at(0.03),
                "customerid": cust,
                "data": {"product": BEANS},
            },
            {
                "id": str(uuid.uuid4()),
                "type": "product.added",
                "time": at(0.04),
                "customerid": cust,
                "data": {"cart_id": "cart-1", "item": item},
            },
            {
                "id": str(uuid.uuid4()),
                "type": "cart.updated",
                "time": at(0.04),
                "customerid": cust,
                "data": {
                    "cart_id": "cart-1",
                    "items": [item],
                    "value": {"amount": "29.00", "currency": "EUR"},
                    "recovery_url": "https://demo-coffee.example/cart/c1",
                },
            },
        ],
        "she views, adds 2 bags, cart updated (native batch)",
    )
    checkout = {
        "id": 9013000001,
        "token": "chk-" + RUN,
        "cart_token": "cart-1",
        "email": "ada@example.com",
        "created_at": at(0.05),
        "updated_at": at(0.05),
        "currency": "EUR",
        "total_price": "29.00",
        "subtotal_price": "29.00",
        "abandoned_checkout_url": "https://demo-coffee.example/checkouts/recover/" + RUN,
        "line_items": [line_item()],
        "customer": {"id": CUSTOMER_ID, "email": "ada@example.com", "first_name": "Ada"},
    }
    c.shopify("checkouts/create", checkout, "she starts checkout, then leaves (checkouts/create)")
    order = {
        "id": ORDER_ID,
        "name": "#1001",
        "email": "ada@example.com",
        "created_at": at(26),
        "processed_at": at(26),
        "updated_at": at(26),
        "currency": "EUR",
        "total_price": "33.95",
        "subtotal_price": "29.00",
        "total_tax": "0.00",
        "total_discounts": "0.00",
        "total_shipping_price_set": {"shop_money": {"amount": "4.95", "currency_code": "EUR"}},
        "checkout_token": checkout["token"],
        "line_items": [line_item()],
        "customer": {"id": CUSTOMER_ID, "email": "ada@example.com", "first_name": "Ada"},
        "order_status_url": "https://demo-coffee.example/orders/1001",
    }
    ben(c)
    cleo_orders(c, 1, 0.5)
    until(24.5, "Cleo, who bought her first bag last night, orders again: a repeat buyer")
    cleo_orders(c, 2, 24.5)
    until(26, "a day later Ada comes back and buys: her cart reminders stop")
    c.shopify("orders/create", order, "she buys (orders/create)")
    c.shopify("orders/paid", order, "payment captured (orders/paid: same order, no new event)")
    fulfillment = {
        "id": 4400000001,
        "order_id": ORDER_ID,
        "status": "success",
        "created_at": at(30),
        "updated_at": at(30),
        "tracking_company": "PostNL",
        "tracking_number": "3SABCD1234567",
        "tracking_url": "https://postnl.example/track/3SABCD1234567",
        "line_items": [line_item()],
    }
    sink_log = credentials_path.parent / "smtp-sink.jsonl"
    until(30, "the parcel ships")
    c.shopify("fulfillments/create", fulfillment, "the parcel ships (fulfillments/create)")
    until(42, "the parcel arrives: the moment to ask how it went")
    c.shopify(
        "fulfillment_events/create",
        {
            "id": 7700000001,
            "fulfillment_id": fulfillment["id"],
            "order_id": ORDER_ID,
            "status": "delivered",
            "happened_at": at(42),
            "created_at": at(42),
            "message": "Delivered to the front door",
        },
        "the parcel arrives (fulfillment_events/create)",
    )
    until(CLEO_LAST_ORDER, "Cleo orders a third day in a row: 540 EUR in all, she is a VIP now")
    cleo_orders(c, 3, CLEO_LAST_ORDER)
    until(56, "Ada answers the review request: 10, she would recommend the shop (a promoter)")
    answer_survey("ada@example.com", sink_log, 10, "Heerlijke koffie, en snel bezorgd!")
    until(62.5, "a day and a half after her order, the cross-sell email reaches her")
    until(73, "three days on: Ben never came back; his last reminder is an SMS, at night")
    until(73.5, "Ben has seen enough of the shop: he texts STOP")
    reply_by_sms("+14155550123", "STOP")
    clicked: list[str | None] = []

    def order_again() -> None:
        second = {
            **order,
            "id": SECOND_ORDER_ID,
            "name": "#1002",
            "created_at": at(77),
            "processed_at": at(77),
            "updated_at": at(77),
            "checkout_token": None,
            "landing_site": clicked[0] if clicked else None,
            "order_status_url": "https://demo-coffee.example/orders/1002",
        }
        c.shopify("orders/create", second, "she orders again (orders/create)")

    def ship_again() -> None:
        parcel = {**fulfillment, "id": 4400000002, "order_id": SECOND_ORDER_ID}
        parcel |= {"created_at": at(80), "updated_at": at(80)}
        c.shopify("fulfillments/create", parcel, "the parcel ships (fulfillments/create)")

    scenes: list[tuple[float, str, Callable[[], None]]] = [
        (
            CLEO_LAST_ORDER + 36,
            "Cleo has not ordered for one and a half times her own rhythm (a day): the"
            " segmenter moves her to at risk, with no event",
            lambda: None,
        ),
        (
            CLEO_LAST_ORDER + 48,
            "twice her rhythm without an order: Cleo enters the lapsed segment, and the"
            " win-back offer goes out, its code scaled to her value by the shop's profile",
            lambda: None,
        ),
        (CLEO_LAST_ORDER + 49, "(the win-back email reaches Cleo)", lambda: None),
        (
            BEN_MORNING,
            "08:00 where Ben lives: the SMS held back by quiet hours is not sent (he opted"
            " out); the reminder falls back to email, which he still agreed to",
            lambda: None,
        ),
        (
            76,
            "Ada clicks a product in the cross-sell email ...",
            lambda: clicked.append(click_product("ada@example.com", sink_log)),
        ),
        (77, "... and orders again: the order is credited to that email", order_again),
        (
            78,
            "Ada has had enough marketing mail: she unsubscribes in one click",
            lambda: unsubscribe_in_one_click("ada@example.com", sink_log),
        ),
        (80, "her second parcel ships: order mail still comes, marketing does not", ship_again),
    ]
    for hours, what, act in sorted(scenes, key=lambda scene: scene[0]):
        until(hours, what)
        act()


def unsubscribe_in_one_click(address: str, sink_log: Path) -> None:
    """POST the List-Unsubscribe link of the latest marketing email to `address` as Gmail and
    Yahoo do (RFC 8058): a form body, no cookie, no redirect followed."""
    link = None
    for line in sink_log.read_text().splitlines():
        mail = json.loads(line)
        headers = dict(mail.get("headers", []))
        if address in headers.get("To", "") and "List-Unsubscribe" in headers:
            link = headers["List-Unsubscribe"].split(",")[0].strip().strip("<>")
    if link is None:
        print(f"  -> no marketing email to {address} has arrived yet; nothing to unsubscribe from")
        return
    response = httpx.post(
        link,
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )
    print(f"  -> {'one-click POST to ' + link[:46] + '...':58} HTTP {response.status_code}")


def _emails_to(address: str, sink_log: Path) -> list[dict[str, Any]]:
    mails = [json.loads(line) for line in sink_log.read_text().splitlines()]
    return [m for m in mails if address in m.get("rcpt_tos", [])]


def _targets(mail: dict[str, Any]) -> list[tuple[str, str]]:
    """Each tracked link of a mail with the page it leads to (what hovering over it shows)."""
    keys = LinkKeySettings().keys()
    found = []
    for link in mail.get("links", []):
        click = verify_click(keys, link.rsplit("/c/", 1)[-1]) if "/c/" in link else None
        found.append((link, click.url if click else link))
    return found


def answer_survey(address: str, sink_log: Path, score: int, comment: str) -> None:
    """Open the survey link of the latest email to `address` that has one, and answer it as a
    browser does: the page, then its form (with the page's nonce)."""
    links = [(link, target) for m in _emails_to(address, sink_log) for link, target in _targets(m)]
    surveys = [link for link, target in links if "/s/" in target]
    if not surveys:
        print(f"  -> no survey link has reached {address}; nothing to answer")
        return
    with httpx.Client(headers={"User-Agent": BROWSER}, timeout=10) as browser:
        page = browser.get(surveys[-1], follow_redirects=True)
        nonce = page.text.split('name="form" value="', 1)[-1].split('"', 1)[0]
        form = {"form": nonce, "score": str(score), "comment": comment}
        origin = f"{page.url.scheme}://{page.url.host}:{page.url.port}"
        answer = browser.post(page.url, data=form, headers={"Origin": origin})
    print(f"  -> {f'survey page, then the form: {score}':58} HTTP {answer.status_code}")


def click_product(address: str, sink_log: Path) -> str | None:
    """Click the first link to the shop in the latest email to `address` that has one (the
    cross-sell's recommendations); the shop's page itself is not fetched (it does not exist)."""
    for mail in reversed(_emails_to(address, sink_log)):
        products = [(a, b) for a, b in _targets(mail) if "/c/" in a and b.startswith(SHOP_URL)]
        if products:
            link, target = products[0]
            response = httpx.get(link, headers={"User-Agent": BROWSER}, timeout=10)
            where = response.headers.get("location", "?")
            print(f"  -> {'click: ' + mail['subject'][:50]:58} HTTP {response.status_code}")
            print(f"     redirected to {where}")
            return target
    print(f"  -> no product link has reached {address}; nothing to click")
    return None


def reply_by_sms(sender: str, body: str) -> None:
    """What Twilio POSTs to the feedback service when `sender` texts the shop's number."""
    base = os.environ.get("NUDGE_FEEDBACK_PUBLIC_URL", "http://127.0.0.1:8083")
    token = os.environ.get("NUDGE_FEEDBACK_TWILIO_AUTH_TOKEN", "sms-sink-token").split(",")[0]
    sid = "SM" + uuid.uuid4().hex
    params = [
        ("MessageSid", sid),
        ("SmsSid", sid),
        ("AccountSid", os.environ.get("NUDGE_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)),
        ("From", sender),
        ("To", os.environ.get("NUDGE_TWILIO_FROM_NUMBER", "+15005550006")),
        ("Body", body),
        ("NumMedia", "0"),
        ("NumSegments", "1"),
    ]
    url = f"{base}/sms/inbound"
    response = httpx.post(
        url,
        data=dict(params),
        headers={TWILIO_SIGNATURE: compute_signature(token, url, params)},
        timeout=10,
    )
    answer = response.text.replace("\n", " ")
    print(f"  -> {f'{sender} texts {body!r} (Twilio webhook)':58} HTTP {response.status_code}")
    print(f"     TwiML answer: {answer}")


NIGHT_ZONES = (
    "Pacific/Auckland",
    "Pacific/Noumea",
    "Australia/Sydney",
    "Asia/Tokyo",
    "Asia/Bangkok",
    "Asia/Kolkata",
    "Asia/Dubai",
    "Europe/Athens",
    "Europe/Amsterdam",
    "Atlantic/Azores",
    "America/Noronha",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
"""Around the clock, no two neighbours more than 2 hours apart (daylight saving included)."""


def _zone_at_night(hours: float) -> tuple[str, float]:
    """A time zone where campaign time START + hours is late in the night, and (in hours
    from START) the next 08:00 there: Ben lives there, so his SMS reminder meets the quiet
    hours and goes out in his morning. Late in the night, 1 to 5 hours before 08:00: a longer
    wait would outlast the cart reminders' 6 h lateness bound (`max_lateness` in the
    catalog), and the held-back SMS would expire instead of going out."""
    moment = START + timedelta(hours=hours)
    waits = []
    for zone in NIGHT_ZONES:
        local = moment.astimezone(ZoneInfo(zone))
        morning = datetime(local.year, local.month, local.day, 8, tzinfo=ZoneInfo(zone))
        if local >= morning:  # the next 08:00 is tomorrow's, more than 5 hours away
            continue
        wait_h = (morning - moment).total_seconds() / 3600
        if 1 <= wait_h <= 5:
            waits.append((abs(wait_h - 3), zone, (morning - START).total_seconds() / 3600))
    if not waits:  # not reached: the zones are closer than the 4-hour window
        raise RuntimeError(f"no time zone in its night at {moment.isoformat()}")
    _, zone, morning_h = min(waits)
    return zone, morning_h


BEN_ZONE, BEN_MORNING = _zone_at_night(72.2)


def ben(c: Client) -> None:
    """A second customer who fills a cart and never buys: every reminder goes out, the last
    one by SMS, held back by the quiet hours of his time zone until the morning."""
    consent = {"status": "granted", "source": "signup_form", "recorded_at": at(0.2)}
    cart_item = {**BEANS, "quantity": 1}
    c.native(
        [
            {
                "id": str(uuid.uuid4()),
                "type": "customer.updated",
                "time": at(0.2),
                "customerid": BEN,
                "data": {
                    "email": "ben@example.com",
                    "phone": "+14155550123",
                    "first_name": "Ben",
                    "time_zone": BEN_ZONE,
                    "consent": {"email": consent, "sms": consent},
                },
            },
            {
                "id": str(uuid.uuid4()),
                "type": "cart.updated",
                "time": at(0.2),
                "customerid": BEN,
                "data": {
                    "cart_id": "cart-ben",
                    "items": [cart_item],
                    "value": {"amount": "14.50", "currency": "EUR"},
                    "recovery_url": "https://demo-coffee.example/cart/ben",
                },
            },
        ],
        "Ben, a customer already, fills a cart too and leaves (native batch)",
    )


CLEO_LAST_ORDER = 48.5
CLEO_TOTALS = {1: "150.00", 2: "180.00", 3: "210.00"}


def cleo_orders(c: Client, number: int, hours: float) -> None:
    """Cleo's daily order; her first one also tells the shop who she is (email consent)."""
    events: list[dict[str, Any]] = []
    if number == 1:
        consent = {"status": "granted", "source": "signup_form", "recorded_at": at(hours)}
        events.append(
            {
                "id": str(uuid.uuid4()),
                "type": "customer.updated",
                "time": at(hours),
                "customerid": CLEO,
                "data": {
                    "email": "cleo@example.com",
                    "first_name": "Cleo",
                    "time_zone": "Europe/Amsterdam",
                    "consent": {"email": consent},
                },
            }
        )
    events.append(
        {
            "id": str(uuid.uuid4()),
            "type": "order.placed",
            "time": at(hours),
            "customerid": CLEO,
            "data": {
                "order_id": f"cleo-{RUN}-{number}",
                "items": [{**BEANS, "quantity": 10}],
                "total": {"amount": CLEO_TOTALS[number], "currency": "EUR"},
            },
        }
    )
    c.native(events, f"Cleo's order {number}, {CLEO_TOTALS[number]} EUR (native batch)")


if __name__ == "__main__":
    main()
