"""HTML form bodies as names and values: `application/x-www-form-urlencoded` and
`multipart/form-data` (RFC 7578), the two encodings RFC 8058 lets a mailbox provider use.

Parsed with the standard library (urllib.parse for the first, the email package's MIME parser
for the second): nothing hand-written. A refusal says which part of the body is wrong; fields
nobody asked for are kept and left to the caller, which ignores them.
"""

from __future__ import annotations

import codecs
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from urllib.parse import parse_qsl

from shared.http import problems
from shared.http.body import NUL_REASON

MAX_FIELDS = 50
"""An unsubscribe or preference body has a handful of fields; past this it is not one."""
URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"
_TEXT_PLAIN = "text/plain"

Fields = dict[str, list[str]]


def media_type(content_type: str | None) -> tuple[str, dict[str, str]]:
    """The media type in lower case and its parameters (`charset`, `boundary`)."""
    kind, _, rest = (content_type or "").partition(";")
    params: dict[str, str] = {}
    for part in rest.split(";"):
        name, sep, value = part.partition("=")
        if sep:
            params[name.strip().lower()] = value.strip().strip('"')
    return kind.strip().lower(), params


def parse_form(content_type: str | None, body: bytes) -> Fields:
    """Name -> values of a form body; a Problem (400, 415 or 422) when it is not one.

    A body without a Content-Type, or sent as text/plain, is read as URL-encoded: a client
    that forgot the header still said what it meant in the body.
    """
    kind, params = media_type(content_type)
    if kind in ("", URLENCODED, _TEXT_PLAIN):
        fields = _urlencoded(body, params.get("charset") or "utf-8")
    elif kind == MULTIPART:
        fields = _multipart(content_type or "", body)
    else:
        raise problems.unsupported_media(
            f"Content-Type must be {URLENCODED} or {MULTIPART}, not {kind!r}"
        )
    for name, values in fields.items():
        if "\x00" in name or any("\x00" in value for value in values):
            field = name.replace("\x00", "\\u0000")
            raise problems.invalid(
                "the form holds a NUL character", [problems.FieldError(field, NUL_REASON)]
            )
    return fields


def _urlencoded(body: bytes, charset: str) -> Fields:
    try:
        codecs.lookup(charset)
    except LookupError:
        raise problems.unsupported_media(f"unknown charset {charset!r}") from None
    try:
        text = body.decode("ascii")  # the encoding itself is ASCII; the charset is for %XX
        pairs = parse_qsl(
            text.strip(),
            keep_blank_values=True,
            encoding=charset,
            errors="strict",
            max_num_fields=MAX_FIELDS,
        )
    except UnicodeError:
        raise problems.bad_request(
            f"the form body is not URL-encoded {charset} text (non-ASCII bytes or escapes)"
        ) from None
    except ValueError:  # more than MAX_FIELDS
        raise problems.bad_request(f"the form has more than {MAX_FIELDS} fields") from None
    fields: Fields = {}
    for name, value in pairs:
        fields.setdefault(name.strip(), []).append(value.strip())
    return fields


def _multipart(content_type: str, body: bytes) -> Fields:
    if not media_type(content_type)[1].get("boundary"):
        raise problems.bad_request("multipart/form-data without a boundary parameter")
    try:
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("ascii")
    except UnicodeError:
        raise problems.bad_request("the Content-Type header is not ASCII") from None
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        raise problems.bad_request("the multipart/form-data body has no parts")
    fields: Fields = {}
    for number, part in enumerate(message.iter_parts()):
        if number >= MAX_FIELDS:
            raise problems.bad_request(f"the form has more than {MAX_FIELDS} fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue  # a part without a field name carries nothing a form field could
        raw = part.get_payload(decode=True)
        payload = raw if isinstance(raw, bytes) else b""
        charset = part.get_content_charset() or "utf-8"
        try:
            value = payload.decode(charset)
        except (LookupError, UnicodeError):
            raise problems.invalid(
                "a form field is not text",
                [problems.FieldError(name, f"not decodable as {charset}")],
            ) from None
        fields.setdefault(name.strip(), []).append(value.strip())
    return fields


def single(fields: Fields, name: str) -> str | None:
    """The field's value; a 422 naming it when it was sent more than once, differently."""
    values = fields.get(name)
    if not values:
        return None
    if len(set(values)) > 1:
        raise problems.invalid(
            f"{name} was sent more than once",
            [problems.FieldError(name, "give one value")],
        )
    return values[0]
