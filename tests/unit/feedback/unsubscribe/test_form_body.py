"""Form bodies, and RFC 8058's one-click body in each way mailbox providers may send it."""

from __future__ import annotations

import pytest

from services.feedback.unsubscribe.form_body import MAX_FIELDS, parse_form, single
from services.feedback.unsubscribe.one_click import check_one_click
from shared.http.problems import Problem

URLENCODED = "application/x-www-form-urlencoded"
BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"
JAVAMAIL = "----=_Part_0_1234567890.1700000000000"
"""A boundary with '=' in it: a tspecial, so the Content-Type quotes it (RFC 2045)."""


def multipart(*fields: tuple[str, str], boundary: str = BOUNDARY) -> bytes:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode()


ONE_CLICK_BODIES = [
    pytest.param(URLENCODED, b"List-Unsubscribe=One-Click", id="gmail-yahoo"),
    pytest.param(f"{URLENCODED}; charset=utf-8", b"List-Unsubscribe=One-Click", id="charset"),
    pytest.param(
        "Application/X-WWW-Form-URLEncoded;Charset=UTF-8", b"List-Unsubscribe=One-Click", id="case"
    ),
    pytest.param(URLENCODED, b"List-Unsubscribe=One-Click\r\n", id="trailing-crlf"),
    pytest.param(URLENCODED, b"  List-Unsubscribe = One-Click \n", id="spaces"),
    pytest.param(URLENCODED, b"List-Unsubscribe=One%2DClick", id="percent-escape"),
    pytest.param(URLENCODED, b"List-Unsubscribe=one-click", id="value-case"),
    pytest.param(URLENCODED, b"List-Unsubscribe=One-Click&utm=x&x=", id="extra-fields"),
    pytest.param(f"{URLENCODED}; charset=iso-8859-1", b"List-Unsubscribe=One-Click", id="latin1"),
    pytest.param(None, b"List-Unsubscribe=One-Click", id="no-content-type"),
    pytest.param(
        f"multipart/form-data; boundary={BOUNDARY}",
        multipart(("List-Unsubscribe", "One-Click")),
        id="multipart",
    ),
    pytest.param(
        f'multipart/form-data; boundary="{JAVAMAIL}"; charset=utf-8',
        multipart(("List-Unsubscribe", "One-Click"), ("extra", "ignored"), boundary=JAVAMAIL),
        id="multipart-quoted-boundary",
    ),
]


@pytest.mark.parametrize(("content_type", "body"), ONE_CLICK_BODIES)
def test_the_one_click_body_as_the_rfc_allows_it(content_type: str | None, body: bytes) -> None:
    check_one_click(parse_form(content_type, body))


def refusal(content_type: str | None, body: bytes) -> Problem:
    with pytest.raises(Problem) as refused:
        check_one_click(parse_form(content_type, body))
    return refused.value


@pytest.mark.parametrize(
    ("content_type", "body", "status", "field"),
    [
        (URLENCODED, b"", 422, "List-Unsubscribe"),
        (URLENCODED, b"List-Unsubscribe=Two-Click", 422, "List-Unsubscribe"),
        (URLENCODED, b"List-Unsubscribe=", 422, "List-Unsubscribe"),
        (URLENCODED, b"Unsubscribe=One-Click", 422, "List-Unsubscribe"),
        (URLENCODED, b"List-Unsubscribe=One-Click&List-Unsubscribe=No", 422, "List-Unsubscribe"),
        (URLENCODED, b"List-Unsubscribe=One-Click&x%00=1", 422, "x\\u0000"),
        (URLENCODED, b"List-Unsubscribe=One-Click%00", 422, "List-Unsubscribe"),
        (URLENCODED, "List-Unsubscribe=Ønë".encode(), 400, None),
        (URLENCODED, b"List-Unsubscribe=%FF", 400, None),
        (f"{URLENCODED}; charset=klingon", b"List-Unsubscribe=One-Click", 415, None),
        ("application/json", b'{"List-Unsubscribe": "One-Click"}', 415, None),
        ("multipart/form-data", multipart(("List-Unsubscribe", "One-Click")), 400, None),
        (f"multipart/form-data; boundary={BOUNDARY}", b"not multipart", 400, None),
        (URLENCODED, b"&".join(b"f%d=1" % n for n in range(MAX_FIELDS + 1)), 400, None),
    ],
)
def test_anything_else_is_refused_naming_the_field(
    content_type: str, body: bytes, status: int, field: str | None
) -> None:
    problem = refusal(content_type, body)
    assert problem.status == status
    if field is not None:
        assert [e.field for e in problem.errors] == [field]


def test_a_field_sent_twice_alike_is_one_value() -> None:
    assert single(parse_form(URLENCODED, b"a=1&a=1"), "a") == "1"
    assert single(parse_form(URLENCODED, b"b=1"), "a") is None
