"""A Twilio webhook as the service reads it: the URL Twilio signed (the configured public URL,
not the Host seen here), Twilio's published example vector through that path, the form."""

from __future__ import annotations

import pytest
from pydantic import SecretStr
from starlette.requests import Request

from services.feedback.sms.webhook import Form, parse_form, signed_url, verify
from shared.http.problems import Problem

VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="
VECTOR_PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]


def request(path: str, query: bytes = b"", host: str = "10.0.0.7:8083") -> Request:
    return Request(
        {
            "type": "http",
            "method": "POST",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "headers": [(b"host", host.encode())],
        }
    )


def refused(call: object) -> Problem:
    assert callable(call)
    with pytest.raises(Problem) as caught:
        call()
    return caught.value


def test_twilios_published_request_verifies_behind_a_load_balancer() -> None:
    seen = request("/myapp.php", b"foo=1&bar=2")  # the Host here is the pod's, not Twilio's
    url = signed_url("https://mycompany.com", seen)
    assert url == "https://mycompany.com/myapp.php?foo=1&bar=2"
    verify([SecretStr("12345")], url, VECTOR_PARAMS, VECTOR_SIGNATURE)
    verify(
        [SecretStr("12345")],
        signed_url("https://mycompany.com:443", seen),
        VECTOR_PARAMS,
        VECTOR_SIGNATURE,
    )  # configured with the default port, signed without


def test_a_missing_forged_or_unverifiable_signature_is_403() -> None:
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    tokens = [SecretStr("12345")]
    missing = refused(lambda: verify(tokens, url, VECTOR_PARAMS, None))
    assert missing.status == 403 and "missing" in missing.detail
    forged = refused(lambda: verify(tokens, url, VECTOR_PARAMS, "AAAA" + VECTOR_SIGNATURE[4:]))
    assert forged.status == 403 and "does not match" in forged.detail
    host_seen = "http://10.0.0.7:8083/myapp.php?foo=1&bar=2"
    assert refused(lambda: verify(tokens, host_seen, VECTOR_PARAMS, VECTOR_SIGNATURE)).status == 403
    unset = refused(lambda: verify([], url, VECTOR_PARAMS, VECTOR_SIGNATURE))
    assert unset.status == 403 and "no Twilio auth token" in unset.detail


def test_the_form_is_parsed_strictly() -> None:
    assert parse_form(b"Body=Hi+there%21&From=%2B31612345678&Empty=") == [
        ("Body", "Hi there!"),
        ("From", "+31612345678"),
        ("Empty", ""),
    ]
    assert parse_form(b"Body=%F0%9F%8E%89") == [("Body", "🎉")]
    assert parse_form(b"") == []
    for broken in (b"Body", b"a=1&&b=2", b"Body=%FF", "Body=ü".encode(), b"a=1&" * 300):
        problem = refused(lambda broken=broken: parse_form(broken))
        assert problem.status == 400, broken


def test_fields_are_read_one_at_a_time_naming_the_field() -> None:
    sid = "SM" + "a" * 32
    form = Form([("MessageSid", sid), ("Body", "x"), ("Body", "x"), ("To", "1"), ("To", "2")])
    assert form.sid("MessageSid") == sid
    assert form.optional("Body") == "x"  # repeated with one value: fine
    assert form.optional("Nothing") is None
    twice = refused(lambda: form.optional("To"))
    assert twice.status == 422 and twice.errors[0].field == "To"
    missing = refused(lambda: form.required("From"))
    assert missing.errors[0].field == "From" and missing.errors[0].reason == "required"
    bad_sid = refused(lambda: Form([("MessageSid", "SM123")]).sid("MessageSid", "SmsSid"))
    assert bad_sid.errors[0].field == "MessageSid"
    assert Form([("SmsSid", sid)]).sid("MessageSid", "SmsSid") == sid
    long = refused(lambda: Form([("Body", "x" * 5001)]).optional("Body", max_chars=5000))
    assert long.errors[0].field == "Body"
    nul = refused(lambda: Form([("Body", "a\x00b")]))
    assert nul.status == 422 and nul.errors[0].field == "Body"
