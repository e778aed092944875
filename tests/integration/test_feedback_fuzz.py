"""Property-based fuzzing of the feedback service, against the real process, broker and database.

As for ingest (tests/integration/test_ingest_fuzz.py), two generators, seeded and bounded:
- schemathesis draws requests for every route from the committed OpenAPI document, positive and
  negative; Twilio's forms are signed with the test token over the URL Twilio would call, SNS
  messages signed by the test's own SNS (tests/support/sns.py), and the unsubscribe and survey
  routes get a valid link as often as a random one, so that requests reach past the signature
  checks;
- hypothesis mutates valid Twilio webhooks, SES notifications, one-click bodies and survey
  forms (with the nonce of a page really shown) field by field with values hostile to each
  field's kind (tests/support/hostile_values.py), signed after the mutation.
Whatever comes back: never a 5xx, only status codes and media types the document lists.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, status_code_conformance

from services.feedback.reports import links as report_links
from services.schema_docs import FEEDBACK_OPENAPI_PATH
from shared import survey_links
from shared.events.feedback import SurveyKind
from shared.tracking_links import Click, Tracked, sign_click, sign_open
from shared.twilio_signature import HEADER
from shared.unsubscribe import Unsubscribe, sign
from tests.support import sns, twilio
from tests.support.dispatch_process import TEST_LINK_KEYS
from tests.support.feedback_process import running_feedback
from tests.support.hostile_values import mutations
from tests.support.shops import add_shop
from tests.support.stack import Stack

pytestmark = pytest.mark.integration

DOCUMENT: dict[str, Any] = json.loads(FEEDBACK_OPENAPI_PATH.read_text())
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
SIGNER = sns.Signer()
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    database=None,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
LINK = sign(TEST_LINK_KEYS, Unsubscribe("fuzz-shop", "c1", "email"))
"""A valid one-click link (its shop and customer need not exist: the link names them)."""
SURVEY_LINK = survey_links.sign(
    TEST_LINK_KEYS,
    survey_links.Invitation(
        "fuzz-shop",
        "c1",
        str(uuid.uuid4()),
        "review_request",
        SurveyKind.NPS,
        datetime.now(UTC) + timedelta(days=30),
        "o-1",
    ),
)
"""A valid survey invitation (NPS: the widest scale)."""
TRACKED = Tracked("fuzz-shop", "c1", str(uuid.uuid4()))
CLICK_TARGET = "https://fuzz-shop.example/cart?x=1"
TRACKING_LINKS = {
    "/c/{token}": sign_click(TEST_LINK_KEYS, Click(TRACKED, CLICK_TARGET)),
    "/o/{token}.gif": sign_open(TEST_LINK_KEYS, TRACKED),
}
"""A valid tracked link and pixel (the message need not exist: the token names it)."""
REPORT_LINK = report_links.mint(
    TEST_LINK_KEYS, "fuzz-shop", None, datetime.now(UTC), timedelta(days=1)
)
"""A valid shop-wide report link (the shop need not exist: the link names it)."""


@pytest.fixture(scope="module")
def report_key(stack: Stack) -> str:
    """A real shop's API key: the report routes get it as often as not."""
    return add_shop(stack.database_url).api_key.get_secret_value()


@pytest.fixture(scope="module")
def feedback_url(
    stack: Stack, logs_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    certs, ca_file = SIGNER.write(tmp_path_factory.mktemp("sns-fuzz"))
    with running_feedback(
        stack.kafka_bootstrap,
        stack.database_url,
        logs_dir / "feedback-fuzz.log",
        own_url=True,
        twilio_auth_token=twilio.TOKEN,
        sns_topic_arns=sns.TOPIC_ARN,
        sns_certs_dir=str(certs),
        sns_signing_ca_file=str(ca_file),
        sns_cert_fetch="false",
        sns_auto_confirm="false",
        sms_status_wait_s="0",  # a callback for an unknown message: 503 at once, not in 2 s
    ) as base:
        yield base


def documented(method: str, path: str, response: httpx.Response) -> None:
    """Never a failure of ours (500); only statuses and media types the document lists (a 503
    is one: a status callback for a message not indexed yet asks Twilio to retry)."""
    assert response.status_code != 500, response.text[:500]
    answers = DOCUMENT["paths"][path][method.lower()]["responses"]
    assert str(response.status_code) in answers, f"undocumented {response.status_code}"
    media_type = response.headers.get("content-type", "").split(";")[0]
    content = answers[str(response.status_code)].get("content", {})
    documented_types = {t.split(";")[0] for t in content}
    assert not documented_types or media_type in documented_types, (
        f"undocumented {media_type} for {response.status_code}"
    )


def signed_twilio(base: str, path: str, body: bytes) -> dict[str, str]:
    """Twilio's signature over the form `body` carries (best effort for what is not a form)."""
    params = parse_qsl(body.decode(errors="replace"), keep_blank_values=True)
    _, headers = twilio.signed(f"{base}{path}", params)
    return {HEADER: headers[HEADER]}


def signed_sns(body: Any) -> Any:
    """A message SNS could have sent: signed when it has the fields SNS signs."""
    if isinstance(body, dict) and all(isinstance(v, str) for v in body.values()):
        try:
            return SIGNER.sign({**body, "TopicArn": sns.TOPIC_ARN})
        except KeyError:
            return body
    return body


def _wire(case: Any, base: str) -> tuple[bytes, dict[str, str]]:
    kwargs = case.as_transport_kwargs(base_url=base)
    headers = {k: v for k, v in kwargs["headers"].items() if k.lower() != "content-length"}
    if "json" in kwargs:
        payload = kwargs["json"]
        if case.path == "/email/sns":
            payload = signed_sns(payload)
        return json.dumps(payload).encode(), headers
    data = kwargs.get("data")
    if isinstance(data, dict):
        raw = urlencode(data, doseq=True).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif isinstance(data, str):
        raw = data.encode()
    else:
        raw = bytes(data or b"")
    if case.path.startswith("/sms/"):
        headers.update(signed_twilio(base, case.path, raw))
    return raw, headers


OPERATIONS = [
    ("POST", "/sms/inbound"),
    ("POST", "/sms/status"),
    ("POST", "/email/sns"),
    ("GET", "/u/{token}"),
    ("POST", "/u/{token}"),
    ("POST", "/u/{token}/preferences"),
    ("GET", "/s/{token}"),
    ("HEAD", "/s/{token}"),
    ("POST", "/s/{token}"),
    ("GET", "/s/{token}/thanks"),
    ("HEAD", "/s/{token}/thanks"),
    ("GET", "/c/{token}"),
    ("HEAD", "/c/{token}"),
    ("GET", "/o/{token}.gif"),
    ("HEAD", "/o/{token}.gif"),
    ("GET", "/v1/reports/campaigns"),
    ("GET", "/v1/reports/campaigns/{campaign_id}"),
    ("GET", "/reports/{token}"),
    ("GET", "/reports/{token}/campaigns/{campaign_id}"),
]


def _sendable_headers(case: Any) -> Any:
    """Header values as a client can send them: schemathesis draws `Bearer ` for the API-key
    scheme, which httpx refuses to send (whitespace at either end)."""
    if case.headers:
        case.headers = {name: value.strip() for name, value in case.headers.items()}
    return case


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_requests_drawn_from_the_openapi_document(
    feedback_url: str, report_key: str, method: str, path: str, mode: GenerationMode
) -> None:
    operation = SCHEMA[path][method]
    strategies = [operation.as_strategy(generation_mode=mode)]
    if "{token}" in path:  # half the time a valid link, so requests reach past it
        link = TRACKING_LINKS.get(path) or (SURVEY_LINK if path.startswith("/s/") else LINK)
        link = REPORT_LINK if path.startswith("/reports/") else link
        strategies.append(
            operation.as_strategy(generation_mode=mode, path_parameters={"token": link})
        )
    if path.startswith("/v1/reports/"):  # as often as not with a real shop's key
        authorized = {"Authorization": f"Bearer {report_key}"}
        strategies.append(operation.as_strategy(generation_mode=mode, headers=authorized))
        strategies = [strategy.map(_sendable_headers) for strategy in strategies]

    @FUZZ
    @given(case=st.one_of(*strategies))
    def run(case: Any) -> None:
        raw, headers = _wire(case, feedback_url)
        url = case.as_transport_kwargs(base_url=feedback_url)["url"]
        response = httpx.request(method, url, content=raw, headers=headers, timeout=30)
        case.validate_response(
            response,
            checks=[not_a_server_error, status_code_conformance, content_type_conformance],
        )

    run()


def _inbound(params: dict[str, str]) -> list[tuple[str, str]]:
    return [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in params.items()]


def test_twilio_webhooks_mutated_field_by_field(feedback_url: str) -> None:
    inbound = dict(twilio.inbound("+31612345678", "STOP"))
    status = dict(twilio.status(twilio.sid(), "undelivered", error="30005"))
    seen: set[int] = set()

    @settings(FUZZ, max_examples=120)
    @given(
        which=st.sampled_from(["/sms/inbound", "/sms/status"]),
        data=st.data(),
    )
    def run(which: str, data: st.DataObject) -> None:
        valid = inbound if which == "/sms/inbound" else status
        form = data.draw(mutations(valid))
        params = _inbound(form) if isinstance(form, dict) else [("Body", json.dumps(form))]
        body, headers = twilio.signed(f"{feedback_url}{which}", params)
        response = httpx.post(
            f"{feedback_url}{which}", content=body.encode(), headers=headers, timeout=30
        )
        documented("POST", which, response)
        seen.add(response.status_code)

    run()
    assert 200 in seen, f"no request got past the signature check: {sorted(seen)}"


def test_ses_notifications_mutated_field_by_field(feedback_url: str) -> None:
    samples = [
        sns.bounce("fuzz@example.com"),
        sns.bounce("fuzz@example.com", bounce_type="Transient"),
        sns.complaint("fuzz@example.com", message_id_header="<m-1@nudge.example>"),
        sns.delivery("fuzz@example.com"),
    ]

    seen: set[int] = set()

    @settings(FUZZ, max_examples=120)
    @given(data=st.data(), index=st.integers(min_value=0, max_value=len(samples) - 1))
    def run(data: st.DataObject, index: int) -> None:
        ses = data.draw(mutations(samples[index]))
        message = SIGNER.notification(ses if isinstance(ses, dict) else json.dumps(ses))
        response = httpx.post(
            f"{feedback_url}/email/sns",
            content=json.dumps(message).encode(),
            headers={"Content-Type": "text/plain; charset=UTF-8"},
            timeout=30,
        )
        documented("POST", "/email/sns", response)
        seen.add(response.status_code)

    run()
    assert 200 in seen, f"no notification got past the signature check: {sorted(seen)}"


def test_one_click_bodies_mutated(feedback_url: str) -> None:
    @FUZZ
    @given(
        body=st.one_of(
            st.just(b"List-Unsubscribe=One-Click"),
            st.binary(max_size=300),
            st.text(max_size=300).map(str.encode),
            st.sampled_from(
                [b"List-Unsubscribe=One-Click\x00", b"List-Unsubscribe=%00", b"=" * 5000]
            ),
        ),
        content_type=st.sampled_from(
            ["application/x-www-form-urlencoded", "multipart/form-data", "text/plain", ""]
        ),
    )
    def run(body: bytes, content_type: str) -> None:
        response = httpx.post(
            f"{feedback_url}/u/{LINK}",
            content=body,
            headers={"Content-Type": content_type} if content_type else {},
            timeout=30,
        )
        documented("POST", "/u/{token}", response)

    run()


def test_survey_forms_mutated_field_by_field(feedback_url: str) -> None:
    page = httpx.get(f"{feedback_url}/s/{SURVEY_LINK}", timeout=30)
    found = re.search(r'name="form" value="([^"]+)"', page.text)
    assert page.status_code == 200 and found, page.text[:500]
    valid = {"form": found.group(1), "score": "9", "comment": "Fast delivery, great beans"}
    seen: set[int] = set()

    @settings(FUZZ, max_examples=120)
    @given(data=st.data(), encoding=st.sampled_from(["urlencoded", "multipart"]))
    def run(data: st.DataObject, encoding: str) -> None:
        form = data.draw(mutations(valid))
        fields = form if isinstance(form, dict) else {"comment": json.dumps(form)}
        values = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in fields.items()}
        multipart = {k: (None, v) for k, v in values.items()}
        response = httpx.post(
            f"{feedback_url}/s/{SURVEY_LINK}",
            headers={"Origin": feedback_url, "Sec-Fetch-Site": "same-origin"},
            timeout=30,
            data=values if encoding == "urlencoded" else None,
            files=multipart if encoding == "multipart" else None,
        )
        documented("POST", "/s/{token}", response)
        seen.add(response.status_code)

    run()
    assert 303 in seen, f"no answer got past the checks: {sorted(seen)}"


def test_tracking_tokens_mutated(feedback_url: str) -> None:
    """A click token or a pixel altered anywhere: never a 5xx; a click redirects only to its
    signed target (a change the signature does not see, such as base64's spare low bits,
    still leads there), else 400; the pixel is always the GIF."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

    @settings(FUZZ, max_examples=120)
    @given(
        path=st.sampled_from(sorted(TRACKING_LINKS)),
        data=st.data(),
        replacement=st.text(alphabet=alphabet, min_size=0, max_size=3),
    )
    def run(path: str, data: st.DataObject, replacement: str) -> None:
        token = TRACKING_LINKS[path]
        start = data.draw(st.integers(min_value=0, max_value=len(token)))
        end = data.draw(st.integers(min_value=start, max_value=min(len(token), start + 3)))
        mutated = token[:start] + replacement + token[end:]
        url = feedback_url + path.replace("{token}", mutated)
        response = httpx.get(url, timeout=30)
        documented("GET", path, response)
        if path.startswith("/o/"):
            assert response.status_code == 200 and response.headers["content-type"] == "image/gif"
        elif response.status_code == 302:
            assert response.headers["location"] == CLICK_TARGET
        else:
            assert response.status_code == 400 and "location" not in response.headers

    run()


def test_report_queries_mutated(feedback_url: str, report_key: str) -> None:
    """Hostile periods, granularities and campaign ids, with the shop's key and a report
    link: never a 5xx; a period refused names its parameter."""
    valid = {"from": "2026-11-01", "to": "2026-11-30", "granularity": "week"}
    seen: set[int] = set()

    @settings(FUZZ, max_examples=120)
    @given(
        data=st.data(),
        campaign=st.one_of(
            st.just("cross_sell"),
            st.text(min_size=1, max_size=80).filter(lambda c: c not in {".", ".."}),
        ),  # "", "." and ".." make another path (a redirect to it)
        where=st.sampled_from(["/v1/reports/campaigns/{c}", "/reports/{t}/campaigns/{c}"]),
    )
    def run(data: st.DataObject, campaign: str, where: str) -> None:
        query = data.draw(mutations(valid))
        params = query if isinstance(query, dict) else {"from": json.dumps(query)}
        values = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}
        values = {k[:2000]: v[:2000] for k, v in values.items()}  # httpx's URL limit is 64 KiB
        path = where.format(c=quote(campaign, safe=""), t=REPORT_LINK)
        response = httpx.get(
            feedback_url + path,
            params=values,
            headers={"Authorization": f"Bearer {report_key}"},
            timeout=30,
        )
        template = where.replace("{c}", "{campaign_id}").replace("{t}", "{token}")
        if response.status_code != 404:  # a campaign id with a '/' is another path
            documented("GET", template, response)
        if response.status_code == 422 and where.startswith("/v1/"):
            assert all(
                e["field"].startswith(("query.", "path.")) for e in response.json()["errors"]
            )
        seen.add(response.status_code)

    run()
    assert 200 in seen and 422 in seen, sorted(seen)
