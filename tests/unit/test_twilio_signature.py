"""Twilio's request signature, checked against Twilio's own published example (the vector
twilio-python, twilio-php and twilio-csharp test with), not only against our signer."""

from __future__ import annotations

from shared.twilio_signature import compute_signature, is_valid, signed_text, url_variants

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Caller", "+14158675309"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
]
SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_published_vector() -> None:
    assert compute_signature(TOKEN, URL, PARAMS) == SIGNATURE
    assert compute_signature(TOKEN, URL, list(reversed(PARAMS))) == SIGNATURE  # sorted by name
    assert is_valid([TOKEN], URL, PARAMS, SIGNATURE)


def test_what_is_signed_is_the_url_then_names_and_values_unencoded() -> None:
    assert signed_text(URL, PARAMS) == (
        "https://mycompany.com/myapp.php?foo=1&bar=2CallSidCA1234567890ABCDECaller+14158675309"
        "Digits1234From+14158675309To+18005551212"
    )
    assert signed_text("https://x.example/a", [("b", "2"), ("a", "1"), ("a", "0"), ("a", "1")]) == (
        "https://x.example/aa0a1b2"  # each distinct value of a repeated name, sorted
    )


def test_forged_changed_or_other_token_signatures_fail() -> None:
    assert not is_valid([TOKEN], URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8")
    assert not is_valid([TOKEN], URL, PARAMS, "X" + SIGNATURE[1:])
    assert not is_valid(["54321"], URL, PARAMS, SIGNATURE)
    assert not is_valid([TOKEN], URL.replace("foo=1", "foo=2"), PARAMS, SIGNATURE)
    changed = [*PARAMS[:2], ("Digits", "1235"), *PARAMS[3:]]
    assert not is_valid([TOKEN], URL, changed, SIGNATURE)
    assert not is_valid([TOKEN], URL, [*PARAMS, ("Extra", "1")], SIGNATURE)
    assert not is_valid([TOKEN], URL, PARAMS, "")
    assert not is_valid([TOKEN], URL, PARAMS, "RSOYDt4T1cUTdK1PDd93/VVr8B8=\u00e9")  # not ASCII


def test_the_default_port_may_be_there_or_not() -> None:
    with_port = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert is_valid([TOKEN], with_port, PARAMS, SIGNATURE)  # signed without, checked with
    signed_with_port = compute_signature(TOKEN, with_port, PARAMS)
    assert is_valid([TOKEN], URL, PARAMS, signed_with_port)  # signed with, checked without
    assert url_variants("http://h.example/x") == ["http://h.example/x", "http://h.example:80/x"]
    assert url_variants("http://h.example:80/x") == ["http://h.example:80/x", "http://h.example/x"]
    assert url_variants("https://h.example:8443/x") == ["https://h.example:8443/x"]
    other_port = "https://mycompany.com:8443/myapp.php?foo=1&bar=2"
    assert not is_valid([TOKEN], other_port, PARAMS, SIGNATURE)
    assert not is_valid([TOKEN], URL.replace("https", "http"), PARAMS, SIGNATURE)


def test_a_previous_token_still_verifies_during_a_rotation() -> None:
    assert is_valid(["new-token", TOKEN], URL, PARAMS, SIGNATURE)
    assert not is_valid(["new-token"], URL, PARAMS, SIGNATURE)
    assert not is_valid([], URL, PARAMS, SIGNATURE)
